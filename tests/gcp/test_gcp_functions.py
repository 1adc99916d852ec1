"""gcp_functions on the FAKE Cloud Functions admin API (tests/gcp/fake_cloud_functions.py),
with functions-framework really serving the deployed zip of our code, and fake-gcs-server
for storage. The fake stands in for Google's control plane and front end only: deploy,
list, delete, operations, ID tokens, and throttling on demand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fake_cloud_functions import FakeCloudFunctions
from serverless_helpers import (
    Unusual,
    blob_size,
    count_lines,
    double,
    make_blob,
    raise_unusual,
    read_object,
    total,
    transport_leftovers,
)

import lithops
import lithops_gcp.functions_deploy as functions_deploy
from lithops.errors import WireVersionError
from lithops.testing import BackendContract
from lithops_gcp.functions_service import connect


def lithops_location() -> str:
    import lithops as worker_lithops

    return worker_lithops.__file__


DEADLINE = 120


class TestGcfContract(BackendContract):
    backend = "gcp_functions"
    call_deadline = 120.0

    @pytest.fixture
    def executor_config(self, gcf_config: dict[str, Any]) -> dict[str, Any]:
        return gcf_config


@pytest.fixture
def fexec(gcf_config: dict[str, Any]) -> Any:
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        yield executor


def test_map_call_async_and_map_reduce(fexec: Any) -> None:
    assert fexec.map(double, range(10)).get_result(timeout=DEADLINE) == [2 * i for i in range(10)]
    assert fexec.call_async(double, 21).result(timeout=DEADLINE) == 42
    reduced = fexec.map_reduce(double, range(6), total).get_result(timeout=DEADLINE)
    assert reduced == 30


def test_the_function_runs_the_code_that_was_shipped(fexec: Any) -> None:
    # functions-framework serves the unpacked zip, not this checkout's editable install.
    location = fexec.call_async(lithops_location, ()).result(timeout=DEADLINE)
    assert "/lithops-core/src/" not in location
    assert location.endswith("lithops/__init__.py")


def test_user_exception_keeps_its_type_and_attributes(fexec: Any) -> None:
    with pytest.raises(Unusual, match="custom failure") as caught:
        fexec.call_async(raise_unusual, 7).result(timeout=DEADLINE)
    assert caught.value.code == 7


def test_megabyte_argument_and_five_megabyte_result(fexec: Any) -> None:
    blob = os.urandom(1 << 20)
    assert fexec.call_async(blob_size, blob).result(timeout=DEADLINE) == 1 << 20
    assert len(fexec.call_async(make_blob, 5 << 20).result(timeout=DEADLINE)) == 5 << 20


def test_payloads_above_the_limit_travel_through_gcs_and_are_removed(
    gcf_config: dict[str, Any],
) -> None:
    gcf_config["gcp_functions"]["payload_limit"] = 200_000
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        blob = os.urandom(1 << 20)
        assert executor.call_async(blob_size, blob).result(timeout=DEADLINE) == 1 << 20
        assert len(executor.call_async(make_blob, 5 << 20).result(timeout=DEADLINE)) == 5 << 20
    assert transport_leftovers(lithops.Storage(config=gcf_config)) == []


def test_storage_and_gs_partitions_inside_the_function(
    fexec: Any, gcf_config: dict[str, Any]
) -> None:
    storage = lithops.Storage(config=gcf_config)
    storage.put_object(storage.bucket, "in/a.txt", b"".join(b"%d\n" % i for i in range(1000)))
    storage.put_object(storage.bucket, "in/b.txt", b"x\ny\n")
    assert fexec.call_async(read_object, "in/b.txt").result(timeout=DEADLINE) == b"x\ny\n"
    futures = fexec.map(count_lines, f"gs://{storage.bucket}/in/", obj_chunk_size=1500)
    counts = futures.get_result(timeout=DEADLINE)
    assert len(counts) > 2 and sum(counts) == 1002


def _service_account_file(path: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "lithops-test",
        "private_key_id": "fake-key-1",
        "private_key": pem,
        "client_email": "lithops@lithops-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def test_throttled_requests_are_retried_with_an_id_token_and_no_call_is_lost(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions, tmp_path: Path
) -> None:
    key_file = _service_account_file(tmp_path / "sa.json", fake_functions.token_uri)
    gcf_config["gcp"]["credentials_path"] = str(key_file)
    gcf_config["gcp_functions"]["max_workers"] = 3
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        executor.call_async(double, 0).result(timeout=DEADLINE)  # deployed and checked
        fake_functions.reset_counters()
        fake_functions.require_id_token = True
        fake_functions.throttle_every_other = True
        futures = executor.map(double, range(50), chunksize=1)
        assert futures.get_result(timeout=300) == [2 * i for i in range(50)]
    front = fake_functions.front_end(functions_deploy.function_id(
        functions_deploy.runtime_package(), connect(gcf_config).settings
    ))  # fmt: skip
    assert front.throttled >= 24, "the fake never throttled: the test proves nothing"
    assert front.most_in_flight <= 3
    secret = json.loads(key_file.read_text())["private_key"].splitlines()[1]
    assert not any(secret.encode() in body or b"sa.json" in body for body in front.bodies)


def test_deployed_function_is_named_by_version_and_memory_listed_and_reused(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    gcf_config["gcp_functions"]["runtime_memory"] = 512
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        assert executor.call_async(double, 1).result(timeout=DEADLINE) == 2
    service = connect(gcf_config)
    package = functions_deploy.runtime_package()
    names = [f.name.rsplit("/", 1)[-1] for f in service.list()]
    assert f"lithops-w-{package.tag.replace('.', '-')}-512mb" in names
    (function,) = [f for f in service.list() if f.name.endswith("-512mb")]
    assert function.service_config.available_memory == "512Mi"
    assert function.build_config.runtime == functions_deploy.python_runtime()
    creates = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]
    functions_deploy._deployed.clear()  # a new client process: finds the function deployed
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        assert executor.call_async(double, 2).result(timeout=DEADLINE) == 4
    again = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]
    assert len(again) == len(creates)


def test_list_pages_through_many_functions(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    for i in range(130):
        name = f"projects/lithops-test/locations/us-east1/functions/lithops-w-paging-{i:03d}"
        fake_functions.functions[name] = {"name": name, "state": 1}
    try:
        names = [f.name for f in connect(gcf_config).list()]
        assert len([n for n in names if "-paging-" in n]) == 130
    finally:
        for name in [n for n in fake_functions.functions if "-paging-" in n]:
            del fake_functions.functions[name]


def test_a_function_of_another_wire_version_fails_at_once(
    gcf_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        executor.call_async(double, 1).result(timeout=DEADLINE)  # deployed, as wire 1.x
    functions_deploy._deployed.clear()
    monkeypatch.setattr("lithops.wire.WIRE_VERSION", (99, 0))
    with (
        lithops.FunctionExecutor(config=gcf_config) as executor,
        pytest.raises(WireVersionError, match="gcloud functions delete lithops-w-"),
    ):
        executor.call_async(double, 1).result(timeout=DEADLINE)


def test_memory_outside_the_tiers_is_a_config_error(gcf_config: dict[str, Any]) -> None:
    gcf_config["gcp_functions"]["runtime_memory"] = 300
    with pytest.raises(lithops.errors.ConfigError, match="runtime_memory"):
        lithops.FunctionExecutor(config=gcf_config)


def test_pubsub_trigger_is_refused_with_the_reason(gcf_config: dict[str, Any]) -> None:
    gcf_config["gcp_functions"]["trigger"] = "pub/sub"
    with pytest.raises(lithops.errors.ConfigError, match="runs them twice"):
        lithops.FunctionExecutor(config=gcf_config)


class _Sink:
    def results(self, records: Any) -> None: ...
    def lost(self, keys: Any, error: Any) -> None: ...
    def log(self, key: Any, lines: Any) -> None: ...


def test_release_with_dismantle_deletes_the_function(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    from lithops.plugins.manager import get_plugin_host
    from lithops.plugins.types import ProvisionRequest

    gcf_config["gcp_functions"]["runtime_memory"] = 1024
    host = get_plugin_host()
    request = ProvisionRequest("gcp_functions", gcf_config, None, None, _Sink())
    handle = host.provision(request)
    assert [n for n in fake_functions.functions if n.endswith("-1024mb")]
    host.release(handle, dismantle=True)
    assert not [n for n in fake_functions.functions if n.endswith("-1024mb")]


def test_a_crashed_instance_fails_only_its_call(fexec: Any) -> None:
    from lithops.errors import WorkerLostError
    from lithops.testing import tasks

    with pytest.raises(WorkerLostError, match="runtime_memory"):
        fexec.call_async(tasks.die, 3).result(timeout=DEADLINE)
    assert fexec.map(double, [1, 2, 3]).get_result(timeout=DEADLINE) == [2, 4, 6]


def test_runtime_timeout_is_a_call_timeout_error(gcf_config: dict[str, Any]) -> None:
    import time

    from lithops.errors import CallTimeoutError

    gcf_config["gcp_functions"]["runtime_timeout"] = 3
    with lithops.FunctionExecutor(config=gcf_config) as executor:
        began = time.monotonic()
        future = executor.call_async(time.sleep, 60)
        with pytest.raises(CallTimeoutError, match="runtime_timeout"):
            future.result(timeout=DEADLINE)
        assert time.monotonic() - began < 50
        assert executor.call_async(double, 4).result(timeout=DEADLINE) == 8


def test_a_call_past_its_timeout_fails_while_the_function_runs_on(fexec: Any) -> None:
    from lithops.errors import CallTimeoutError
    from lithops.testing import tasks

    slow = fexec.call_async(tasks.sleep_then, (600,), timeout=1)
    with pytest.raises(CallTimeoutError):
        slow.result(timeout=DEADLINE)
    assert fexec.call_async(double, 5).result(timeout=DEADLINE) == 10
