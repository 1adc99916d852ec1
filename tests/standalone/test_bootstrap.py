"""Bootstrapping a host that has only python3, and reusing it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from standalone_helpers import agent_processes, ssh_config

import lithops

pytestmark = pytest.mark.ssh


def _square(x: int) -> int:
    return x * x


def _first_result_seconds(config: dict[str, Any]) -> float:
    start = time.monotonic()
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(_square, 7)
        assert future.result() == 49
        return time.monotonic() - start


def test_fresh_host_answers_within_10s_and_a_second_executor_within_1s(fresh_host: Any) -> None:
    config = ssh_config([fresh_host])
    code, _ = fresh_host.exec("test -e /home/lithops/.lithops")
    assert code != 0, "the host must start pristine"

    cold = _first_result_seconds(config)
    warm = _first_result_seconds(config)
    print(f"fresh host first result {cold:.2f} s, second executor first result {warm:.2f} s")

    assert cold <= 10.0
    assert warm <= 1.0
    code, out = fresh_host.exec("ls /home/lithops/.lithops/standalone")
    assert code == 0 and len(out.split()) == 1, out
    # One agent serves both executors.
    agents = [p for p in agent_processes(fresh_host) if "lithops_standalone.agent" in p]
    assert len(agents) == 1, agents


def test_host_needs_no_pip_and_keeps_nothing_outside_its_directory(fresh_host: Any) -> None:
    code, _ = fresh_host.exec("python3 -m pip --version")
    assert code != 0, "the testbed host must not have pip"
    _first_result_seconds(ssh_config([fresh_host]))
    code, out = fresh_host.exec("ls -A /home/lithops")
    assert ".lithops" in out.split()
