"""``fexec.job_summary()``: one CSV row per job of an executor, with a cost column.

The cost comes from the compute backend: the handle's ``cost(usage: JobUsage)`` method (see
:class:`lithops.plugins.types.ComputeHandle`) prices the job in US dollars (a serverless
backend what it was billed, a VM backend instance hours); Lithops' older
``calc_cost(runtimes_s, memory_mb)`` still works. Localhost is free: 0. Any other backend
without either leaves the cell empty (unknown, not zero), as does a ``cost`` of ``None``.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lithops.future import CallState
from lithops.logs import logs_dir
from lithops.plugins.types import JobUsage

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor
    from lithops.future import ResponseFuture

__all__ = ["COLUMNS", "job_rows", "write_job_summary"]

COLUMNS = (
    "job_key",
    "function",
    "calls",
    "success",
    "failed",
    "lost",
    "cancelled",
    "pending",
    "retries",
    "backups",
    "memory_mb",
    "avg_exec_time_s",
    "total_exec_time_s",
    "wall_time_s",
    "cost",
)


def _cost(executor: FunctionExecutor, usage: JobUsage) -> Any:
    handle = executor.compute_handle
    cost = getattr(handle, "cost", None)
    if callable(cost):
        value = cost(usage)
        return "" if value is None else round(float(value), 10)
    calc = getattr(handle, "calc_cost", None)
    if callable(calc):
        return calc(list(usage.exec_times_s), [usage.memory_mb] * len(usage.exec_times_s))
    return 0.0 if executor.mode == "localhost" else ""


def _row(executor: FunctionExecutor, job: dict[str, Any]) -> dict[str, Any]:
    futures: list[ResponseFuture] = list(job["futures"])
    states = [f.call_state for f in futures]
    runtimes = [
        float(f.stats["worker_exec_time"]) for f in futures if "worker_exec_time" in f.stats
    ]
    section = executor.config.get(executor.backend) or {}
    memory = job.get("runtime_memory") or section.get("runtime_memory")
    submitted = [f.stats["host_submit_tstamp"] for f in futures if "host_submit_tstamp" in f.stats]
    ended = [f.stats["host_status_done_tstamp"] for f in futures
             if "host_status_done_tstamp" in f.stats]  # fmt: skip
    return {
        "job_key": job["job_key"],
        "function": job["function"],
        "calls": job["calls"],
        "success": states.count(CallState.SUCCESS),
        "failed": states.count(CallState.FAILED),
        "lost": states.count(CallState.LOST),
        "cancelled": states.count(CallState.CANCELLED),
        "pending": sum(1 for s in states if not s.terminal),
        "retries": sum(f.attempts for f in futures),
        "backups": sum(int(f.stats.get("backups", 0)) for f in futures),
        "memory_mb": memory if memory is not None else "",
        "avg_exec_time_s": round(statistics.fmean(runtimes), 6) if runtimes else "",
        "total_exec_time_s": round(sum(runtimes), 6),
        "wall_time_s": round(max(ended) - min(submitted), 6) if ended and submitted else "",
        "cost": _cost(executor, JobUsage(job["job_key"], job["calls"], tuple(runtimes), memory)),
    }


def job_rows(executor: FunctionExecutor) -> list[dict[str, Any]]:
    """The summary rows of every job the executor ran, in submission order."""
    return [_row(executor, job) for job in executor.job_stats]


def write_job_summary(executor: FunctionExecutor, path: str | Path | None = None) -> str:
    """Write ``<logs dir>/<executor_id>/job_summary.csv`` (or ``path``); returns the path.

    Rewritten whole on each call, so it always holds every job so far, one row each.
    """
    target = (
        Path(path) if path is not None else logs_dir() / executor.executor_id / "job_summary.csv"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(job_rows(executor))
    return str(target)
