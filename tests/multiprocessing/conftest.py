"""Fixtures of the multiprocessing tests: a real redis-server per test; the standalone
helpers are shared with these tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE.parent / "standalone")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from redis_server import RedisServer  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"testbed component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server on 127.0.0.1, this test's own (stopped by PID afterwards)."""
    server = _start(tmp_path, ("127.0.0.1",))
    try:
        yield server
    finally:
        server.stop()


def _start(workdir: Path, addresses: tuple[str, ...]) -> RedisServer:
    try:
        return RedisServer(workdir, addresses)
    except (FileNotFoundError, RuntimeError, ImportError) as exc:
        _unavailable(str(exc))
        raise


@pytest.fixture
def redis_on_test_network(tmp_path: Path, ssh_hosts: list[Any]) -> Iterator[RedisServer]:
    """A redis-server bound to 127.0.0.1 and to the docker host's address on the SSH hosts'
    test network (created by this run), so calls on those hosts reach it."""
    gateway = network_gateway(ssh_hosts[0])
    server = _start(tmp_path, (gateway, "127.0.0.1"))
    try:
        yield server
    finally:
        server.stop()


def network_gateway(host: Any) -> str:
    """The docker host's address on the test network of ``host``, from the engine's record."""
    host.container.reload()
    networks = host.container.attrs["NetworkSettings"]["Networks"]
    for settings in networks.values():
        if settings.get("IPAddress") == host.address and settings.get("Gateway"):
            gateway = str(settings["Gateway"])
            assert gateway.startswith("10.213."), f"{gateway} is not a test subnet address"
            return gateway
    raise RuntimeError(f"no gateway for {host.address} in {list(networks)}")
