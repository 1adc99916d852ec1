"""Helpers for standalone tests: configs pointing at the testbed's SSH hosts, host probes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def ssh_config(hosts: Sequence[Any], workers: int | None = 2, **standalone: Any) -> dict[str, Any]:
    """A config running on ``hosts`` (testbed ``SshHost`` objects) as their login user."""
    entries = [
        {
            "address": h.address,
            "port": h.port,
            "user": getattr(h, "login", None) or h.user,
            "key_filename": h.key_filename,
            **({"worker_processes": workers} if workers else {}),
        }
        for h in hosts
    ]
    settings = {"start_timeout": 60, **standalone}
    return {"lithops": {"backend": "ssh"}, "ssh": {"hosts": entries}, "standalone": settings}


def agent_processes(host: Any) -> list[str]:
    """Our processes on ``host`` (agent, relays, workers), from its process table."""
    _, out = host.exec("ps -eo pid,args")
    return [
        line.strip()
        for line in out.splitlines()
        if "lithops_standalone" in line or "lithops.worker" in line
    ]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
