"""Failure recovery (f): what a killed worker, a call timeout, a cancel and a straggler cost.

Each measurement runs in a child interpreter of the peer (``python -c``), like the other
scenarios, so a peer that hangs becomes an ERROR cell and the others still run.

- killed worker: one sleeping call per worker (all busy), each recording its pid; the client
  SIGKILLs one (as the OOM killer would) and at once maps 8 no-op calls. *error after* = kill
  to the killed call's future failing; *recovery* = kill to the first result of that next map
  (which only the killed worker's replacement can run). PPE: the pool is
  broken (BrokenProcessPool) and a new one must be made, which recovery includes.
- call timeout (ours): ``timeout=1`` on a call that never returns; time from the deadline
  to the CallTimeoutError, then to the next map's first result.
- cancel (ours): ``future.cancel()`` on a running call, to its worker process being gone.
- straggler (ours): 20 calls, one sleeping 30 s on its first attempt only, with and
  without ``backups=True``.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from registry import BenchContext, Case, Check, Measurement, ScenarioReport, scenario

__all__ = ["failure_recovery"]

MARK = "BENCH_FAILURES "

#: Seconds Lithops 3.8 gets to notice a killed task before it counts as "never".
L38_CAP_S = 30

# Shared by every child: the task functions live in __main__ (shipped by value by lithops,
# inherited through fork by ProcessPoolExecutor).
_COMMON = textwrap.dedent(
    """
    import json, os, signal, sys, tempfile, time

    def noop(x):
        return x

    def pid_then_sleep(path):
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(60)

    def forever(x):
        while True:
            time.sleep(1)

    def straggle(x, marker):
        if x == 7 and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(30)
        time.sleep(0.05)
        return x

    def wait_pid(path, limit=30.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if os.path.exists(path) and open(path).read():
                return int(open(path).read())
            time.sleep(0.005)
        raise RuntimeError("the call never started")

    def gone(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    SPEC = json.loads(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bench-failures-")
    OUT = {"killed": [], "first": [], "errors": []}
    """
)

_OURS = _COMMON + textwrap.dedent(
    """
    import concurrent.futures
    import lithops

    fexec = lithops.FunctionExecutor()
    fexec.get_result(fexec.map(noop, range(8)))
    busy = os.cpu_count() or 1  # the default pool size: every worker gets a sleeper
    for i in range(SPEC["repeats"]):
        paths = [os.path.join(TMP, f"pid{i}-{k}") for k in range(busy)]
        sleepers = fexec.map(pid_then_sleep, paths)
        pid = [wait_pid(p) for p in paths][0]
        victim = sleepers[0]
        noticed = []
        victim.add_done_callback(lambda _: noticed.append(time.perf_counter()))
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        fs = fexec.map(noop, range(8))  # only the killed worker's replacement is free
        concurrent.futures.wait(fs, timeout=60, return_when=concurrent.futures.FIRST_COMPLETED)
        OUT["first"].append(time.perf_counter() - t0)
        victim.exception(timeout=60)
        OUT["killed"].append(noticed[0] - t0)
        OUT["errors"].append(type(victim.exception()).__name__)
        assert fexec.get_result(fs) == list(range(8))
        for other in sleepers[1:]:
            other.cancel()

    OUT["timeout_over"], OUT["timeout_first"] = [], []
    for i in range(SPEC["repeats"]):
        t0 = time.perf_counter()
        (late,) = fexec.map(forever, [0], timeout=1)
        error = late.exception(timeout=60)
        OUT["timeout_over"].append(time.perf_counter() - t0 - 1.0)
        assert type(error).__name__ == "CallTimeoutError", error
        fs = fexec.map(noop, range(8))
        concurrent.futures.wait(fs, timeout=60, return_when=concurrent.futures.FIRST_COMPLETED)
        OUT["timeout_first"].append(time.perf_counter() - t0 - 1.0)

    OUT["cancel"] = []
    for i in range(SPEC["repeats"]):
        path = os.path.join(TMP, f"cancel{i}")
        running = fexec.call_async(pid_then_sleep, (path,))
        pid = wait_pid(path)
        t0 = time.perf_counter()
        running.cancel()
        while not gone(pid) and time.perf_counter() - t0 < 10:
            time.sleep(0.001)
        OUT["cancel"].append(time.perf_counter() - t0)

    OUT["backups"], OUT["no_backups"] = [], []
    for backups in ([True, False] if SPEC["without_backups"] else [True]):
        marker = os.path.join(TMP, f"straggler-{backups}")
        t0 = time.perf_counter()
        fs = fexec.map(straggle, [(x, marker) for x in range(20)], backups=backups)
        assert fexec.get_result(fs) == list(range(20))
        OUT["backups" if backups else "no_backups"].append(time.perf_counter() - t0)
    print("BENCH_FAILURES", json.dumps(OUT), flush=True)
    """
)

_PPE = _COMMON + textwrap.dedent(
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    busy = os.cpu_count() or 1  # the default pool size: every worker gets a sleeper
    for i in range(SPEC["repeats"]):
        pool = ProcessPoolExecutor()
        list(pool.map(noop, range(8)))
        paths = [os.path.join(TMP, f"pid{i}-{k}") for k in range(busy)]
        sleepers = [pool.submit(pid_then_sleep, p) for p in paths]
        pid = [wait_pid(p) for p in paths][0]
        victim = sleepers[0]
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        error = victim.exception(timeout=60)
        OUT["killed"].append(time.perf_counter() - t0)
        OUT["errors"].append(type(error).__name__)
        pool.shutdown(wait=False)
        pool = ProcessPoolExecutor()  # a broken pool takes no more work: the user makes anew
        fs = [pool.submit(noop, x) for x in range(8)]
        wait(fs, timeout=60, return_when=FIRST_COMPLETED)
        OUT["first"].append(time.perf_counter() - t0)
        pool.shutdown()
    print("BENCH_FAILURES", json.dumps(OUT), flush=True)
    """
)

_LITHOPS38 = _COMMON + textwrap.dedent(
    """
    import lithops
    from lithops.wait import ANY_COMPLETED

    fexec = lithops.FunctionExecutor()
    fexec.get_result(fexec.map(noop, range(2)))
    path = os.path.join(TMP, "pid")
    victim = fexec.call_async(pid_then_sleep, (path,))
    pid = wait_pid(path, 120)
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    fs = fexec.map(noop, range(8))
    done, _ = fexec.wait(fs, return_when=ANY_COMPLETED, timeout=SPEC["cap"],
                         show_progressbar=False)
    OUT["first"].append(time.perf_counter() - t0 if done else None)
    done, _ = fexec.wait([victim], timeout=SPEC["cap"], throw_except=False,
                         show_progressbar=False)
    OUT["killed"].append(time.perf_counter() - t0 if done else None)
    OUT["errors"].append(f"error={victim.error}" if done else f"nothing after {SPEC['cap']} s")
    print("BENCH_FAILURES", json.dumps(OUT), flush=True)
    os._exit(0)  # its monitor threads would keep waiting for the killed task
    """
)

_CODE = {"ours": _OURS, "ppe": _PPE, "lithops38": _LITHOPS38}


def _run(ctx: BenchContext, peer: str, spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run the peer's child script; its JSON result, or ``{"error": ...}``."""
    with ctx.peers.session(peer) as session:
        out = session._run([session.python, "-c", _CODE[peer], json.dumps(spec)], timeout_s)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-4:])
    return {"error": f"no result ({out.exit_note or 'exit ' + str(out.returncode)}): {tail}"}


def _cell(data: dict[str, Any], key: str) -> Measurement:
    if "error" in data:
        return Measurement(error=data["error"])
    samples = data.get(key) or []
    if any(s is None for s in samples):
        return Measurement(override=float(L38_CAP_S), prefix=">", note="never noticed")
    return Measurement(samples=[float(s) for s in samples])


@scenario("f", "(f) failure recovery: killed worker, call timeout, cancel, straggler")
def failure_recovery(ctx: BenchContext) -> ScenarioReport:
    killed = Case("SIGKILL of a worker, all busy: kill -> its call's error")
    recovery = Case("SIGKILL of a worker, all busy: kill -> next map's first result")
    timeout = Case("timeout=1 s on a call that never returns: deadline -> error")
    timeout_first = Case("timeout=1 s: deadline -> next map's first result")
    cancel = Case("cancel() of a running call: -> its worker process gone")
    straggler = Case("20 calls, one 30 s straggler (first attempt only): map time")
    report = ScenarioReport(cases=[killed, recovery, timeout, timeout_first, cancel, straggler])
    repeats = 3 if ctx.quick else 5
    for peer in [p for p in ("ours", "ppe", "lithops38") if ctx.wants(p)]:
        spec = {
            "repeats": 1 if peer == "lithops38" else repeats,
            "cap": L38_CAP_S,
            "without_backups": not ctx.quick,
        }
        ctx.log(f"(f) {peer}: failure recovery x{spec['repeats']}")
        data = _run(ctx, peer, spec, timeout_s=300 if peer == "ours" else 180)
        killed.cells[peer] = _cell(data, "killed")
        recovery.cells[peer] = _cell(data, "first")
        if data.get("errors"):
            killed.notes.append(f"{peer}: {sorted(set(data['errors']))}")
        if peer == "ours":
            timeout.cells[peer] = _cell(data, "timeout_over")
            timeout_first.cells[peer] = _cell(data, "timeout_first")
            cancel.cells[peer] = _cell(data, "cancel")
            straggler.cells["ours backups=True"] = _cell(data, "backups")
            if data.get("no_backups"):
                straggler.cells["ours"] = _cell(data, "no_backups")
    report.notes.append(
        "PPE: a killed worker breaks the whole pool (BrokenProcessPool fails every pending "
        "call); its recovery includes making a new pool. Lithops 3.8 gets "
        f"{L38_CAP_S} s to notice a killed task; '>' means it never did"
    )
    report.notes.extend(f"{case.title}: {'; '.join(case.notes)}" for case in report.cases
                        if case.notes)  # fmt: skip

    def ours(case: Case, column: str = "ours") -> float | None:
        cell = case.cells.get(column)
        return cell.value if cell is not None else None

    report.checks += [
        Check("(f) killed worker, all busy: ours, kill -> next map's first result (s)",
              ours(recovery), 1.0),
        Check("(f) killed worker: ours, kill -> error on its call (s)", ours(killed), 1.0),
        Check("(f) 20 calls with a 30 s straggler, backups=True (s)",
              ours(straggler, "ours backups=True"), 10.0),
    ]  # fmt: skip
    return report
