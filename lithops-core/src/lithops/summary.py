"""``fexec.job_summary()``: one CSV row per job of an executor, with a cost column.

The cost comes from the compute backend: the handle's ``cost(usage: JobUsage)`` method (see
:class:`lithops.plugins.types.ComputeHandle`, :class:`~lithops.plugins.types.BackendHandle`)
prices the job in US dollars (a serverless
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
from lithops.plugins.manager import PluginHost
from lithops.plugins.types import JobUsage
from lithops.session import JobSession

if TYPE_CHECKING:
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


def _cost(session: JobSession, usage: JobUsage) -> Any:
    handle = session.compute_handle
    if any(callable(getattr(handle, name, None)) for name in ("cost", "calc_cost")):
        value = PluginHost.cost(handle, usage)
        return "" if value is None else round(value, 10)
    return 0.0 if session.mode == "localhost" else ""


def _row(session: JobSession, job: dict[str, Any]) -> dict[str, Any]:
    futures: list[ResponseFuture] = list(job["futures"])
    states = [f.call_state for f in futures]
    runtimes = [
        float(f.stats["worker_exec_time"]) for f in futures if "worker_exec_time" in f.stats
    ]
    section = session.config.get(session.backend) or {}
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
        "cost": _cost(session, JobUsage(job["job_key"], job["calls"], tuple(runtimes), memory)),
    }


def job_rows(session: JobSession) -> list[dict[str, Any]]:
    """The summary rows of every job the executor ran, in submission order."""
    return [_row(session, job) for job in session.job_stats]


def write_job_summary(session: JobSession, path: str | Path | None = None) -> str:
    """Write ``<logs dir>/<executor_id>/job_summary.csv`` (or ``path``); returns the path.

    Rewritten whole on each call, so it always holds every job so far, one row each.
    """
    target = (
        Path(path) if path is not None else logs_dir() / session.executor_id / "job_summary.csv"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(job_rows(session))
    return str(target)
