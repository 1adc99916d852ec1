"""``map(runtime_memory=)`` on gcp_functions (the fake admin API, functions-framework serving
our zip): the calls run on a function deployed with that memory, beside the section's, and
are priced at it."""

from __future__ import annotations

import csv
import os
from typing import Any

import pytest
from fake_cloud_functions import FakeCloudFunctions

import lithops
import lithops_gcp.functions_deploy as functions_deploy
from lithops.errors import ConfigError
from lithops.plugins.types import JobUsage
from lithops_gcp.functions_service import connect

DEADLINE = 240


def served_by(_: int) -> str:
    # Cloud Functions (and the fake) name the serving function in K_SERVICE.
    return os.environ["K_SERVICE"]


def total_and_server(results: list[str]) -> tuple[list[str], str]:
    return results, os.environ["K_SERVICE"]


@pytest.fixture(autouse=True)
def no_functions_left(gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions) -> Any:
    def wipe() -> None:
        client = connect(gcf_config).client
        for name in [n for n in fake_functions.functions if "/functions/lithops-w" in n]:
            client.delete_function(name=name).result(timeout=60)
        functions_deploy._deployed.clear()

    wipe()
    yield
    wipe()


def function_of(memory: int) -> str:
    package = functions_deploy.runtime_package()
    return f"lithops-w-{package.tag.replace('.', '-')}-{memory}mb"


def test_map_runtime_memory_runs_on_a_function_of_that_memory_and_is_priced_at_it(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    section = gcf_config["gcp_functions"]
    section.update(price_per_gb_s=1.0, price_per_ghz_s=0.0, price_per_request=0.0)
    with lithops.FunctionExecutor(config=gcf_config) as fexec:
        assert fexec.map(served_by, range(3)).get_result(timeout=DEADLINE) == [function_of(256)] * 3
        bigger = fexec.map(served_by, range(3), runtime_memory=512)
        assert bigger.get_result(timeout=DEADLINE) == [function_of(512)] * 3
        handle = fexec.compute_handle
        with open(fexec.job_summary()) as summary:
            jobs = list(csv.DictReader(summary))
    deployed = {
        name.rsplit("/", 1)[-1]: function["serviceConfig"]["availableMemory"]
        for name, function in fake_functions.functions.items()
    }
    assert deployed[function_of(256)] == "256Mi" and deployed[function_of(512)] == "512Mi"
    assert fake_functions.front_end(function_of(512)).requests >= 3
    small_job, big_job = jobs[0]["job_key"], jobs[1]["job_key"]
    assert handle.job_usage_by_memory(small_job).keys() == {256}
    assert handle.job_usage_by_memory(big_job).keys() == {512}
    for job, gb in ((small_job, 0.25), (big_job, 0.5)):
        _, billed_ms = handle.job_usage(job)
        assert handle.cost(JobUsage(job, 3, (), None)) == pytest.approx(billed_ms / 1000 * gb)
    names = sorted(f.name.rsplit("/", 1)[-1] for f in connect(gcf_config).list())
    assert names == sorted([function_of(256), function_of(512)])


def test_map_reduce_memories_and_an_invalid_size(gcf_config: dict[str, Any]) -> None:
    with lithops.FunctionExecutor(config=gcf_config) as fexec:
        futures = fexec.map_reduce(
            served_by, range(2), total_and_server,
            map_runtime_memory=1024, reduce_runtime_memory=512,
        )  # fmt: skip
        assert futures[-1].result(DEADLINE) == ([function_of(1024)] * 2, function_of(512))
        bad = fexec.call_async(served_by, 0, runtime_memory=300)
        with pytest.raises(ConfigError, match=r"runtime_memory=300 .*128, 256, 512"):
            bad.result(timeout=DEADLINE)
