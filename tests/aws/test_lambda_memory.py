"""``map(runtime_memory=)`` on aws_lambda (moto): the calls run on a function deployed with
that memory, beside the section's, and are priced at it."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from serverless_helpers import cli, rows, write_config

import lithops
import lithops_aws.lambda_deploy as lambda_deploy
from lithops.errors import ConfigError
from lithops.plugins.types import JobUsage

DEADLINE = 240


def memory_size(_: int) -> int:
    return int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])


def total_and_memory(results: list[int]) -> tuple[int, int]:
    return sum(results), int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])


@pytest.fixture(autouse=True)
def no_functions_left(aws_env: Any) -> Any:
    client = boto3.client("lambda")

    def wipe() -> None:
        for function in client.list_functions()["Functions"]:
            if function["FunctionName"].startswith("lithops-w"):
                client.delete_function(FunctionName=function["FunctionName"])
        lambda_deploy._deployed.clear()

    wipe()
    yield
    wipe()


def test_map_runtime_memory_runs_on_a_function_of_that_memory_and_is_priced_at_it(
    lambda_config: dict[str, Any], lithops_home: Path
) -> None:
    lambda_config["aws_lambda"]["price_per_gb_s"] = {"x86_64": 1.0, "arm64": 1.0}
    lambda_config["aws_lambda"]["price_per_request"] = 0.0
    with lithops.FunctionExecutor(config=lambda_config) as fexec:
        assert fexec.map(memory_size, range(3)).get_result(timeout=DEADLINE) == [256] * 3
        bigger = fexec.map(memory_size, range(3), runtime_memory=512)
        assert bigger.get_result(timeout=DEADLINE) == [512] * 3
        assert fexec.call_async(memory_size, 0, runtime_memory=512).result(DEADLINE) == 512
        handle = fexec.compute_handle
        with open(fexec.job_summary()) as summary:
            jobs = list(csv.DictReader(summary))
    small_job, big_job = jobs[0]["job_key"], jobs[1]["job_key"]
    assert handle.job_usage_by_memory(small_job).keys() == {256}
    assert handle.job_usage_by_memory(big_job).keys() == {512}
    # $1 per GB-second, requests free: the cost is the billed seconds times 0.25 or 0.5 GB.
    for job, gb in ((small_job, 0.25), (big_job, 0.5)):
        _, billed_ms = handle.job_usage(job)
        assert handle.cost(JobUsage(job, 3, (), None)) == pytest.approx(billed_ms / 1000 * gb)
    assert float(jobs[1]["cost"]) == pytest.approx(handle.job_usage(big_job)[1] / 1000 * 0.5)
    listing = rows(
        cli(
            "runtime", "list", "-c", write_config(lambda_config, lithops_home / "l.yaml"),
            "-b", "aws_lambda",
        ).stdout
    )  # fmt: skip
    assert sorted(row[1] for row in listing) == ["256", "512"]


def test_map_reduce_memories_and_an_invalid_size(lambda_config: dict[str, Any]) -> None:
    with lithops.FunctionExecutor(config=lambda_config) as fexec:
        futures = fexec.map_reduce(
            memory_size, range(2), total_and_memory,
            map_runtime_memory=384, reduce_runtime_memory=640,
        )  # fmt: skip
        assert futures[-1].result(DEADLINE) == (768, 640)
        bad = fexec.call_async(memory_size, 0, runtime_memory=64)
        with pytest.raises(ConfigError, match=r"runtime_memory=64 .*128 to 10240"):
            bad.result(timeout=DEADLINE)
