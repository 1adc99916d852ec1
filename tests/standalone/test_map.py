"""Maps over several hosts: spreading, order, and the Docker environment."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from standalone_helpers import ssh_config

import lithops

pytestmark = pytest.mark.ssh


def _where(x: int) -> tuple[int, str]:
    return x, socket.gethostname()


def test_thousand_noop_calls_over_two_hosts_come_back_in_order_from_both(
    ssh_hosts: list[Any], lithops_home: Any
) -> None:
    config = ssh_config(ssh_hosts)
    with lithops.FunctionExecutor(config=config) as fexec:
        fexec.call_async(_where, -1).result()  # attach and warm both hosts first
        start = time.monotonic()
        futures = fexec.map(_where, range(1000))
        results = fexec.get_result(futures)
        elapsed = time.monotonic() - start
    print(f"1000 no-op calls on two hosts: {elapsed:.2f} s")
    assert [x for x, _ in results] == list(range(1000))
    hostnames = {h for _, h in results}
    assert hostnames == {h.name for h in ssh_hosts}


def test_calls_spread_over_hosts_by_free_slots(ssh_hosts: list[Any], lithops_home: Any) -> None:
    config = ssh_config(ssh_hosts, workers=2)
    with lithops.FunctionExecutor(config=config) as fexec:
        futures = fexec.map(_sleep_where, [0.5] * 4)
        results = fexec.get_result(futures)
    # Four slots over two hosts: every call starts at once, two on each host.
    assert sorted(h for h in results) == sorted([h.name for h in ssh_hosts] * 2)


def _sleep_where(seconds: float) -> str:
    time.sleep(seconds)
    return socket.gethostname()


def _inside() -> dict[str, Any]:
    import os

    with open("/etc/os-release") as fh:
        release = dict(line.rstrip().split("=", 1) for line in fh if "=" in line)
    return {
        "dockerenv": os.path.exists("/.dockerenv"),
        "os": release.get("PRETTY_NAME", "").strip('"'),
        "hostname": socket.gethostname(),
        # The SSH host image has sshd; the runtime image has nothing but python3.
        "sshd": os.path.exists("/usr/sbin/sshd"),
    }


def test_docker_runtime_runs_calls_inside_a_container_on_the_host(
    ssh_hosts: list[Any], python_image: str, docker_engine: Any, lithops_home: Any
) -> None:
    host = ssh_hosts[0]
    config = ssh_config([host], runtime=python_image)
    with lithops.FunctionExecutor(config=config) as fexec:
        inside = fexec.call_async(_inside).result()
    assert inside["dockerenv"] is True
    assert "bookworm" in inside["os"]
    assert inside["hostname"] != host.name  # a container of its own, not the host itself
    assert inside["sshd"] is False


def test_a_runtime_image_missing_on_the_host_fails_the_calls_with_a_clear_error(
    ssh_hosts: list[Any], docker_engine: Any, lithops_home: Any
) -> None:
    from lithops.errors import BackendUnavailableError

    config = ssh_config(ssh_hosts[:1], runtime="lithops-test/no-such-image:0")
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(_where, 1)
        with pytest.raises(BackendUnavailableError, match="no-such-image"):
            future.result(timeout=60)
