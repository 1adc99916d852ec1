"""Measurement probe: runs inside the interpreter of the peer under test.

Usage: ``python probe.py '<json spec>'``. Prints one line ``BENCH_RESULT <json>`` at the end.
Standard library only (plus ``lithops`` for the lithops API), because it runs in Lithops 3.8's
venv too. The task functions live here, in ``__main__``, so every peer ships them the same way
(cloudpickle by value for Lithops, fork inheritance for ProcessPoolExecutor).

Spec keys: ``api`` ("lithops" or "ppe"), ``task`` ("noop", "echo", "spin", "nested"), ``n``
(calls), ``repeats``, ``warmup`` (no-op calls run before timing), ``size`` (bytes, echo),
``iters`` (loop length, spin), ``no_data_limit`` (lift the per-call argument limit).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any


def noop(x: Any) -> Any:
    return x


def echo(b: bytes) -> bytes:
    return b


def spin(iters: int) -> int:
    # A pure-Python loop: holds the GIL, so only processes give parallelism.
    acc = 0
    for i in range(iters):
        acc = (acc + i * i) % 1000003
    return acc


def nested(arg: str) -> Any:
    """Open an executor of the same kind inside the call and map one no-op on it.

    ``arg`` is ``"<api>:<int>"`` (a tuple would be spread into arguments by lithops' map).
    """
    api, number = arg.split(":")
    x = int(number)
    if api == "lithops":
        import lithops

        with lithops.FunctionExecutor() as inner:
            return inner.get_result(inner.map(noop, [x]))[0]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        return pool.submit(noop, x).result()


TASKS: dict[str, Callable[[Any], Any]] = {
    "noop": noop,
    "echo": echo,
    "spin": spin,
    "nested": nested,
}


def make_args(spec: dict[str, Any]) -> list[Any]:
    task, n = spec["task"], int(spec["n"])
    if task == "noop":
        return list(range(n))
    if task == "echo":
        # Distinct random payloads: no pickle memo sharing, no compression shortcut.
        return [os.urandom(int(spec["size"])) for _ in range(n)]
    if task == "spin":
        return [int(spec["iters"])] * n
    if task == "nested":
        return [f"{spec['api']}:{i}" for i in range(n)]
    raise ValueError(f"unknown task {task!r}")


def check_results(task: str, args: list[Any], results: list[Any]) -> None:
    if len(results) != len(args):
        raise AssertionError(f"expected {len(args)} results, got {len(results)}")
    if task == "nested" and results != list(range(len(args))):
        raise AssertionError("nested results differ from the arguments")
    if task == "noop" and results != args:
        raise AssertionError("no-op results differ from the arguments")
    if task == "echo" and any(len(r) != len(a) for r, a in zip(results, args, strict=True)):
        raise AssertionError("echo results have the wrong size")


def report_sample(seconds: float) -> float:
    # Printed as it happens: if a later repeat hangs and the run is killed, this one survives.
    print(f"BENCH_SAMPLE {seconds!r}", flush=True)
    return seconds


def run_lithops(spec: dict[str, Any], args: list[Any]) -> tuple[list[float], dict[str, Any]]:
    import lithops

    func = TASKS[spec["task"]]
    if spec.get("no_data_limit") and not lithops.__version__.startswith("3."):
        # Ours refuses more than 4 MiB of arguments per call by default, as Lithops does;
        # Lithops 3.8 gets `data_limit: false` from the config file the bench writes for it.
        fexec = lithops.FunctionExecutor(config={"lithops": {"data_limit": False}})
    else:
        fexec = lithops.FunctionExecutor()
    info: dict[str, Any] = {"lithops_version": getattr(lithops, "__version__", "?")}
    warmup = int(spec.get("warmup", 0))
    if warmup:
        t = time.perf_counter()
        got = fexec.get_result(fexec.map(noop, list(range(warmup))))
        info["warmup_s"] = time.perf_counter() - t
        check_results("noop", list(range(warmup)), got)
    samples = []
    for _ in range(int(spec["repeats"])):
        t = time.perf_counter()
        results = fexec.get_result(fexec.map(func, args))
        samples.append(report_sample(time.perf_counter() - t))
        check_results(spec["task"], args, results)
    return samples, info


def run_ppe(spec: dict[str, Any], args: list[Any]) -> tuple[list[float], dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor

    func = TASKS[spec["task"]]
    info: dict[str, Any] = {"max_workers": os.cpu_count()}
    with ProcessPoolExecutor() as pool:
        warmup = int(spec.get("warmup", 0))
        if warmup:
            t = time.perf_counter()
            got = [f.result() for f in [pool.submit(noop, i) for i in range(warmup)]]
            info["warmup_s"] = time.perf_counter() - t
            check_results("noop", list(range(warmup)), got)
        samples = []
        for _ in range(int(spec["repeats"])):
            t = time.perf_counter()
            futures = [pool.submit(func, a) for a in args]
            results = [f.result() for f in futures]
            samples.append(report_sample(time.perf_counter() - t))
            check_results(spec["task"], args, results)
    return samples, info


def run_single(spec: dict[str, Any]) -> tuple[list[float], dict[str, Any]]:
    """Time the task in this process, one call at a time (the single-core reference)."""
    func = TASKS[spec["task"]]
    arg = make_args({**spec, "n": 1})[0]
    samples = []
    for _ in range(int(spec["repeats"])):
        t = time.perf_counter()
        func(arg)
        samples.append(time.perf_counter() - t)
    return samples, {}


def calibrate(target_s: float) -> tuple[list[float], dict[str, Any]]:
    """Find the spin() length that takes ``target_s`` on one core of this machine.

    Rescales until a run lands within 10% of the target, keeping the fastest of three timings
    each round: other load on the machine only ever makes a run slower.
    """
    iters = 200_000
    while True:
        t = time.perf_counter()
        spin(iters)
        if time.perf_counter() - t > 0.05:
            break
        iters *= 2
    took = target_s
    for _ in range(6):
        timings = []
        for _ in range(3):
            t = time.perf_counter()
            spin(iters)
            timings.append(time.perf_counter() - t)
        took = min(timings)
        if abs(took - target_s) <= 0.1 * target_s:
            break
        iters = int(iters * target_s / took)
    return [took], {"iters": iters}


def main() -> int:
    spec = json.loads(sys.argv[1])
    out: dict[str, Any] = {"samples": [], "info": {}, "error": None}
    try:
        if spec["api"] == "calibrate":
            out["samples"], out["info"] = calibrate(float(spec["target_s"]))
        elif spec["api"] == "single":
            out["samples"], out["info"] = run_single(spec)
        else:
            args = make_args(spec)
            runner = run_lithops if spec["api"] == "lithops" else run_ppe
            out["samples"], out["info"] = runner(spec, args)
    except BaseException as exc:  # report any failure of the peer as data, never crash
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()[-3000:]
    sys.stdout.flush()
    print("BENCH_RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
