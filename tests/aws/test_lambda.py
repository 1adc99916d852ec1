"""aws_lambda on moto: Lambdas that really run our code in containers of the Lambda image."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
import pytest
from lambda_proxy import concurrency_proxy
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
from testbed import MotoServer

import lithops
import lithops_aws.lambda_deploy as lambda_deploy
from lithops.errors import CallTimeoutError, WireVersionError, WorkerLostError
from lithops.testing import BackendContract


def eat_memory(mb: int) -> int:
    hog = bytearray(mb << 20)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    return len(hog)


class TestLambdaContract(BackendContract):
    backend = "aws_lambda"
    call_deadline = 180.0

    @pytest.fixture
    def executor_config(self, lambda_config: dict[str, Any]) -> dict[str, Any]:
        return lambda_config


@pytest.fixture
def fexec(lambda_config: dict[str, Any]) -> Any:
    with lithops.FunctionExecutor(config=lambda_config) as executor:
        yield executor


DEADLINE = 240


def test_map_call_async_and_map_reduce(fexec: Any) -> None:
    assert fexec.map(double, range(10)).get_result(timeout=DEADLINE) == [2 * i for i in range(10)]
    assert fexec.call_async(double, 21).result(timeout=DEADLINE) == 42
    reduced = fexec.map_reduce(double, range(6), total).get_result(timeout=DEADLINE)
    assert reduced == 30


def test_user_exception_keeps_its_type_and_attributes(fexec: Any) -> None:
    with pytest.raises(Unusual, match="custom failure") as caught:
        fexec.call_async(raise_unusual, 7).result(timeout=DEADLINE)
    assert caught.value.code == 7


def test_megabyte_argument_and_five_megabyte_result_travel_through_s3(
    fexec: Any, lambda_config: dict[str, Any]
) -> None:
    blob = os.urandom(1 << 20)
    assert fexec.call_async(blob_size, blob).result(timeout=DEADLINE) == 1 << 20
    assert len(fexec.call_async(make_blob, 5 << 20).result(timeout=DEADLINE)) == 5 << 20
    # Nothing of the transport is left behind in the bucket.
    assert transport_leftovers(lithops.Storage(config=lambda_config)) == []


def test_storage_and_s3_partitions_inside_the_function(
    fexec: Any, lambda_config: dict[str, Any]
) -> None:
    storage = lithops.Storage(config=lambda_config)
    storage.put_object(storage.bucket, "in/a.txt", b"".join(b"%d\n" % i for i in range(1000)))
    storage.put_object(storage.bucket, "in/b.txt", b"x\ny\n")
    assert fexec.call_async(read_object, "in/b.txt").result(timeout=DEADLINE) == b"x\ny\n"
    futures = fexec.map(count_lines, f"s3://{storage.bucket}/in/", obj_chunk_size=1500)
    counts = futures.get_result(timeout=DEADLINE)
    assert len(counts) > 2 and sum(counts) == 1002


def test_throttled_invocations_are_retried_and_no_call_is_lost(
    lambda_config: dict[str, Any], aws_env: MotoServer
) -> None:
    config = json.loads(json.dumps(lambda_config))
    config["aws"]["access_key_id"] = "AKIDNEVERINPAYLOADS"
    config["aws"]["secret_access_key"] = "secret-never-in-payloads"
    config["aws_lambda"]["max_workers"] = 8
    with concurrency_proxy(aws_env.endpoint, concurrency=2) as proxy:
        config["aws_lambda"]["endpoint"] = proxy.endpoint
        with lithops.FunctionExecutor(config=config) as executor:
            result = executor.map(double, range(50)).get_result(timeout=600)
    assert result == [2 * i for i in range(50)]
    assert proxy.throttled > 0, "the test never throttled: it proves nothing"
    assert proxy.most_in_flight <= 2
    assert not any(
        b"AKIDNEVERINPAYLOADS" in body or b"never-in-payloads" in body for body in proxy.bodies
    )


def test_runtime_timeout_is_a_call_timeout_error(lambda_config: dict[str, Any]) -> None:
    lambda_config["aws_lambda"]["runtime_timeout"] = 4
    with lithops.FunctionExecutor(config=lambda_config) as executor:
        began = time.monotonic()
        future = executor.call_async(time.sleep, 60)
        with pytest.raises(CallTimeoutError, match="runtime_timeout"):
            future.result(timeout=DEADLINE)
        assert time.monotonic() - began < 50


def test_out_of_memory_is_worker_lost_naming_the_memory(lambda_config: dict[str, Any]) -> None:
    with lithops.FunctionExecutor(config=lambda_config) as executor:
        future = executor.call_async(eat_memory, 600)
        with pytest.raises(WorkerLostError, match="256 MB"):
            future.result(timeout=DEADLINE)
        assert executor.call_async(eat_memory, 16).result(timeout=DEADLINE) == 16 << 20


def test_deployed_function_is_named_by_version_and_memory_and_reused(
    lambda_config: dict[str, Any],
) -> None:
    lambda_config["aws_lambda"]["runtime_memory"] = 320
    with lithops.FunctionExecutor(config=lambda_config) as executor:
        assert executor.call_async(double, 1).result(timeout=DEADLINE) == 2
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    package = lambda_deploy.runtime_package()
    mine = [n for n in names if package.digest[:12] in n and n.endswith("-320mb")]
    assert mine == [f"lithops-w-{package.tag.replace('.', '-')}-320mb"]


def test_a_function_of_another_wire_version_fails_at_once(
    lambda_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with lithops.FunctionExecutor(config=lambda_config) as executor:
        executor.call_async(double, 1).result(timeout=DEADLINE)  # deployed, as wire 1.x
    lambda_deploy._deployed.clear()
    monkeypatch.setattr("lithops.wire.WIRE_VERSION", (99, 0))
    with (
        lithops.FunctionExecutor(config=lambda_config) as executor,
        pytest.raises(WireVersionError, match="delete-function --function-name lithops-w-"),
    ):
        executor.call_async(double, 1).result(timeout=DEADLINE)
