"""What the serverless dispatch scenarios share: (l) aws_lambda on moto, (g) gcp_functions on
functions-framework.

The workload (a warm-up, then maps of 1,000 no-op calls, then single calls), what one map
measures, the cases both report and their checks against Lithops' published figures. Each
scenario brings its platform, how it sees an invocation leave the client, and its own notes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from registry import BenchContext, Case, Check, Measurement, ScenarioReport

__all__ = [
    "CALLS",
    "LITHOPS_DISPATCH_S",
    "LITHOPS_NOTICE_S",
    "MAX_WORKERS",
    "DispatchCases",
    "InvokeTimes",
    "environment",
    "noop",
    "run_workload",
]

CALLS = 1_000
MAX_WORKERS = 16
#: Lithops' published figures (on Lambda): all 1,000 invocations sent in 1.4 s; completion
#: noticed ~1.7 s after a call ends (it lists storage for status objects).
LITHOPS_DISPATCH_S = 1.4
LITHOPS_NOTICE_S = 1.7

#: Starts recording when each invocation request leaves the client (``perf_counter``); returns
#: the list it appends to.
InvokeTimes = Callable[[Any], list[float]]


def noop(x: int) -> int:
    return x


@contextmanager
def environment(updates: Mapping[str, str], drop: Iterable[str] = ()) -> Iterator[None]:
    """The process environment without ``drop`` and with ``updates``; all of it as it was
    afterwards (whatever the run changed too)."""
    saved = dict(os.environ)
    try:
        for name in drop:
            os.environ.pop(name, None)
        os.environ.update(updates)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _one_map(fexec: Any, invoke_times: InvokeTimes) -> dict[str, float]:
    sent = invoke_times(fexec)
    wall_start = time.time()  # the workers' timestamps are time.time() of this machine
    start = time.perf_counter()
    futures = fexec.map(noop, range(CALLS))
    queued = time.perf_counter() - start
    assert fexec.get_result(futures, timeout=900) == list(range(CALLS))
    done = time.perf_counter() - start
    notice = [
        f.stats["host_status_done_tstamp"] - f.stats["worker_end_tstamp"]
        for f in futures
        if "worker_end_tstamp" in f.stats and "host_status_done_tstamp" in f.stats
    ]
    began = sorted(
        f.stats["worker_start_tstamp"] for f in futures if "worker_start_tstamp" in f.stats
    )
    return {
        "queued": queued,
        "first_wave": sorted(sent)[min(MAX_WORKERS, len(sent)) - 1] - start,
        "last_sent": max(sent) - start,
        "invocations": float(len(sent)),
        "done": done,
        "p99_start": began[int(len(began) * 0.99) - 1] - wall_start if began else float("nan"),
        "notice_median": statistics.median(notice),
        "notice_p95": sorted(notice)[int(len(notice) * 0.95) - 1],
    }


def _single_notice(fexec: Any) -> float:
    future = fexec.call_async(noop, 1)
    future.result(timeout=120)
    return float(future.stats["host_status_done_tstamp"] - future.stats["worker_end_tstamp"])


def run_workload(
    ctx: BenchContext,
    fexec: Any,
    label: str,
    invoke_times: InvokeTimes,
    runs: list[dict[str, float]],
    singles: list[float],
) -> None:
    """Deploy and warm up, then the maps (3, 1 with ``--quick``) into ``runs`` and the single
    calls into ``singles`` (filled as they end, so a failure keeps what was measured)."""
    fexec.get_result(fexec.map(noop, range(MAX_WORKERS)))  # deploy + warm
    repeats = 1 if ctx.quick else 3
    for i in range(repeats):
        ctx.log(f"{label}: {CALLS} calls, run {i + 1}/{repeats}")
        runs.append(_one_map(fexec, invoke_times))
    for _ in range(3 if ctx.quick else 5):
        singles.append(_single_notice(fexec))


class DispatchCases:
    """The cases of a dispatch scenario, in the order of its table.

    :param handed_to: who gets the calls, for the "last invocation sent" case.
    :param p99: with the case of the p99 of the calls' start.
    """

    def __init__(self, handed_to: str, p99: bool = False) -> None:
        self.queued = Case(f"{CALLS:,} calls: map() returns (serialized, batched, queued)")
        self.first = Case(f"{CALLS:,} calls: first {MAX_WORKERS} invocations sent (max_workers)")
        self.last = Case(
            f"{CALLS:,} calls: last invocation sent (every call handed to {handed_to})"
        )
        self.p99 = (
            Case(f"{CALLS:,} calls: p99 of the calls' start in the function, from map()")
            if p99
            else None
        )
        self.total = Case(f"{CALLS:,} calls: all results in hand")
        self.notice = Case("a call's return in the function -> its future done (median of the map)")
        self.single = Case("the same, a single call_async")

    def report(self) -> ScenarioReport:
        """An empty report with these cases."""
        middle = [self.p99] if self.p99 is not None else []
        cases = [self.queued, self.first, self.last, *middle, self.total, self.notice]
        return ScenarioReport(cases=[*cases, self.single])

    def fill(
        self,
        report: ScenarioReport,
        peer: str,
        runs: list[dict[str, float]],
        singles: list[float],
        tag: str,
        batches_note: Callable[[int, int], str],
    ) -> None:
        """The cells of ``peer`` from what was measured, the notes of a run, and the checks
        (named ``(tag) ...``) against Lithops' published figures.

        :param batches_note: the "last invocation sent" note, from the first run's number of
            invocations and calls per invocation.
        """

        def cell(key: str) -> Measurement:
            if not runs:
                return Measurement(error="no run")
            return Measurement(samples=[r[key] for r in runs])

        self.queued.cells[peer] = cell("queued")
        self.first.cells[peer] = cell("first_wave")
        self.last.cells[peer] = cell("last_sent")
        if self.p99 is not None:
            self.p99.cells[peer] = cell("p99_start")
        self.total.cells[peer] = cell("done")
        self.notice.cells[peer] = cell("notice_median")
        self.single.cells[peer] = (
            Measurement(samples=singles) if singles else Measurement(error="none")
        )
        if runs:
            invocations = int(runs[0]["invocations"])
            self.last.notes.append(batches_note(invocations, -(-CALLS // invocations)))
            self.notice.notes.append(
                f"p95 {statistics.median(r['notice_p95'] for r in runs):.3f} s: a call waits in "
                f"its invocation for the batch's later calls; the response carries all of them"
            )
        report.checks.append(
            Check(
                f"({tag}) map() of 1,000 calls returns (s)",
                self.queued.cells[peer].value,
                LITHOPS_DISPATCH_S,
            )
        )
        report.checks.append(
            Check(
                f"({tag}) single call completion notice (s)",
                self.single.cells[peer].value,
                LITHOPS_NOTICE_S,
            )
        )
