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
    "unmount_below",
]

# A start that keeps logging is making progress (dockerd logs each stale container or
# sandbox it removes); one that logs nothing for _START_QUIET_S is stuck.
_START_QUIET_S = 60.0
_START_TIMEOUT_S = 600.0
_STOP_TIMEOUT_S = 30.0
_LOG_TAIL_LINES = 15


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
        stale = engine_pid_from_pidfile()
        if stale is not None:
            # Ours (pidfile + exe checked) but not answering: hung or killed mid-start.
            log(f"dockerd (pid {stale}) from an earlier run does not answer; stopping it")
            _terminate(stale)
        _reset_runtime_state(data_root, exec_root)
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
            log_start = log_file.tell()
            # Own session: the engine must outlive `python -m testbed up` and ignore the
            # terminal's Ctrl-C, which would otherwise kill it under running containers.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        last_size, last_progress = log_start, began
        while True:
            now = time.monotonic()
            if process.poll() is not None:
                raise TestbedUnavailable(
                    f"dockerd exited with code {process.returncode} at start; "
                    f"the end of {log_path}:\n{_log_tail(log_path, log_start)}"
                )
            if _answers(host):
                elapsed = time.monotonic() - began
                log(f"dockerd (pid {process.pid}) ready in {elapsed:.1f}s")
                _remove_leftover_containers(host)
                return DockerEngine(
                    host=host, socket_path=socket_path, pid=process.pid, started_in=elapsed
                )
            size = _size(log_path)
            if size != last_size:
                last_size, last_progress = size, now
            stuck = now - last_progress > _START_QUIET_S
            if stuck or now - began > _START_TIMEOUT_S:
                break
            time.sleep(0.2)
        _terminate(process.pid)
        why = (
            f"logged nothing for {_START_QUIET_S:.0f}s"
            if stuck
            else (f"was not ready after {_START_TIMEOUT_S:.0f}s")
        )
        raise TestbedUnavailable(
            f"dockerd did not answer on {host}: it {why}; the end of {log_path}:\n"
            f"{_log_tail(log_path, log_start)}"
        )


def _reset_runtime_state(data_root: Path, exec_root: Path) -> None:
    """Drop what a dead engine left that only a running engine needs.

    Called only when no engine of ours runs, so no test run uses any container or network.
    The exec root is runtime state (a stock install keeps it on tmpfs under /run, gone at
    reboot); here it survives on disk, with the network namespaces of killed containers
    still mounted. The network store holds every network and sandbox; all of ours belong to
    one run (see sshhosts), and a dockerd killed mid-run leaves hundreds of sandboxes
    behind, each costing its next start about 0.2 s before the API answers. Images and
    their layers (what is worth keeping) are untouched.
    """
    unmounted = unmount_below(exec_root) + unmount_below(data_root)
    shutil.rmtree(exec_root, ignore_errors=True)
    exec_root.mkdir(parents=True, exist_ok=True)
    store = data_root / "network" / "files" / "local-kv.db"
    if store.exists():
        store.unlink()
        log(f"removed the dead engine's network store {store}")
    if unmounted:
        log(f"unmounted {unmounted} mounts the dead engine left")


def unmount_below(directory: Path) -> int:
    """Lazily unmount every mount strictly below ``directory``; return how many."""
    prefix = f"{directory}/"
    points = []
    with open("/proc/self/mounts") as table:
        for line in table:
            point = line.split()[1].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    return len(points)


def _remove_leftover_containers(host: str) -> None:
    """Remove every container of the engine just started: they belong to dead runs."""
    client = docker.DockerClient(base_url=host, version="auto", timeout=60)
    try:
        leftovers = client.containers.list(all=True)
        for container in leftovers:
            try:
                container.remove(force=True, v=True)
            except DockerException as exc:
                log(f"could not remove leftover container {container.name}: {exc}")
        if leftovers:
            log(f"removed {len(leftovers)} containers left by dead runs")
    finally:
        client.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _log_tail(path: Path, start: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read it: {exc})"
    lines = text.splitlines()[-_LOG_TAIL_LINES:]
    return "\n".join(f"  {line}" for line in lines) or "  (empty)"


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
