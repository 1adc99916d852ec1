"""gcp_compute against a FAKE of the Compute Engine API whose instances boot as SSH test hosts.

Compute Engine has no emulator: ``fake_compute.FakeComputeEngine`` speaks the REST shapes
``google-cloud-compute`` uses (what the fake checks and what it does not is said there), and its
instances run as SSH test host containers at the instance's ``networkIP`` in a docker test
network of this test's own, whose subnet is the fake's subnetwork. Like Google's guest agent,
the fake installs the keys of the ``ssh-keys`` metadata item when an instance boots: the
provider logs in with a key of this test's own (not the testbed's), so a login proves that the
key travelled in the metadata, for the default user ``ubuntu`` the image does not have. The
provider is the production code path and connects by internal IP (``use_private_ip``), as a
client inside the network would. A container's hostname ends in its instance name, so a
function returning ``socket.gethostname()`` says which instance ran it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_compute import FakeComputeEngine, SshMachines
from testbed import DockerEngine, SshHostFactory, TestbedUnavailable

import lithops
from lithops.errors import BackendUnavailableError, ConfigError
from lithops.vm import VMSpec
from lithops_gcp.compute import MANAGED_LABEL, MODE_LABEL, NETWORK_TAG, GceError, GceProvider
from lithops_gcp.compute_config import public_key_of

pytestmark = [pytest.mark.ssh, pytest.mark.docker]

PROJECT = "lithops-test"
REGION = "us-east1"
ZONE = "us-east1-b"


def where(x: int) -> tuple[int, str]:
    time.sleep(0.3)  # long enough that one host cannot take every call before the other starts
    return x * x, socket.gethostname()


def _new_key(path: Path) -> str:
    """A private key of this test's own (OpenSSH ed25519, no ``.pub`` beside it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.write_bytes(key)
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def gce_env(lithops_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # google-auth never probes the metadata server
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(lithops_home / "no-gcloud-config"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return lithops_home


@dataclass
class Cloud:
    """The fake Compute Engine with booting instances, and the settings that reach it."""

    fake: FakeComputeEngine
    machines: SshMachines
    key_filename: str

    def config(self, section: str = "gcp_compute", **compute: Any) -> dict[str, Any]:
        return {
            "lithops": {"backend": section},
            "gcp": {"project_name": PROJECT, "region": REGION},
            section: {
                "api_endpoint": self.fake.endpoint,
                "ssh_key_filename": self.key_filename,
                "use_private_ip": True,
                "worker_processes": 2,
                **compute,
            },
            "standalone": {"start_timeout": 120},
        }

    def instances(self, *statuses: str) -> dict[str, dict[str, Any]]:
        return self.fake.in_zone(ZONE, *statuses)

    def wait_until(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return bool(predicate())


@pytest.fixture
def cloud(gce_env: Path, docker_engine: DockerEngine, tmp_path: Path) -> Iterator[Cloud]:
    factory = SshHostFactory(docker_engine)
    try:
        subnet = str(factory.network.subnet)
    except TestbedUnavailable as exc:
        factory.close()
        if os.environ.get("CI") == "true":  # CI never passes by skipping
            pytest.fail(f"testbed component unavailable in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    machines = SshMachines(factory)
    fake = FakeComputeEngine(PROJECT, REGION, subnet, machines)
    try:
        yield Cloud(fake, machines, _new_key(tmp_path / "worker-key"))
    finally:
        try:
            fake.stop()
        finally:
            factory.close()
    assert not fake.errors, f"the fake failed: {fake.errors!r}"


@pytest.fixture
def records(gce_env: Path) -> Iterator[FakeComputeEngine]:
    """The fake without machines: instances are records only, never connected to."""
    fake = FakeComputeEngine(PROJECT, REGION, "10.213.251.0/24")
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.errors, f"the fake failed: {fake.errors!r}"


def _hostnames(results: list[tuple[int, str]]) -> set[str]:
    return {name for _, name in results}


def _metadata(instance: dict[str, Any]) -> dict[str, str]:
    return {i["key"]: i["value"] for i in instance["metadata"].get("items") or []}


def test_create_mode_two_instances_run_a_map_and_dismantle_deletes_them(cloud: Cloud) -> None:
    config = cloud.config(exec_mode="create", max_workers=2)
    config["standalone"]["auto_dismantle"] = False  # so that dismantle() alone deletes
    fexec = lithops.FunctionExecutor(config=config)
    assert (fexec.backend, fexec.mode) == ("gcp_compute", "standalone")
    results = fexec.get_result(fexec.map(where, range(12)))
    assert [value for value, _ in results] == [i * i for i in range(12)]

    made = cloud.instances("RUNNING")
    assert len(made) == 2
    assert _hostnames(results) == {cloud.machines.host_name(name) for name in made}
    public = public_key_of(cloud.key_filename)
    for name, instance in made.items():
        assert name.startswith("lithops-worker-")
        assert instance["labels"] == {MANAGED_LABEL[0]: MANAGED_LABEL[1], MODE_LABEL: "create"}
        # The key logs in as ubuntu because it is in the metadata (the image has no ubuntu).
        assert _metadata(instance)["ssh-keys"].startswith(f"ubuntu:{public}")
        assert instance["tags"]["items"] == [NETWORK_TAG]
        assert "accessConfigs" not in instance["networkInterfaces"][0]  # no external address
        assert "scheduling" not in instance  # standard provisioning, not Spot
        assert "serviceAccounts" not in instance  # no Google credentials on the workers
    # No port open to the world: the rule made for the workers admits their subnet only.
    (rule,) = cloud.fake.firewalls.values()
    assert rule["sourceRanges"] == [str(cloud.fake.subnet)]
    assert rule["targetTags"] == [NETWORK_TAG]
    assert rule["allowed"] == [{"IPProtocol": "tcp", "ports": ["22"]}]

    fexec.dismantle()
    assert cloud.wait_until(lambda: not cloud.instances())
    assert cloud.wait_until(lambda: not cloud.machines.running())
    fexec.close()  # closing a dismantled executor is fine


def test_lithops_name_and_section_and_closing_with_auto_dismantle_deletes(cloud: Cloud) -> None:
    config = cloud.config(section="gcp_compute_engine", exec_mode="create")
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.backend == "gcp_compute"
        assert fexec.call_async(where, 3).result()[0] == 9
        assert len(cloud.instances("RUNNING")) == 1
    assert cloud.wait_until(lambda: not cloud.instances())


def test_reuse_mode_finds_idle_labelled_instances_and_stops_them_on_dismantle(
    cloud: Cloud,
) -> None:
    # An instance a create-mode executor owns is never taken by reuse mode.
    owner = GceProvider({**cloud.config(exec_mode="create")["gcp_compute"], **_gcp()})
    (foreign,) = owner.create(VMSpec(name="foreign"), 1)
    config = cloud.config(exec_mode="reuse")

    with lithops.FunctionExecutor(config=config) as fexec:
        first = _hostnames(fexec.get_result(fexec.map(where, range(4))))
    made = set(cloud.instances("RUNNING")) - {foreign.id}
    assert len(made) == 1
    (worker,) = made
    assert cloud.instances()[worker]["labels"][MODE_LABEL] == "reuse"
    assert first == {cloud.machines.host_name(worker)}
    # Closing left it running (its agent idles out and stops it): the next executor reuses it.
    with lithops.FunctionExecutor(config=config) as fexec:
        again = _hostnames(fexec.get_result(fexec.map(where, range(4))))
        assert again == first
        assert set(cloud.instances()) == {worker, foreign.id}  # nothing new was created
        fexec.dismantle()
    assert cloud.wait_until(lambda: set(cloud.instances("TERMINATED")) == {worker})

    # A stopped lithops instance is started again, with what was bootstrapped on its disk.
    fexec = lithops.FunctionExecutor(config=config)
    try:
        assert _hostnames(fexec.get_result(fexec.map(where, range(2)))) == first
        assert set(cloud.instances("RUNNING")) == {worker, foreign.id}
    finally:
        fexec.dismantle()
    assert cloud.wait_until(lambda: set(cloud.instances("TERMINATED")) == {worker})


def test_consume_mode_runs_on_the_named_instance_and_never_stops_it(cloud: Cloud) -> None:
    mine = _users_instance(cloud, "my-own-vm")
    fexec = lithops.FunctionExecutor(
        config=cloud.config(exec_mode="consume", instance_name=mine, auto_dismantle=True)
    )
    results = fexec.get_result(fexec.map(where, range(4)))
    assert _hostnames(results) == {cloud.machines.host_name(mine)}
    fexec.dismantle()
    time.sleep(0.5)  # a stop or delete would have been asked for by now
    assert set(cloud.instances("RUNNING")) == {mine}
    assert not [r for r in cloud.fake.requests if r[0] == "DELETE" or r[1].endswith("/stop")]
    # The key was there already: the metadata was left alone.
    assert not [r for r in cloud.fake.requests if r[1].endswith("/setMetadata")]


def test_consume_mode_adds_the_client_key_to_an_instance_that_lacks_it(
    cloud: Cloud, tmp_path: Path
) -> None:
    users_key = public_key_of(_new_key(tmp_path / "users-own-key"))
    mine = _users_instance(cloud, "my-keyless-vm", public_key=users_key)
    config = cloud.config(exec_mode="consume", instance_name=mine)
    with lithops.FunctionExecutor(config=config) as fexec:
        results = fexec.get_result(fexec.map(where, range(2)))
    assert _hostnames(results) == {cloud.machines.host_name(mine)}
    lines = _metadata(cloud.instances()[mine])["ssh-keys"].splitlines()
    ours = public_key_of(cloud.key_filename)
    assert lines == [f"ubuntu:{users_key}", f"ubuntu:{ours} lithops"]  # the user's key kept
    # A second client finds its key there and changes nothing.
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(where, 3).result()[0] == 9
    assert len([r for r in cloud.fake.requests if r[1].endswith("/setMetadata")]) == 1


def test_backend_name_alias_and_standalone_section_select_standalone_on_gce(
    gce_env: Path,
) -> None:
    selections = [
        lithops.FunctionExecutor(backend="gcp_compute", config={"gcp_compute": {}}),
        lithops.FunctionExecutor(backend="gcp_compute_engine"),
        lithops.FunctionExecutor(
            mode="standalone", config={"standalone": {"backend": "gcp_compute"}}
        ),
    ]
    for fexec in selections:
        assert (fexec.backend, fexec.mode) == ("gcp_compute", "standalone")
        assert fexec.config["standalone"]["backend"] == "gcp_compute"
        fexec.close()


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"exec_mod": "create"}, "unknown key 'exec_mod'.*Did you mean 'exec_mode'"),
        ({"exec_mode": "creat"}, "'exec_mode' in the 'gcp_compute' section.*Did you mean"),
        ({"max_workers": "two"}, "'max_workers' in the 'gcp_compute' section.*whole number"),
        ({"worker_processes": 0}, "'worker_processes' in the 'gcp_compute' section"),
        ({"request_spot_instances": "no"}, "'request_spot_instances'.*true or false"),
        ({"zone": 5}, "'zone' in the 'gcp_compute' section"),
    ],
)
def test_a_bad_key_or_value_fails_when_the_executor_is_created(
    gce_env: Path, section: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        lithops.FunctionExecutor(
            config={"lithops": {"backend": "gcp_compute"}, "gcp_compute": section}
        )


@pytest.mark.parametrize(
    ("section", "error", "match"),
    [
        ({"exec_mode": "consume"}, ConfigError, "gcp_compute.instance_name is not set"),
        ({"zone": "europe-west1-b"}, ConfigError, "not in region 'us-east1'"),
        (
            {"exec_mode": "create", "source_image": "projects/nobody/global/images/nothing"},
            BackendUnavailableError,
            "insert failed.*was not found.*gcp_compute.source_image",
        ),
        (
            {"exec_mode": "consume", "instance_name": "not-there"},
            BackendUnavailableError,
            "instances.get failed.*not-there.*gcp_compute.instance_name",
        ),
    ],
)
def test_what_only_compute_engine_can_tell_is_a_clear_error_before_any_instance_runs(
    records: FakeComputeEngine, section: dict[str, Any], error: type[Exception], match: str
) -> None:
    config = {
        "lithops": {"backend": "gcp_compute"},
        "gcp": {"project_name": PROJECT, "region": REGION},
        "gcp_compute": {"api_endpoint": records.endpoint, **section},
    }
    with (
        lithops.FunctionExecutor(config=config) as fexec,
        pytest.raises(error, match=match),
    ):
        fexec.get_result(fexec.map(where, range(2)))
    assert not records.in_zone(ZONE)


def test_spot_public_address_and_stop_instead_of_delete_when_asked(
    records: FakeComputeEngine,
) -> None:
    # Records only (nothing boots): the external address the fake gives is never connected to.
    settings = {**_gcp(), "api_endpoint": records.endpoint, "exec_mode": "create"}
    spot = GceProvider({**settings, "request_spot_instances": True})
    (vm,) = spot.create(VMSpec(name="lithops-worker"), 1)
    made = records.instance(vm.id, ZONE)
    assert made is not None
    assert made["scheduling"]["provisioningModel"] == "SPOT"
    assert made["scheduling"]["instanceTerminationAction"] == "DELETE"
    nat = made["networkInterfaces"][0]["accessConfigs"][0]
    assert nat["type"] == "ONE_TO_ONE_NAT"
    assert vm.address == nat["natIP"] != made["networkInterfaces"][0]["networkIP"]
    spot.delete(vm.id)
    assert _eventually(lambda: records.instance(vm.id, ZONE) is None)

    kept = GceProvider({**settings, "delete_on_dismantle": False})
    (vm,) = kept.create(VMSpec(name="lithops-worker"), 1)
    kept.delete(vm.id)
    assert _eventually(lambda: (records.instance(vm.id, ZONE) or {}).get("status") == "TERMINATED")


def test_stopped_create_mode_workers_left_behind_are_deleted_by_the_next_create(
    records: FakeComputeEngine,
) -> None:
    # An agent that idled out stops its instance: a create-mode one nobody will use again.
    settings = {**_gcp(), "api_endpoint": records.endpoint, "exec_mode": "create"}
    provider = GceProvider(settings)
    (old,) = provider.create(VMSpec(name="lithops-worker"), 1)
    provider.stop(old.id)
    assert _eventually(lambda: records.in_zone(ZONE, "TERMINATED").keys() == {old.id})
    reused = GceProvider({**settings, "exec_mode": "reuse"})
    (kept,) = reused.create(VMSpec(name="lithops-worker"), 1)
    reused.stop(kept.id)
    assert _eventually(lambda: len(records.in_zone(ZONE, "TERMINATED")) == 2)

    (new,) = GceProvider(settings).create(VMSpec(name="lithops-worker"), 1)
    assert _eventually(lambda: set(records.in_zone(ZONE)) == {kept.id, new.id})


def test_the_default_key_is_made_once_under_lithops_home(records: FakeComputeEngine) -> None:
    provider = GceProvider({**_gcp(), "api_endpoint": records.endpoint, "exec_mode": "create"})
    public, path = provider.public_key()
    assert Path(path).is_relative_to(Path.home() / ".lithops")
    assert Path(path).stat().st_mode & 0o077 == 0
    again = GceProvider({**_gcp(), "api_endpoint": records.endpoint})
    assert again.public_key() == (public, path)


def test_an_unreachable_endpoint_is_a_clear_error(gce_env: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GceProvider({**_gcp(), "api_endpoint": f"http://127.0.0.1:{port}"})
    with pytest.raises(GceError, match=r"cannot reach Compute Engine.*api_endpoint"):
        provider.list()


def _gcp() -> dict[str, Any]:
    return {"project_name": PROJECT, "region": REGION}


def _eventually(predicate: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _users_instance(cloud: Cloud, name: str, public_key: str | None = None) -> str:
    """An instance the user made themselves (with the google client), booted and reachable
    with ``public_key`` (default: the test's key, the one the provider logs in with)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1 as c

    options = ClientOptions(api_endpoint=cloud.fake.endpoint)
    creds = AnonymousCredentials()
    instances = c.InstancesClient(transport="rest", client_options=options, credentials=creds)
    operations = c.ZoneOperationsClient(transport="rest", client_options=options, credentials=creds)
    body = c.Instance(
        name=name,
        machine_type=f"zones/{ZONE}/machineTypes/e2-small",
        disks=[
            c.AttachedDisk(
                boot=True,
                initialize_params=c.AttachedDiskInitializeParams(
                    source_image="projects/debian-cloud/global/images/family/debian-12"
                ),
            )
        ],
        network_interfaces=[c.NetworkInterface(subnetwork=cloud.fake.subnet_link())],
        metadata=c.Metadata(
            items=[
                c.Items(
                    key="ssh-keys",
                    value=f"ubuntu:{public_key or public_key_of(cloud.key_filename)}",
                )
            ]
        ),
    )
    op = instances.insert_unary(project=PROJECT, zone=ZONE, instance_resource=body)
    while op.status != c.Operation.Status.DONE:
        op = operations.wait(project=PROJECT, zone=ZONE, operation=op.name)
    assert not op.error.errors
    return name
