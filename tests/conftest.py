"""Fixtures for real components: the Docker engine, the plain python3 image, SSH test hosts.

A component that cannot be started makes its tests skip with the reason on a developer
machine, and fail when ``CI=true`` (CI must never pass by skipping). Everything a run
starts (engine, containers, networks) is stopped or removed by the same run, by id/PID.

Fixtures (see tests/testbed/ for the classes):

- ``docker_engine`` (session): :class:`testbed.DockerEngine`; ``.host`` is the
  ``DOCKER_HOST`` URL (also exported for the session), ``.client()`` a ``docker.DockerClient``.
- ``python_image`` (session): tag of the python3-only Debian bookworm image (Python 3.11).
- ``busybox_image`` (session): ``busybox:latest``, imported locally (moto's Lambda wants it).
- ``ssh_hosts``: two running bookworm :class:`testbed.SshHost`; shared by the session but
  revived (recreated) before each test if an earlier test killed one. Tests that need a
  pristine host, or kill/recreate one, should use ``ssh_host_factory`` instead.
- ``ssh_host_factory``: ``make(image="bookworm"|"bullseye", name=None) -> SshHost``;
  hosts are removed when the test ends.
- ``lithops_home``: a temporary ``HOME`` (so ``~/.lithops`` never touches the real home).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

# Importable whether or not tests/ becomes a package (rootdir vs. package-relative import).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from testbed import (
    SESSION_LABEL,
    DockerEngine,
    SshHost,
    SshHostFactory,
    TestbedUnavailable,
    ensure_busybox_image,
    ensure_engine,
    ensure_python_image,
    stop_engine,
)

IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"testbed component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


_FIXTURE_MARKERS = {
    "docker_engine": "docker",
    "python_image": "docker",
    "busybox_image": "docker",
    "ssh_hosts": "ssh",
    "ssh_host_factory": "ssh",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Mark by fixture use, so `-m "not docker and not ssh"` runs without the testbed.
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker in sorted({m for f, m in _FIXTURE_MARKERS.items() if f in names}):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    try:
        engine = ensure_engine()
    except TestbedUnavailable as exc:
        unavailable(str(exc))
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host
    try:
        yield engine
    finally:
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous
        if engine.pid is not None:
            _stop_engine_unless_shared(engine)
        engine.close_clients()


def _stop_engine_unless_shared(engine: DockerEngine) -> None:
    # Another pytest run may have started using the engine this run started; stopping it
    # would break that run, so leave it up (it is reused next time) and say so.
    assert engine.pid is not None
    others = engine.client().containers.list(filters={"label": SESSION_LABEL})
    if others:
        print(f"[testbed] leaving dockerd (pid {engine.pid}) up: other runs use it")
        return
    stop_engine(engine.pid)


@pytest.fixture(scope="session")
def python_image(docker_engine: DockerEngine) -> str:
    try:
        return ensure_python_image(docker_engine, "bookworm")
    except TestbedUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def busybox_image(docker_engine: DockerEngine) -> str:
    try:
        return ensure_busybox_image(docker_engine)
    except TestbedUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def _session_host_factory(docker_engine: DockerEngine) -> Iterator[SshHostFactory]:
    factory = SshHostFactory(docker_engine)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def _session_ssh_hosts(_session_host_factory: SshHostFactory) -> list[SshHost]:
    try:
        return [_session_host_factory.make("bookworm") for _ in range(2)]
    except TestbedUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture
def ssh_hosts(_session_ssh_hosts: list[SshHost]) -> list[SshHost]:
    for host in _session_ssh_hosts:
        if not host.is_running():
            host.recreate()
    return list(_session_ssh_hosts)


@pytest.fixture
def ssh_host_factory(docker_engine: DockerEngine) -> Iterator[Callable[..., SshHost]]:
    factory = SshHostFactory(docker_engine)

    def make(image: str = "bookworm", name: str | None = None) -> SshHost:
        try:
            return factory.make(image, name)
        except TestbedUnavailable as exc:
            unavailable(str(exc))

    try:
        yield make
    finally:
        factory.close()


@pytest.fixture
def lithops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # An inherited config file would leak the developer's settings into the test.
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    return home
