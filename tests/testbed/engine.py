"""The Docker engine of the test run: reuse one that answers, else start ``dockerd``.

The engine runs without NAT or a default bridge (see TESTBED.md): user-defined bridge
networks still work, which is what the SSH test hosts use. Its data root is persistent so
images built once are reused by later runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import DockerException

from .errors import TestbedUnavailable
from .scratch import file_lock, log, scratch_dir

__all__ = [
    "DockerEngine",
    "engine_pid_from_pidfile",
    "ensure_engine",
    "running_engine",
    "stop_engine",
]

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0


@dataclass
class DockerEngine:
    """A running Docker engine.

    :ivar host: the ``DOCKER_HOST`` URL, e.g. ``unix:///var/tmp/lithops-testbed/docker.sock``.
    :ivar socket_path: filesystem path of the engine's unix socket (mounted into SSH hosts).
    :ivar pid: PID of the ``dockerd`` this process started, or ``None`` when it was reused.
    """

    host: str
    socket_path: Path
    pid: int | None = None
    started_in: float = 0.0
    _clients: list[docker.DockerClient] = field(default_factory=list, repr=False)

    @property
    def started_here(self) -> bool:
        return self.pid is not None

    def client(self) -> docker.DockerClient:
        """Return a Docker SDK client bound to this engine (closed at engine teardown)."""
        client = docker.DockerClient(base_url=self.host, version="auto", timeout=300)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def _paths() -> tuple[Path, Path, Path, Path]:
    root = scratch_dir()
    return root / "docker.sock", scratch_dir("data"), scratch_dir("exec"), root / "dockerd.pid"


def _answers(host: str) -> bool:
    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=5)
    except DockerException:
        return False
    try:
        return bool(client.ping())
    except DockerException:
        return False
    finally:
        client.close()


def running_engine() -> DockerEngine | None:
    """Return the testbed engine if one answers on its socket; never start one."""
    socket_path = _paths()[0]
    host = f"unix://{socket_path}"
    return DockerEngine(host=host, socket_path=socket_path) if _answers(host) else None


def ensure_engine() -> DockerEngine:
    """Return the testbed engine, starting ``dockerd`` if none answers on its socket.

    :raises TestbedUnavailable: ``dockerd`` is not installed or does not come up.
    """
    socket_path, data_root, exec_root, pidfile = _paths()
    host = f"unix://{socket_path}"
    with file_lock("engine"):
        if _answers(host):
            return DockerEngine(host=host, socket_path=socket_path)
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise TestbedUnavailable(
                "dockerd is not installed; run `./dev setup` (apt-get install docker.io)"
            )
        log_path = scratch_dir() / "dockerd.log"
        command = [
            dockerd,
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--ip6tables=false",
            "--host-gateway-ip=127.0.0.1",
            f"--data-root={data_root}",
            f"--exec-root={exec_root}",
            f"--pidfile={pidfile}",
            f"--host={host}",
        ]
        log(f"starting dockerd on {host} (log: {log_path})")
        began = time.monotonic()
        with open(log_path, "ab") as log_file:
            # Own session: the engine must outlive `python -m testbed up` and ignore the
            # terminal's Ctrl-C, which would otherwise kill it under running containers.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = began + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise TestbedUnavailable(
                    f"dockerd exited with code {process.returncode} at start; see {log_path}"
                )
            if _answers(host):
                elapsed = time.monotonic() - began
                log(f"dockerd (pid {process.pid}) ready in {elapsed:.1f}s")
                return DockerEngine(
                    host=host, socket_path=socket_path, pid=process.pid, started_in=elapsed
                )
            time.sleep(0.2)
        _terminate(process.pid)
        raise TestbedUnavailable(
            f"dockerd did not answer on {host} within {_START_TIMEOUT_S:.0f}s; see {log_path}"
        )


def stop_engine(pid: int) -> None:
    """Stop the ``dockerd`` with this PID (one this testbed started) and wait for it."""
    with file_lock("engine"):
        _terminate(pid)


def engine_pid_from_pidfile() -> int | None:
    """PID recorded by the ``dockerd`` the testbed started, if that process still runs."""
    pidfile = _paths()[3]
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    # Guard against a recycled PID: only ever signal a dockerd.
    return pid if os.path.basename(exe) == "dockerd" else None


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            log(f"dockerd (pid {pid}) stopped")
            return
        time.sleep(0.2)
    log(f"dockerd (pid {pid}) ignored SIGTERM for {_STOP_TIMEOUT_S:.0f}s; sending SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    # Reap it if it is our child, so a zombie does not count as alive.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
