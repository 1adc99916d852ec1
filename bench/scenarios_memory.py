"""Client memory (m): what a 100,000-call map leaves in the client once its calls are done.

Each call gets its own random 10 KiB ``bytes`` argument (1,000 MiB in all) and returns its first
KiB (100 MiB of results, which the client rightly holds). The child interpreter measures its
RSS (``/proc/self/statm``, after ``gc.collect()`` and glibc's ``malloc_trim(0)`` so freed memory
is not counted) before building the arguments, and after ``get_result`` with the arguments
list deleted. A client that keeps every call's arguments grows by ~1,100 MiB; one that releases
them grows by about the results plus its per-future bookkeeping. PPE (one ``submit`` per call)
is measured the same way, side by side.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from registry import BenchContext, Case, Check, Measurement, ScenarioReport, scenario

__all__ = ["client_memory"]

MARK = "BENCH_MEMORY "
CALLS = 100_000
ARG_BYTES = 10 * 1024
RESULT_BYTES = 1024
MIB = 1 << 20

_COMMON = textwrap.dedent(
    """
    import ctypes, gc, json, os, sys, time

    SPEC = json.loads(sys.argv[1])
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def head(b):
        return b[: SPEC["result_bytes"]]

    def rss():
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * PAGE

    def arguments():
        return [os.urandom(SPEC["arg_bytes"]) for _ in range(SPEC["calls"])]

    def report(base, with_args, after, results, started):
        held = sum(len(r) for r in results)
        print("BENCH_MEMORY", json.dumps({
            "base": base, "with_args": with_args, "after": after, "results": held,
            "seconds": time.monotonic() - started,
        }), flush=True)
    """
)

_OURS = _COMMON + textwrap.dedent(
    """
    import lithops

    fexec = lithops.FunctionExecutor()
    fexec.get_result(fexec.map(head, [b"warm"] * 8))
    base = rss()
    args = arguments()
    with_args = rss()
    started = time.monotonic()
    futures = fexec.map(head, args)
    del args
    results = fexec.get_result(futures)
    after = rss()
    report(base, with_args, after, results, started)
    fexec.close()
    """
)

_PPE = _COMMON + textwrap.dedent(
    """
    import concurrent.futures

    pool = concurrent.futures.ProcessPoolExecutor()
    list(pool.map(head, [b"warm"] * 8))
    base = rss()
    args = arguments()
    with_args = rss()
    started = time.monotonic()
    futures = [pool.submit(head, a) for a in args]
    del args
    results = [f.result() for f in futures]
    after = rss()
    report(base, with_args, after, results, started)
    pool.shutdown()
    """
)

_CODE = {"ours": _OURS, "ppe": _PPE}


def _run(ctx: BenchContext, peer: str) -> dict[str, Any]:
    spec = {"calls": CALLS, "arg_bytes": ARG_BYTES, "result_bytes": RESULT_BYTES}
    with ctx.peers.session(peer) as session:
        out = session._run([session.python, "-c", _CODE[peer], json.dumps(spec)], 900)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-4:])
    return {"error": f"no result ({out.exit_note or 'exit ' + str(out.returncode)}): {tail}"}


@scenario("m", "(m) client memory after a 100,000-call map of 10 KiB arguments")
def client_memory(ctx: BenchContext) -> ScenarioReport:
    growth = Case("client RSS growth after get_result, arguments deleted (MiB)")
    per_result = Case("RSS growth / size of the results held")
    args_case = Case("RSS of the arguments while the caller held them (MiB)")
    report = ScenarioReport(cases=[growth, per_result, args_case])
    for peer in [p for p in ("ours", "ppe") if ctx.wants(p)]:
        ctx.log(f"(m) {peer}: {CALLS:,} calls of {ARG_BYTES // 1024} KiB")
        data = _run(ctx, peer)
        if "error" in data:
            for case in report.cases:
                case.cells[peer] = Measurement(error=data["error"])
            continue
        grown = (data["after"] - data["base"]) / MIB
        growth.cells[peer] = Measurement(samples=[grown], note=f"{data['seconds']:.1f} s map")
        per_result.cells[peer] = Measurement(samples=[grown / (data["results"] / MIB)])
        args_case.cells[peer] = Measurement(samples=[(data["with_args"] - data["base"]) / MIB])
    report.notes.append(
        f"arguments: {CALLS * ARG_BYTES / MIB:,.0f} MiB in all; results held: "
        f"{CALLS * RESULT_BYTES / MIB:,.0f} MiB (each call returns its first KiB). One run per "
        f"peer: RSS is not noisy the way time is"
    )
    ours = growth.cells.get("ours")
    grown = ours.value if ours is not None else None
    report.checks.append(
        Check(
            "(m) ours: RSS growth after the map / size of its arguments (kept all: > 1)",
            None if grown is None else grown / (CALLS * ARG_BYTES / MIB),
            0.75,
        )
    )
    return report
