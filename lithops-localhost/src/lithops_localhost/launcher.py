"""Starting worker processes: the default python3 environment.

A launcher starts worker processes that speak the wire format on two pipes: fresh
``python -m lithops.worker`` interpreters here, forks of a clean template process in
:mod:`lithops_localhost.forkserver` (the default). The pool does not care where they run: on
this machine, in a container (:mod:`lithops_localhost.docker_env`), or on a standalone host
behind an agent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import IO, Protocol

__all__ = [
    "Launcher",
    "SubprocessLauncher",
    "WorkerProcess",
    "default_launcher",
    "default_launcher_kind",
    "describe_exit",
]


class WorkerProcess(Protocol):
    stdin: IO[bytes]
    stdout: IO[bytes]
    where: str

    def kill(self) -> None: ...

    def exit_description(self, timeout: float = 2.0) -> str: ...


class Launcher(Protocol):
    def start(self, env: Mapping[str, str]) -> WorkerProcess: ...

    def close(self) -> None: ...


def describe_exit(returncode: int | None) -> str:
    """Say how a process ended, naming the signal (and the usual suspect for SIGKILL)."""
    if returncode is None:
        return "is still running"
    if returncode < 0 or returncode > 128:
        signum = -returncode if returncode < 0 else returncode - 128
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        hint = " (out of memory? the OOM killer sends SIGKILL)" if signum == signal.SIGKILL else ""
        return f"was killed by {name} ({signum}){hint}"
    return f"exited with code {returncode}"


class _LocalProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        assert popen.stdin is not None and popen.stdout is not None
        self.stdin: IO[bytes] = popen.stdin
        self.stdout: IO[bytes] = popen.stdout
        self.where = f"localhost:{popen.pid}"
        self.pid = popen.pid

    def kill(self) -> None:
        # The worker leads its own session: kill the group, so processes the call started
        # go with it.
        try:
            os.killpg(self._popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._popen.kill()
        except ProcessLookupError:
            pass

    def exited(self) -> bool:
        """True once the worker itself has ended: a process its call forked may hold the pipes
        open, so end-of-file alone does not tell the pool."""
        return self._popen.poll() is not None

    def exit_description(self, timeout: float = 2.0) -> str:
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        return describe_exit(code)


class SubprocessLauncher:
    """Workers as child processes of the client, in ``python`` (default: this interpreter)."""

    def __init__(self, python: str = sys.executable, cwd: str | None = None) -> None:
        self.python = python
        self.cwd = cwd

    def start(self, env: Mapping[str, str]) -> _LocalProcess:
        full_env = dict(os.environ)
        full_env.update(env)
        # The worker must import what the client imports: its modules by reference included.
        paths = [p for p in sys.path if p]
        if os.getcwd() not in paths:
            paths.insert(0, os.getcwd())
        full_env["PYTHONPATH"] = os.pathsep.join(paths)
        popen = subprocess.Popen(
            [self.python, "-m", "lithops.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=full_env,
            cwd=self.cwd,
            start_new_session=True,  # Ctrl-C in the client must not reach workers directly
        )
        return _LocalProcess(popen)

    def close(self) -> None:
        pass


def default_launcher() -> Launcher:
    """Workers forked by a clean template process where the platform allows it
    (:mod:`lithops_localhost.forkserver`; ``LITHOPS_WORKER_START=spawn`` starts a fresh
    interpreter per worker instead), else fresh interpreters."""
    if default_launcher_kind() == "forkserver":
        from lithops_localhost.forkserver import ForkServerLauncher

        return ForkServerLauncher()
    return SubprocessLauncher()


def default_launcher_kind() -> str:
    """``"forkserver"`` or ``"subprocess"``: what :func:`default_launcher` gives here."""
    start = os.environ.get("LITHOPS_WORKER_START", "fork")
    if start == "fork" and hasattr(os, "fork") and hasattr(socket, "send_fds"):
        return "forkserver"
    return "subprocess"
