"""Standalone scenario (s): SSH hosts bootstrapped by our client, vs our localhost backend.

Needs the testbed (tests/testbed): a Docker engine and SSH host containers with python3 only,
on a network of their own. Not a default scenario: ``python3 bench/run.py --scenarios s``.
Lithops 3.8 has no column: its standalone ``vm`` backend does not work (see TESTBED.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from registry import BenchContext, Case, Check, Measurement, ScenarioReport, ratio, scenario

__all__ = ["standalone"]

REPO = Path(__file__).resolve().parent.parent
CALLS = 1_000


def _noop(x: int) -> int:
    return x


def _ssh_config(hosts: list[Any], **standalone: Any) -> dict[str, Any]:
    return {
        "lithops": {"backend": "ssh"},
        "ssh": {
            "hosts": [
                {
                    "address": h.address,
                    "port": h.port,
                    "user": h.user,
                    "key_filename": h.key_filename,
                }
                for h in hosts
            ]
        },
        "standalone": {"start_timeout": 120, **standalone},
    }


@contextmanager
def _private_home() -> Iterator[None]:
    """``~/.lithops`` (known_hosts, logs) in a scratch directory for the scenario."""
    previous = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="lithops-bench-home-") as home:
        os.environ["HOME"] = home
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous


def _first_result(config: dict[str, Any]) -> float:
    import lithops

    start = time.perf_counter()
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_noop, 1).result() == 1
        return time.perf_counter() - start


def _noop_map(config: dict[str, Any], repeats: int) -> list[float]:
    import lithops

    samples = []
    with lithops.FunctionExecutor(config=config) as fexec:
        fexec.get_result(fexec.map(_noop, range(64)))  # warm every worker first
        for _ in range(repeats):
            start = time.perf_counter()
            result = fexec.get_result(fexec.map(_noop, range(CALLS)))
            samples.append(time.perf_counter() - start)
            assert result == list(range(CALLS))
    return samples


def _measure(func: Callable[[], list[float]]) -> Measurement:
    try:
        return Measurement(samples=func())
    except Exception as exc:  # one failing row must not lose the others
        return Measurement(error=f"{type(exc).__name__}: {exc}")


@scenario(
    "s",
    "(s) standalone over SSH: bootstrap, warm first result, 1,000 no-op calls on two hosts",
    default=False,
)
def standalone(ctx: BenchContext) -> ScenarioReport:
    sys.path.insert(0, str(REPO / "tests"))
    from testbed import SshHostFactory, TestbedUnavailable, ensure_engine

    cold = Case("fresh host: first result incl. bootstrap")
    warm = Case("second executor on a bootstrapped host: first result")
    noop = Case(f"{CALLS:,} no-op calls, warm executor (ssh: two hosts)")
    report = ScenarioReport(cases=[cold, warm, noop])
    repeats = 3 if ctx.quick else 5
    report.notes.append(
        "hosts: testbed containers (Debian bookworm, python3 only, sshd) on this machine's "
        "Docker engine, so they share its cores with the client; worker_processes = their CPU "
        "count. Timed in the bench process: FunctionExecutor() to the first result in hand "
        "(cold: each repeat on a brand-new host; warm: an executor after another one)"
    )
    try:
        engine = ensure_engine()
    except TestbedUnavailable as exc:
        report.notes.append(f"scenario skipped: {exc}")
        return report
    factory = SshHostFactory(engine)
    try:
        with _private_home():
            ctx.log(f"(s) ssh: bootstrap of a fresh host x{repeats}")

            def cold_samples() -> list[float]:
                return [_first_result(_ssh_config([factory.make()])) for _ in range(repeats)]

            cold.cells["ssh"] = _measure(cold_samples)
            pair = [factory.make(), factory.make()]
            config = _ssh_config(pair)
            _first_result(config)  # bootstrap both hosts
            ctx.log(f"(s) ssh: warm first result x{repeats}")
            warm.cells["ssh"] = _measure(lambda: [_first_result(config) for _ in range(repeats)])
            ctx.log(f"(s) ssh: {CALLS} no-op calls on two hosts x{repeats}")
            noop.cells["ssh"] = _measure(lambda: _noop_map(config, repeats))
            ctx.log(f"(s) localhost: {CALLS} no-op calls x{repeats}")
            local = {"lithops": {"backend": "localhost"}}
            noop.cells["localhost"] = _measure(lambda: _noop_map(local, repeats))
            warm.cells["localhost"] = _measure(
                lambda: [_first_result(local) for _ in range(repeats)]
            )
    finally:
        factory.close()
    warm.notes.append("localhost: the process's warm pool is shared by executors (no connection)")
    noop.ratios["ssh/localhost"] = ratio(noop.cells.get("ssh"), noop.cells.get("localhost"))
    warm.ratios["ssh/localhost"] = ratio(warm.cells.get("ssh"), warm.cells.get("localhost"))
    report.checks.append(Check("(s) fresh host first result (s)", cold.cells["ssh"].value, 10))
    report.checks.append(Check("(s) second executor first result (s)", warm.cells["ssh"].value, 1))
    return report
