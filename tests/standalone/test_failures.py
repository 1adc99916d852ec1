"""What the user sees when hosts are unreachable, die, change keys or run another Python."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from standalone_helpers import agent_processes, ssh_config, wait_until

import lithops
from lithops.errors import BackendUnavailableError, WorkerLostError
from lithops_standalone.errors import (
    HostKeyChangedError,
    HostUnreachableError,
    PythonVersionMismatchError,
)
from lithops_standalone.known_hosts import forget_host

pytestmark = pytest.mark.ssh


def _hostname(_: Any = None) -> str:
    return socket.gethostname()


def test_unreachable_host_fails_with_a_clear_error_within_start_timeout(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    host.kill()  # its address now answers nothing at all
    config = ssh_config([host], start_timeout=4)
    with lithops.FunctionExecutor(config=config) as fexec:
        start = time.monotonic()  # hosts are reached on the first call
        with pytest.raises(HostUnreachableError) as info:
            fexec.call_async(_hostname).result()
        elapsed = time.monotonic() - start
    print(f"unreachable host reported after {elapsed:.2f} s (start_timeout 4 s)")
    assert elapsed <= 4 + 0.5
    message = str(info.value)
    assert host.address in message and "start_timeout" in message


def _sleep_on(victim: str) -> Callable[[int], str]:
    def work(_: int) -> str:
        here = socket.gethostname()
        time.sleep(60 if here == victim else 1)
        return here

    return work


def test_host_killed_mid_job_fails_its_calls_with_worker_lost_and_the_wait_returns(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    victim, survivor = ssh_host_factory(), ssh_host_factory()
    config = ssh_config([victim, survivor], workers=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        futures = fexec.map(_sleep_on(victim.name), range(4))
        assert wait_until(
            lambda: len([p for p in agent_processes(victim) if "lithops.worker" in p]) >= 2, 10
        )
        time.sleep(1.0)  # the victim's two calls are running
        victim.kill()
        killed = time.monotonic()
        _, not_done = fexec.wait(futures, timeout=30, throw_except=False)
        waited = time.monotonic() - killed
    print(f"wait returned {waited:.2f} s after the host was killed")
    assert not not_done and waited <= 10
    lost = [f for f in futures if isinstance(f.exception(), WorkerLostError)]
    ok = [f.result() for f in futures if f.exception() is None]
    assert len(lost) == 2 and ok == [survivor.name] * 2
    assert victim.name in str(lost[0].exception()) or victim.address in str(lost[0].exception())


def test_changed_host_key_is_refused_with_a_way_to_accept_it(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host])
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_hostname).result() == host.name
    recorded = (lithops_home / ".lithops" / "known_hosts").read_text()
    assert host.address in recorded

    host.recreate()  # same address, new host key
    with pytest.raises(HostKeyChangedError) as info, lithops.FunctionExecutor(config=config) as fx:
        fx.call_async(_hostname).result()
    message = str(info.value)
    assert "forget-host" in message and host.address in message and "known_hosts" in message

    assert forget_host(host.address) == 1
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_hostname).result() == host.name


def test_wrong_python_minor_on_the_host_is_refused_before_any_work(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    host = ssh_host_factory("bullseye")  # Python 3.9
    config = ssh_config([host])
    with (
        pytest.raises(PythonVersionMismatchError) as info,
        lithops.FunctionExecutor(config=config) as fx,
    ):
        fx.call_async(_hostname).result()
    message = str(info.value)
    assert "3.9" in message and "3.11" in message
    assert isinstance(info.value, BackendUnavailableError)
    code, _ = host.exec("test -e /home/lithops/.lithops")
    assert code != 0, "nothing may be uploaded to a host with the wrong Python"


def test_with_retries_the_calls_of_a_killed_host_rerun_on_the_other_host(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    victim, survivor = ssh_host_factory(), ssh_host_factory()
    config = ssh_config([victim, survivor], workers=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        futures = fexec.map(_sleep_on(victim.name), range(4), retries=1)
        assert wait_until(
            lambda: len([p for p in agent_processes(victim) if "lithops.worker" in p]) >= 2, 10
        )
        time.sleep(1.0)
        victim.kill()
        results = fexec.get_result(futures, timeout=30)
        assert results == [survivor.name] * 4
        # The executor goes on with the host it has left.
        assert fexec.get_result(fexec.map(_hostname, range(6))) == [survivor.name] * 6


def test_a_frozen_host_that_keeps_its_connections_open_is_declared_lost_by_the_watchdog(
    ssh_host_factory: Callable[..., Any], lithops_home: Any
) -> None:
    # Every process of the host stopped (SIGSTOP): its TCP connections stay open but nothing
    # answers, like a VM that hangs or a network that drops packets silently. Only the ping
    # watchdog can notice.
    victim, survivor = ssh_host_factory(), ssh_host_factory()
    config = ssh_config([victim, survivor], workers=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        futures = fexec.map(_sleep_on(victim.name), range(4))
        assert wait_until(
            lambda: len([p for p in agent_processes(victim) if "lithops.worker" in p]) >= 2, 10
        )
        victim.exec("kill -STOP -1")
        try:
            frozen = time.monotonic()
            _, not_done = fexec.wait(futures, timeout=30, throw_except=False)
            waited = time.monotonic() - frozen
        finally:
            victim.exec("kill -CONT -1")
    print(f"frozen host declared lost after {waited:.2f} s")
    assert not not_done and waited <= 10
    lost = [f for f in futures if isinstance(f.exception(), WorkerLostError)]
    assert len(lost) == 2 and "stopped answering" in str(lost[0].exception())
