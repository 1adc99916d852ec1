"""Agents stop by themselves when nobody uses them, leaving no process on the host."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from standalone_helpers import agent_processes, ssh_config, wait_until

import lithops
from lithops.errors import WorkerLostError

pytestmark = pytest.mark.ssh


def _noop(x: int) -> int:
    return x


def test_agent_dismantles_after_soft_timeout_and_leaves_no_process(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], soft_dismantle_timeout=3)
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.get_result(fexec.map(_noop, range(8))) == list(range(8))
        assert any("lithops_standalone.agent" in p for p in agent_processes(host))
        assert any("lithops.worker" in p for p in agent_processes(host))
    released = time.monotonic()

    # Still there before the timeout: the next executor would reuse it.
    time.sleep(1.0)
    assert any("lithops_standalone.agent" in p for p in agent_processes(host))
    assert wait_until(lambda: not agent_processes(host), timeout=10)
    gone = time.monotonic() - released
    print(f"no agent process {gone:.1f} s after release (soft_dismantle_timeout 3 s)")
    assert 3 <= gone <= 6
    code, _ = host.exec("test -e /home/lithops/.lithops/standalone/*/agent-*.sock")
    assert code != 0


def test_attached_client_keeps_the_agent_alive_past_the_soft_timeout(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], soft_dismantle_timeout=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        fexec.call_async(_noop, 1).result()
        time.sleep(4)
        assert fexec.call_async(_noop, 2).result() == 2
        first_pid = [p for p in agent_processes(host) if "lithops_standalone.agent" in p]
    assert len(first_pid) == 1


def test_docker_runtime_container_is_removed_on_dismantle(
    ssh_host_factory: Callable[..., Any],
    python_image: str,
    docker_engine: Any,
    lithops_home: Any,
) -> None:
    host = ssh_host_factory()
    client = docker_engine.client()

    def runtime_containers() -> list[Any]:
        label = f"lithops.client_host={host.name}"
        return client.containers.list(filters={"label": label}, ignore_removed=True)

    config = ssh_config([host], runtime=python_image, soft_dismantle_timeout=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_noop, 5).result() == 5
    assert runtime_containers(), "the runtime container should exist while the agent is up"
    assert wait_until(lambda: not runtime_containers() and not agent_processes(host), timeout=15)


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_hard_timeout_stops_an_agent_whose_calls_hang(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], soft_dismantle_timeout=2, hard_dismantle_timeout=3)
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(_sleep, 60)
        start = time.monotonic()
        with pytest.raises(WorkerLostError, match="hard_dismantle_timeout"):
            future.result(timeout=30)
        elapsed = time.monotonic() - start
    print(f"hung call failed {elapsed:.1f} s after submission (hard_dismantle_timeout 3 s)")
    assert elapsed <= 3 + 2
    assert wait_until(lambda: not agent_processes(host), 10)


def _agent_pids(host: Any) -> list[str]:
    return [p.split()[0] for p in agent_processes(host) if "lithops_standalone.agent" in p]


def test_an_idle_executor_outlives_its_agent_and_attaches_again(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    # An attached but idle client does not keep the agent past hard_dismantle_timeout.
    config = ssh_config([host], soft_dismantle_timeout=2, hard_dismantle_timeout=3)
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_noop, 1).result() == 1
        first = _agent_pids(host)
        assert len(first) == 1
        assert wait_until(lambda: not agent_processes(host), 10)
        start = time.monotonic()
        assert fexec.get_result(fexec.map(_noop, range(10))) == list(range(10))
        print(f"attached again to a fresh agent in {time.monotonic() - start:.2f} s")
        second = _agent_pids(host)
        assert len(second) == 1 and second != first


def test_an_agent_stopped_with_sigterm_leaves_nothing_and_the_executor_goes_on(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host])
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.get_result(fexec.map(_noop, range(4))) == list(range(4))
        (pid,) = _agent_pids(host)
        host.exec(f"kill -TERM {pid}", user="lithops")
        assert wait_until(lambda: not agent_processes(host), 10)
        assert fexec.call_async(_noop, 7).result() == 7
