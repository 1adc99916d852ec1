"""aws_ec2 against moto's real EC2 API, with instances that "boot" as SSH test hosts.

moto's instances are records: they never run, and their public addresses look real, so nothing
here connects to an address moto made up. Instead each test creates a VPC and subnet whose CIDR
is the subnet of a docker test network of its own, and :class:`Hypervisor` plays the cloud:
when moto reports an instance of that VPC running, it starts an SSH test host container at the
private IP EC2 assigned the instance; stopping the instance stops the container (its disk is
kept), starting it starts the container again, terminating it removes the container. The
provider under test is the production code path, unchanged: it connects by private IP
(``use_private_ip``) as a client inside the VPC would. A container's name (= its hostname) ends
in its instance id, so a function returning ``socket.gethostname()`` says which instance ran it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from testbed import (
    DockerEngine,
    MotoServer,
    SshHost,
    SshHostFactory,
    TestbedUnavailable,
    ensure_client_key,
)

import lithops
from lithops.errors import BackendUnavailableError, ConfigError
from lithops.vm import VMSpec
from lithops_aws.ec2 import MANAGED_TAG, MODE_TAG, SECURITY_GROUP_NAME, Ec2Provider

pytestmark = [pytest.mark.ssh, pytest.mark.docker]

#: One of the images moto's EC2 knows (Canonical's Ubuntu 16.04); the hosts are Debian anyway.
AMI = "ami-785db401"
_POLL_S = 0.1


def where(x: int) -> tuple[int, str]:
    time.sleep(0.3)  # long enough that one host cannot take every call before the other starts
    return x * x, socket.gethostname()


class Hypervisor:
    """Runs moto's instances of one VPC as SSH test hosts at their private IPs."""

    def __init__(self, factory: SshHostFactory, ec2: Any, vpc_id: str) -> None:
        self.factory = factory
        self.ec2 = ec2
        self.vpc_id = vpc_id
        self.hosts: dict[str, SshHost] = {}
        self.removed: set[str] = set()
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ec2-hypervisor", daemon=True)
        self._thread.start()

    def host_name(self, instance_id: str) -> str:
        return f"lithops-test-{self.factory.session}-{instance_id}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except BaseException as exc:  # reported by close(): a test must not pass on it
                self.errors.append(exc)
                return
            self._stop.wait(_POLL_S)

    def _step(self) -> None:
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    self._follow(instance["InstanceId"], instance["State"]["Name"], instance)

    def _follow(self, instance_id: str, state: str, instance: dict[str, Any]) -> None:
        host = self.hosts.get(instance_id)
        if state in ("pending", "running"):
            if host is None:
                self.hosts[instance_id] = self.factory.make(
                    name=self.host_name(instance_id), address=instance["PrivateIpAddress"]
                )
            elif not host.is_running():
                host.container.start()
                host.wait_ready()
        elif state in ("stopping", "stopped"):
            if host is not None and host.is_running():
                host.container.stop(timeout=1)
        elif state in ("shutting-down", "terminated") and host and instance_id not in self.removed:
            host.container.remove(force=True)
            self.removed.add(instance_id)

    def running(self) -> set[str]:
        """Instance ids whose container runs now."""
        return {i for i, h in self.hosts.items() if i not in self.removed and h.is_running()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.errors:
            raise self.errors[0]


@dataclass
class Cloud:
    """A VPC of moto's EC2 whose instances boot, and the settings that reach it."""

    ec2: Any
    vpc_id: str
    subnet_id: str
    hypervisor: Hypervisor
    key_filename: str

    def config(self, **ec2: Any) -> dict[str, Any]:
        section = {
            "vpc_id": self.vpc_id,
            "public_subnet_id": self.subnet_id,
            "target_ami": AMI,
            "ssh_username": "lithops",
            "ssh_key_filename": self.key_filename,
            "use_private_ip": True,
            "worker_processes": 2,
            **ec2,
        }
        return {
            "lithops": {"backend": "aws_ec2"},
            "aws": {"region": "us-east-1"},
            "aws_ec2": section,
            "standalone": {"start_timeout": 120},
        }

    def instances(self, *states: str) -> dict[str, dict[str, Any]]:
        filters = [{"Name": "vpc-id", "Values": [self.vpc_id]}]
        if states:
            filters.append({"Name": "instance-state-name", "Values": list(states)})
        found = {}
        for reservation in self.ec2.describe_instances(Filters=filters)["Reservations"]:
            for instance in reservation["Instances"]:
                found[instance["InstanceId"]] = instance
        return found

    def wait_until(self, predicate: Any, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(_POLL_S)
        return bool(predicate())


@pytest.fixture
def cloud(aws_env: MotoServer, docker_engine: DockerEngine, tmp_path: Path) -> Iterator[Cloud]:
    factory = SshHostFactory(docker_engine)
    try:
        subnet = str(factory.network.subnet)
    except TestbedUnavailable as exc:
        factory.close()
        pytest.skip(str(exc))
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws_env.endpoint)
    vpc_id = ec2.create_vpc(CidrBlock=subnet)["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet)["Subnet"]["SubnetId"]
    # Only the private key, as many users keep it: the provider derives the public half.
    key = tmp_path / "worker-key"
    shutil.copy(ensure_client_key().private_path, key)
    key.chmod(0o600)
    hypervisor = Hypervisor(factory, ec2, vpc_id)
    try:
        yield Cloud(ec2, vpc_id, subnet_id, hypervisor, str(key))
    finally:
        try:
            hypervisor.close()
        finally:
            left = list(Cloud(ec2, vpc_id, subnet_id, hypervisor, "").instances())
            if left:
                ec2.terminate_instances(InstanceIds=left)
            factory.close()


def _hostnames(results: list[tuple[int, str]]) -> set[str]:
    return {name for _, name in results}


def test_create_mode_two_instances_run_a_map_and_dismantle_terminates_them(cloud: Cloud) -> None:
    config = cloud.config(exec_mode="create", max_workers=2)
    config["standalone"]["auto_dismantle"] = False  # so that dismantle() alone terminates
    fexec = lithops.FunctionExecutor(config=config)
    assert (fexec.backend, fexec.mode) == ("aws_ec2", "standalone")
    results = fexec.get_result(fexec.map(where, range(12)))
    assert [value for value, _ in results] == [i * i for i in range(12)]

    made = cloud.instances("running")
    assert len(made) == 2
    assert _hostnames(results) == {cloud.hypervisor.host_name(i) for i in made}
    for instance in made.values():
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags[MANAGED_TAG[0]] == MANAGED_TAG[1] and tags[MODE_TAG] == "create"
        assert tags["Name"].startswith("lithops-worker-")
        assert "InstanceLifecycle" not in instance  # on-demand, not spot
        behaviour = cloud.ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    # The key pair was imported from the private key's public half.
    key_names = {i["KeyName"] for i in made.values()}
    assert len(key_names) == 1
    pairs = cloud.ec2.describe_key_pairs(KeyNames=list(key_names))["KeyPairs"]
    assert pairs and pairs[0]["KeyName"].startswith("lithops-")
    # No port open to the world: the group made for the workers admits the VPC only.
    group_ids = {g["GroupId"] for i in made.values() for g in i["SecurityGroups"]}
    groups = cloud.ec2.describe_security_groups(GroupIds=list(group_ids))["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == [SECURITY_GROUP_NAME]
    ranges = [r["CidrIp"] for p in groups[0]["IpPermissions"] for r in p["IpRanges"]]
    vpc = cloud.ec2.describe_vpcs(VpcIds=[cloud.vpc_id])["Vpcs"][0]
    assert ranges == [vpc["CidrBlock"]]

    fexec.dismantle()
    assert set(cloud.instances("terminated")) == set(made)
    assert cloud.wait_until(lambda: not cloud.hypervisor.running())
    fexec.close()  # closing a dismantled executor is fine


def test_create_mode_closing_with_auto_dismantle_terminates_the_instances(cloud: Cloud) -> None:
    with lithops.FunctionExecutor(config=cloud.config(exec_mode="create")) as fexec:
        assert fexec.call_async(where, 3).result()[0] == 9
        made = set(cloud.instances("running"))
        assert len(made) == 1
    assert set(cloud.instances("terminated")) == made


def test_reuse_mode_finds_idle_tagged_instances_and_stops_them_on_dismantle(cloud: Cloud) -> None:
    # An instance a create-mode executor owns is never taken by reuse mode.
    foreign = cloud.ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        SubnetId=cloud.subnet_id,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": MANAGED_TAG[0], "Value": MANAGED_TAG[1]},
                    {"Key": MODE_TAG, "Value": "create"},
                ],
            }
        ],
    )["Instances"][0]["InstanceId"]
    config = cloud.config(exec_mode="reuse")

    with lithops.FunctionExecutor(config=config) as fexec:
        first = _hostnames(fexec.get_result(fexec.map(where, range(4))))
    made = set(cloud.instances("running")) - {foreign}
    assert len(made) == 1
    (worker,) = made
    assert first == {cloud.hypervisor.host_name(worker)}
    # Closing left it running (its agent idles out and stops it): the next executor reuses it.
    with lithops.FunctionExecutor(config=config) as fexec:
        again = _hostnames(fexec.get_result(fexec.map(where, range(4))))
        assert again == first
        assert set(cloud.instances()) == {worker, foreign}  # nothing new was created
        fexec.dismantle()
    assert set(cloud.instances("stopped")) == {worker}

    # A stopped lithops instance is started again, with what was bootstrapped on its disk.
    fexec = lithops.FunctionExecutor(config=config)
    try:
        assert _hostnames(fexec.get_result(fexec.map(where, range(2)))) == first
        assert set(cloud.instances("running")) == {worker, foreign}
    finally:
        fexec.dismantle()
    assert set(cloud.instances("stopped")) == {worker}


def test_consume_mode_runs_on_the_named_instance_and_never_stops_it(cloud: Cloud) -> None:
    mine = cloud.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=cloud.subnet_id)[
        "Instances"
    ][0]["InstanceId"]
    fexec = lithops.FunctionExecutor(
        config=cloud.config(exec_mode="consume", instance_id=mine, auto_dismantle=True)
    )
    results = fexec.get_result(fexec.map(where, range(4)))
    assert _hostnames(results) == {cloud.hypervisor.host_name(mine)}
    fexec.dismantle()
    assert set(cloud.instances("running")) == {mine}
    assert set(cloud.instances()) == {mine}


def test_backend_or_standalone_section_selects_standalone_on_ec2(aws_env: MotoServer) -> None:
    by_backend = lithops.FunctionExecutor(backend="aws_ec2", config={"aws_ec2": {}})
    by_mode = lithops.FunctionExecutor(
        mode="standalone", config={"standalone": {"backend": "aws_ec2"}}
    )
    for fexec in (by_backend, by_mode):
        assert (fexec.backend, fexec.mode) == ("aws_ec2", "standalone")
        assert fexec.config["standalone"]["backend"] == "aws_ec2"
        fexec.close()


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"exec_mod": "create"}, "unknown key 'exec_mod'.*Did you mean 'exec_mode'"),
        ({"exec_mode": "creat"}, "'exec_mode' in the 'aws_ec2' section.*Did you mean 'create'"),
        ({"max_workers": "two"}, "'max_workers' in the 'aws_ec2' section.*whole number"),
        ({"worker_processes": 0}, "'worker_processes' in the 'aws_ec2' section"),
        ({"use_private_ip": "yes"}, "'use_private_ip' in the 'aws_ec2' section.*true or false"),
    ],
)
def test_a_bad_key_or_value_fails_when_the_executor_is_created(
    aws_env: MotoServer, section: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        lithops.FunctionExecutor(config={"lithops": {"backend": "aws_ec2"}, "aws_ec2": section})


@pytest.mark.parametrize(
    ("section", "error", "match"),
    [
        ({"exec_mode": "consume"}, ConfigError, "aws_ec2.instance_id is not set"),
        (
            {"exec_mode": "create", "public_subnet_id": "subnet-0000000000000dead"},
            BackendUnavailableError,
            "InvalidSubnetID.*aws_ec2.public_subnet_id",
        ),
        (
            {"exec_mode": "consume", "instance_id": "i-0000000000000dead"},
            BackendUnavailableError,
            "InvalidInstanceID.*aws_ec2.instance_id",
        ),
    ],
)
def test_what_only_ec2_can_tell_is_a_clear_error_before_any_instance_runs(
    cloud: Cloud, section: dict[str, Any], error: type[Exception], match: str
) -> None:
    with (
        lithops.FunctionExecutor(config=cloud.config(**section)) as fexec,
        pytest.raises(error, match=match),
    ):
        fexec.get_result(fexec.map(where, range(2)))
    assert not cloud.instances("pending", "running")


def test_default_network_admits_ssh_from_the_vpc_only(
    aws_env: MotoServer, lithops_home: Path
) -> None:
    provider = Ec2Provider({"region": "us-east-1", "exec_mode": "create"})
    net = provider.network()
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws_env.endpoint)
    vpc = ec2.describe_vpcs(VpcIds=[net.vpc_id])["Vpcs"][0]
    assert vpc["IsDefault"]
    group = ec2.describe_security_groups(GroupIds=[net.security_group_id])["SecurityGroups"][0]
    rules = [r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]]
    assert rules == [vpc["CidrBlock"]] and "0.0.0.0/0" not in rules
    # Found again, not made twice.
    assert Ec2Provider({"region": "us-east-1"}).network().security_group_id == group["GroupId"]
    # No key named: one is made under ~/.lithops and imported once.
    name, path = provider.login()
    assert Path(path).is_relative_to(lithops_home)
    assert ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]


def test_spot_public_address_and_stop_instead_of_terminate_when_asked(
    aws_env: MotoServer, lithops_home: Path
) -> None:
    # Records only (no host boots here): the address moto gives is never connected to.
    settings = {"region": "us-east-1", "exec_mode": "create", "target_ami": AMI}
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws_env.endpoint)

    def instance(vm_id: str) -> dict[str, Any]:
        return dict(ec2.describe_instances(InstanceIds=[vm_id])["Reservations"][0]["Instances"][0])

    spot = Ec2Provider({**settings, "request_spot_instances": True})
    (vm,) = spot.create(VMSpec(name="lithops-worker"), 1)
    made = instance(vm.id)
    assert made["InstanceLifecycle"] == "spot"
    assert vm.address == made["PublicIpAddress"] != made["PrivateIpAddress"]
    spot.delete(vm.id)
    assert instance(vm.id)["State"]["Name"] == "terminated"

    kept = Ec2Provider({**settings, "delete_on_dismantle": False})
    (vm,) = kept.create(VMSpec(name="lithops-worker"), 1)
    assert "InstanceLifecycle" not in instance(vm.id)
    behaviour = ec2.describe_instance_attribute(
        InstanceId=vm.id, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    kept.delete(vm.id)
    assert instance(vm.id)["State"]["Name"] == "stopped"
    ec2.terminate_instances(InstanceIds=[vm.id])
