"""Multiprocessing (p): ``lithops.multiprocessing.Pool.map`` of 1,000 no-op tasks against the
standard library's ``multiprocessing.Pool.map``, in the same child interpreter.

Both pools are created first and warmed with a map of 8 no-ops; then the two maps of 1,000
tasks (``def noop(x): return x``) alternate, REPEATS times each, so a load spike of the shared
machine hits both. Both pools use the default size (the CPU count) and the default chunksize
(about four chunks per pool process: ours sends a chunk per lithops call, as the standard
library sends one per task message). The issue sets no bar: the ratio is reported.
"""

from __future__ import annotations

import json
import statistics
import textwrap
from typing import Any

from registry import BenchContext, Case, Measurement, ScenarioReport, scenario

__all__ = ["pool_map"]

MARK = "BENCH_MP "
TASKS = 1000

_CODE = textwrap.dedent(
    """
    import json, multiprocessing, sys, time

    import lithops.multiprocessing as lmp

    SPEC = json.loads(sys.argv[1])

    def noop(x):
        return x

    if __name__ == "__main__":
        items = list(range(SPEC["tasks"]))
        ours_s, stdlib_s = [], []
        with lmp.Pool() as ours, multiprocessing.Pool() as stdlib:
            ours.map(noop, range(8))
            stdlib.map(noop, range(8))
            for _ in range(SPEC["repeats"]):
                started = time.perf_counter()
                assert ours.map(noop, items) == items
                ours_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert stdlib.map(noop, items) == items
                stdlib_s.append(time.perf_counter() - started)
        print("BENCH_MP", json.dumps({"ours": ours_s, "stdlib": stdlib_s}), flush=True)
    """
)


def _run(ctx: BenchContext, repeats: int) -> dict[str, Any]:
    spec = {"tasks": TASKS, "repeats": repeats}
    with ctx.peers.session("ours") as session:
        out = session._run([session.python, "-c", _CODE, json.dumps(spec)], 600)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-4:])
    return {"error": f"no result ({out.exit_note or 'exit ' + str(out.returncode)}): {tail}"}


@scenario("p", "(p) multiprocessing: Pool.map of 1,000 no-op tasks vs multiprocessing.Pool.map")
def pool_map(ctx: BenchContext) -> ScenarioReport:
    case = Case(f"Pool.map of {TASKS:,} no-ops, warm pools (s)")
    report = ScenarioReport(cases=[case])
    if not ctx.wants("ours"):
        return report
    repeats = 3 if ctx.quick else 5
    ctx.log(f"(p) lithops.multiprocessing vs multiprocessing: {TASKS:,} tasks x {repeats}")
    data = _run(ctx, repeats)
    if "error" in data:
        case.cells["lithops.mp"] = Measurement(error=data["error"])
        case.cells["multiprocessing"] = Measurement(error=data["error"])
        return report
    case.cells["lithops.mp"] = Measurement(samples=data["ours"])
    case.cells["multiprocessing"] = Measurement(samples=data["stdlib"])
    ratio = statistics.median(data["ours"]) / statistics.median(data["stdlib"])
    case.ratios["lithops.mp/multiprocessing"] = ratio
    report.notes.append(
        "both pools in one interpreter, the default size (nproc); maps alternate; "
        "both use multiprocessing's default chunksize (tasks / (4 x nproc)); ours sends one "
        "lithops call per chunk"
    )
    return report
