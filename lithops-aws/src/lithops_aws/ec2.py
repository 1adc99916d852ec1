"""``aws_ec2``: EC2 instances as standalone VMs (:class:`lithops.vm.VMProvider`).

What it makes, and how it finds it again:

* Instances carry the tags ``lithops:managed-by=lithops-aws`` and ``lithops:exec-mode``
  (``create`` or ``reuse``); reuse mode lists only ``reuse`` instances of the workers' VPC, so
  it never picks up what a create-mode executor will terminate.
* Create-mode instances shut down into ``terminate`` when ``delete_on_dismantle`` (the default),
  reuse-mode ones into ``stop``: an agent that dismantles itself after its idle timeout runs
  ``sudo shutdown -h now`` and the instance ends the way the user chose, with no cloud
  credentials on the VM.
* Without ``ssh_key_name`` the public half of ``ssh_key_filename`` (or of a key made under
  ``~/.lithops/aws_ec2``) is imported as key pair ``lithops-<digest>``.
* Without ``security_group_id`` a group ``lithops-ssh`` is made in the VPC that admits SSH from
  the VPC's own address ranges only. Nothing here opens a port to the internet: to reach the
  workers from outside the VPC, name a group whose rules admit your address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lithops.errors import BackendUnavailableError, ConfigError
from lithops.vm import VMInstance, VMSpec
from lithops_aws.ec2_config import Ec2Settings, ensure_default_key, public_key_of
from lithops_aws.session import make_client, make_session, region_of

__all__ = ["MANAGED_TAG", "MODE_TAG", "Ec2Error", "Ec2Provider"]

logger = logging.getLogger(__name__)

MANAGED_TAG = ("lithops:managed-by", "lithops-aws")
MODE_TAG = "lithops:exec-mode"
SECURITY_GROUP_NAME = "lithops-ssh"
#: Canonical's account: the default image is its newest Ubuntu 22.04 (as Lithops picks).
UBUNTU_OWNER = "099720109477"
UBUNTU_IMAGES = "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"

_STATES = {
    "pending": "pending",
    "running": "running",
    "stopping": "stopped",
    "stopped": "stopped",
    "shutting-down": "terminated",
    "terminated": "terminated",
}
_ENDED = ("stopping", "stopped", "shutting-down", "terminated")
#: error-code prefix -> the setting that fixes it
_HINTS = {
    "InvalidAMIID": "check aws_ec2.target_ami (an image of this region)",
    "InvalidKeyPair": "check aws_ec2.ssh_key_name",
    "InvalidSubnet": "check aws_ec2.public_subnet_id",
    "InvalidGroup": "check aws_ec2.security_group_id",
    "InvalidVpcID": "check aws_ec2.vpc_id",
    "InvalidInstanceID": "check aws_ec2.instance_id",
    "InvalidParameterValue": "check the aws_ec2 settings named in the message",
    "InsufficientInstanceCapacity": "try another aws_ec2.worker_instance_type or region",
    "InstanceLimitExceeded": "lower aws_ec2.max_workers or raise the account's EC2 quota",
    "UnauthorizedOperation": "the credentials in use lack this EC2 permission",
    "AuthFailure": "check the aws section's access_key_id/secret_access_key",
}


# Spelled here: inside the class, ``list`` is the VMProvider method.
_Instances = list[dict[str, Any]]
_Ids = list[str]
_VMs = list[VMInstance]


class Ec2Error(BackendUnavailableError):
    """EC2 refused a request or could not be reached; the message names what to change."""


@dataclass(frozen=True)
class _Network:
    vpc_id: str
    subnet_id: str
    security_group_id: str


class Ec2Provider:
    """Creates, finds, starts, stops and terminates the EC2 instances of standalone mode."""

    name = "aws_ec2"

    def __init__(self, config: dict[str, Any] | Any) -> None:
        self.settings = Ec2Settings.from_config(dict(config))
        session = make_session(self.settings.aws)
        self.region = region_of(session)
        self._ec2 = make_client(
            session, "ec2", self.settings.aws, retries={"max_attempts": 6, "mode": "standard"}
        )
        self._network: _Network | None = None
        self._login: tuple[str, str] | None = None
        # Consume mode: the user's instance stops only when the user says so.
        self.self_stop_command: str | None = (
            None if self.settings.exec_mode == "consume" else "sudo -n shutdown -h now"
        )

    # -- VMProvider ------------------------------------------------------------------------

    def create(self, spec: VMSpec, count: int) -> Sequence[VMInstance]:
        s = self.settings
        net = self.network()
        key_name, _ = self.login()
        mode = "reuse" if s.exec_mode == "reuse" else "create"
        ends_as = "terminate" if mode == "create" and s.delete_on_dismantle else "stop"
        tags = [
            {"Key": "Name", "Value": spec.name},
            {"Key": MANAGED_TAG[0], "Value": MANAGED_TAG[1]},
            {"Key": MODE_TAG, "Value": mode},
        ]
        request: dict[str, Any] = {
            "ImageId": s.target_ami or self._default_image(),
            "InstanceType": spec.instance_type or s.worker_instance_type,
            "MinCount": count,
            "MaxCount": count,
            "KeyName": key_name,
            "InstanceInitiatedShutdownBehavior": ends_as,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if s.use_private_ip:
            request["SubnetId"] = net.subnet_id
            request["SecurityGroupIds"] = [net.security_group_id]
        else:
            request["NetworkInterfaces"] = [
                {
                    "DeviceIndex": 0,
                    "SubnetId": net.subnet_id,
                    "Groups": [net.security_group_id],
                    "AssociatePublicIpAddress": True,
                    "DeleteOnTermination": True,
                }
            ]
        if s.instance_role:
            request["IamInstanceProfile"] = {"Name": s.instance_role}
        if s.request_spot_instances:
            request["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "one-time" if ends_as == "terminate" else "persistent",
                    "InstanceInterruptionBehavior": ends_as,
                },
            }
        made = self._call("run_instances", **request)
        ids = [i["InstanceId"] for i in made["Instances"]]
        logger.info("created EC2 instances %s (%s)", ", ".join(ids), request["InstanceType"])
        try:
            for instance_id in ids:
                self._call(
                    "create_tags",
                    Resources=[instance_id],
                    Tags=[{"Key": "Name", "Value": f"{spec.name}-{instance_id[2:10]}"}],
                )
            return self._wait_running(ids)
        except BaseException:
            self._quietly("terminate_instances", InstanceIds=ids)
            raise

    def list(self) -> Sequence[VMInstance]:
        if self.settings.exec_mode == "consume":
            assert self.settings.instance_id is not None
            return [self._vm(self._describe_one(self.settings.instance_id))]
        filters = [
            {"Name": f"tag:{MANAGED_TAG[0]}", "Values": [MANAGED_TAG[1]]},
            {"Name": f"tag:{MODE_TAG}", "Values": ["reuse"]},
            {"Name": "vpc-id", "Values": [self.network().vpc_id]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
        found = [self._vm(i) for i in self._describe(Filters=filters)]
        order = {"running": 0, "pending": 1, "stopped": 2}
        return sorted(found, key=lambda vm: (order.get(vm.state, 3), vm.id))

    def start(self, vm_id: str) -> VMInstance:
        if self._describe_one(vm_id)["State"]["Name"] == "stopping":
            self._wait(vm_id, lambda i: i["State"]["Name"] != "stopping", "to stop")
        self._call("start_instances", InstanceIds=[vm_id])
        return self._wait_running([vm_id])[0]

    def stop(self, vm_id: str) -> None:
        self._quietly("stop_instances", InstanceIds=[vm_id])

    def delete(self, vm_id: str) -> None:
        if self.settings.delete_on_dismantle:
            self._quietly("terminate_instances", InstanceIds=[vm_id])
        else:
            self.stop(vm_id)

    # -- what the instances need -------------------------------------------------------------

    def network(self) -> _Network:
        """VPC, subnet and security group of the workers (found or made once)."""
        if self._network is None:
            s = self.settings
            if s.public_subnet_id:
                subnet = self._call("describe_subnets", SubnetIds=[s.public_subnet_id])
                subnet_id, vpc_id = s.public_subnet_id, subnet["Subnets"][0]["VpcId"]
                if s.vpc_id and s.vpc_id != vpc_id:
                    raise ConfigError(
                        f"aws_ec2.public_subnet_id {subnet_id} belongs to {vpc_id}, not to "
                        f"aws_ec2.vpc_id {s.vpc_id}; fix one of the two"
                    )
            else:
                vpc_id = s.vpc_id or self._default_vpc()
                subnet_id = self._some_subnet(vpc_id)
            group = s.security_group_id or self._ssh_group(vpc_id)
            self._network = _Network(vpc_id, subnet_id, group)
        return self._network

    def login(self) -> tuple[str, str]:
        """The key pair name the instances get, and the private key file that logs in."""
        if self._login is None:
            s = self.settings
            if s.ssh_key_name:
                if not s.ssh_key_filename:
                    raise ConfigError(
                        f"aws_ec2.ssh_key_name is {s.ssh_key_name!r} but ssh_key_filename is "
                        f"not set: set it to that key pair's private key file"
                    )
                self._login = (s.ssh_key_name, s.ssh_key_filename)
            else:
                path = s.ssh_key_filename or str(ensure_default_key())
                public, name = public_key_of(path)
                try:
                    self._ec2.describe_key_pairs(KeyNames=[name])
                except ClientError as exc:
                    if not _code(exc).startswith("InvalidKeyPair"):
                        raise self._error("describe_key_pairs", exc) from exc
                    self._call("import_key_pair", KeyName=name, PublicKeyMaterial=public.encode())
                    logger.info("imported %s as EC2 key pair %s", path, name)
                self._login = (name, path)
        return self._login

    def _default_vpc(self) -> str:
        vpcs = self._call("describe_vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])
        if not vpcs["Vpcs"]:
            raise ConfigError(
                f"region {self.region} has no default VPC; set aws_ec2.vpc_id and "
                f"aws_ec2.public_subnet_id"
            )
        return str(vpcs["Vpcs"][0]["VpcId"])

    def _some_subnet(self, vpc_id: str) -> str:
        subnets = self._call("describe_subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        if not subnets["Subnets"]:
            raise ConfigError(f"VPC {vpc_id} has no subnet; set aws_ec2.public_subnet_id")
        best = sorted(
            subnets["Subnets"],
            key=lambda n: (
                not n.get("DefaultForAz"),
                not n.get("MapPublicIpOnLaunch"),
                n["SubnetId"],
            ),
        )
        return str(best[0]["SubnetId"])

    def _ssh_group(self, vpc_id: str) -> str:
        existing = self._call(
            "describe_security_groups",
            Filters=[
                {"Name": "group-name", "Values": [SECURITY_GROUP_NAME]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ],
        )["SecurityGroups"]
        if existing:
            return str(existing[0]["GroupId"])
        vpc = self._call("describe_vpcs", VpcIds=[vpc_id])["Vpcs"][0]
        ranges = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet") or []] or [
            vpc["CidrBlock"]
        ]
        group = self._call(
            "create_security_group",
            GroupName=SECURITY_GROUP_NAME,
            Description="lithops workers: SSH from inside the VPC only",
            VpcId=vpc_id,
        )["GroupId"]
        self._call(
            "authorize_security_group_ingress",
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": r, "Description": "lithops: the VPC"} for r in ranges],
                }
            ],
        )
        if not self.settings.use_private_ip:
            logger.warning(
                "security group %s admits SSH from VPC %s only (%s); to reach the workers from "
                "this machine, add an inbound rule for your address to it or set "
                "aws_ec2.security_group_id",
                group,
                vpc_id,
                ", ".join(ranges),
            )
        return str(group)

    def _default_image(self) -> str:
        images = self._call(
            "describe_images",
            Owners=[UBUNTU_OWNER],
            Filters=[
                {"Name": "name", "Values": [UBUNTU_IMAGES]},
                {"Name": "state", "Values": ["available"]},
            ],
        )["Images"]
        if not images:
            raise ConfigError(
                f"no Ubuntu 22.04 image of Canonical found in {self.region}; set "
                f"aws_ec2.target_ami to an image id"
            )
        newest = max(images, key=lambda i: i.get("CreationDate", ""))
        return str(newest["ImageId"])

    # -- describing and waiting ----------------------------------------------------------------

    def _vm(self, instance: dict[str, Any]) -> VMInstance:
        _, key_filename = self.login()
        return VMInstance(
            id=instance["InstanceId"],
            address=self._address(instance) or "",
            user=self.settings.ssh_username,
            key_filename=key_filename,
            state=_STATES.get(instance["State"]["Name"], "pending"),
            worker_processes=self.settings.worker_processes,
        )

    def _address(self, instance: dict[str, Any]) -> str | None:
        if self.settings.use_private_ip:
            return instance.get("PrivateIpAddress") or None
        return instance.get("PublicIpAddress") or instance.get("PublicDnsName") or None

    def _describe(self, **query: Any) -> _Instances:
        found: _Instances = []
        paginator = self._ec2.get_paginator("describe_instances")
        try:
            for page in paginator.paginate(**query):
                for reservation in page["Reservations"]:
                    found.extend(reservation["Instances"])
        except (ClientError, BotoCoreError) as exc:
            raise self._error("describe_instances", exc) from exc
        return found

    def _describe_one(self, vm_id: str) -> dict[str, Any]:
        found = self._describe(InstanceIds=[vm_id])
        if not found:
            raise Ec2Error(f"instance {vm_id} does not exist in {self.region}")
        return found[0]

    def _wait_running(self, ids: _Ids) -> _VMs:
        deadline = time.monotonic() + self.settings.start_timeout
        pause = 0.2
        while True:
            try:
                found = {i["InstanceId"]: i for i in self._describe(InstanceIds=ids)}
            except Ec2Error as exc:
                # A new instance may not be visible to describe calls yet.
                if "InvalidInstanceID.NotFound" not in str(exc):
                    raise
                found = {}
            ready = [found.get(i) for i in ids]
            if all(i is not None and i["State"]["Name"] == "running" for i in ready):
                missing = [i["InstanceId"] for i in ready if i and not self._address(i)]
                if not missing:
                    return [self._vm(i) for i in ready if i is not None]
                if not self.settings.use_private_ip:
                    raise Ec2Error(
                        f"instances {', '.join(missing)} run without a public IP address; use "
                        f"a subnet that assigns one (aws_ec2.public_subnet_id), or set "
                        f"aws_ec2.use_private_ip: true when this machine is inside the VPC"
                    )
            gone = [i["InstanceId"] for i in ready if i and i["State"]["Name"] in _ENDED]
            if gone:
                raise Ec2Error(
                    f"instances {', '.join(gone)} stopped or terminated while starting; see "
                    f"their state reason in the EC2 console"
                )
            if time.monotonic() > deadline:
                raise Ec2Error(
                    f"instances {', '.join(ids)} were not running with an address within "
                    f"{self.settings.start_timeout:.0f} s; raise standalone.start_timeout or "
                    f"check them in the EC2 console"
                )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def _wait(self, vm_id: str, done: Callable[[dict[str, Any]], bool], what: str) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while not done(self._describe_one(vm_id)):
            if time.monotonic() > deadline:
                raise Ec2Error(f"instance {vm_id} took longer than start_timeout {what}")
            time.sleep(1.0)

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._ec2, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(operation, exc) from exc

    def _quietly(self, operation: str, **params: Any) -> None:
        """A stop or terminate of something already gone (or going) is not an error."""
        try:
            getattr(self._ec2, operation)(**params)
        except ClientError as exc:
            if _code(exc) in ("InvalidInstanceID.NotFound", "IncorrectInstanceState"):
                return
            raise self._error(operation, exc) from exc
        except BotoCoreError as exc:
            raise self._error(operation, exc) from exc

    def _error(self, operation: str, exc: Exception) -> Ec2Error:
        if isinstance(exc, ClientError):
            code = _code(exc)
            message = exc.response.get("Error", {}).get("Message", "")
            hint = next((h for prefix, h in _HINTS.items() if code.startswith(prefix)), "")
            return Ec2Error(
                f"EC2 {operation} failed in {self.region}: {code}: {message}"
                + (f"; {hint}" if hint else "")
            )
        return Ec2Error(
            f"cannot use EC2 in {self.region} ({type(exc).__name__}: {exc}); check the aws "
            f"section (region, credentials) and aws_ec2.endpoint / AWS_ENDPOINT_URL"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
