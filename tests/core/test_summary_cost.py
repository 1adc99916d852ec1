"""The summary's cost cell asks the compute handle: ``cost(JobUsage)``, else Lithops'
older ``calc_cost(runtimes, memory)``; unknown stays empty, localhost is free."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from lithops.plugins.types import JobUsage
from lithops.summary import job_rows

JOB = {"job_key": "E1/M000", "function": "f", "calls": 0, "futures": [], "runtime_memory": 512}


def executor(handle: Any, mode: str = "serverless") -> Any:
    return SimpleNamespace(
        compute_handle=handle, mode=mode, backend="b", config={"b": {}}, job_stats=[JOB]
    )


class Priced:
    def __init__(self) -> None:
        self.seen: list[JobUsage] = []

    def cost(self, usage: JobUsage) -> float | None:
        self.seen.append(usage)
        return 0.25 if usage.job_key == "E1/M000" else None


class OldStyle:
    def calc_cost(self, runtimes: list[float], memory: list[int | None]) -> float:
        return 1.5


def test_cost_method_gets_the_jobs_usage() -> None:
    handle = Priced()
    assert job_rows(executor(handle))[0]["cost"] == 0.25
    assert handle.seen == [JobUsage("E1/M000", 0, (), 512)]


def test_unknown_cost_is_empty_and_calc_cost_still_works() -> None:
    class Unknown:
        def cost(self, usage: JobUsage) -> None:
            return None

    assert job_rows(executor(Unknown()))[0]["cost"] == ""
    assert job_rows(executor(OldStyle()))[0]["cost"] == 1.5
    assert job_rows(executor(object()))[0]["cost"] == ""
    assert job_rows(executor(None, mode="localhost"))[0]["cost"] == 0.0
