"""Starting worker processes: the default python3 environment.

A launcher starts processes that run ``python -m lithops.worker`` and speak the wire format on
their stdin/stdout. The pool does not care where they run: here, in a container
(:mod:`lithops_localhost.docker_env`), or on a standalone host behind an agent.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Protocol

__all__ = [
    "ForkLauncher",
    "Launcher",
    "SubprocessLauncher",
    "WorkerProcess",
    "default_launcher",
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


class _ForkedProcess:
    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.where = f"localhost:{pid}"
        self._status: int | None = None
        self._reap_lock = threading.Lock()

    def kill(self) -> None:
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def exited(self) -> bool:
        """Whether the process ended (a child it forked may still hold its pipes open)."""
        with self._reap_lock:  # the pool's monitor and reader threads both ask
            if self._status is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    return True
                if pid:
                    self._status = status
            return self._status is not None

    def exit_description(self, timeout: float = 2.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                return "stopped answering"
            time.sleep(0.005)
        if self._status is None:
            return "ended (its exit status was collected elsewhere)"
        return describe_exit(os.waitstatus_to_exitcode(self._status))


class ForkLauncher:
    """Workers forked from the client: no interpreter start-up, so a cold map's first result
    comes back as fast as a process pool's. The default on Linux for the client's own python.

    The child leads its own session (Ctrl-C in the terminal reaches the client only), keeps
    no file descriptor but its two pipes (so a worker still sees end-of-input when the client
    dies, even with siblings alive) and never returns into the client's code.
    """

    def start(self, env: Mapping[str, str]) -> _ForkedProcess:
        from lithops.worker.serve import serve  # imported before fork, once

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        for fd in (to_child_w, from_child_w):
            _widen_pipe(fd)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.setsid()
                keep = {0, 1, 2, to_child_r, from_child_w}
                for name in os.listdir("/proc/self/fd"):
                    fd = int(name)
                    if fd not in keep:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
                os.environ.update(env)
                serve(os.fdopen(to_child_r, "rb"), os.fdopen(from_child_w, "wb"))
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.close(to_child_r)
        os.close(from_child_w)
        return _ForkedProcess(pid, os.fdopen(to_child_w, "wb"), os.fdopen(from_child_r, "rb"))

    def close(self) -> None:
        pass


#: Linux pipes hold 64 KiB by default: a 10 MB argument would cross in ~160 wake-ups of
#: writer and reader. Ask for up to 1 MiB (the usual unprivileged maximum).
_PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, _PIPE_BYTES)
    except OSError:
        pass  # a lower limit (/proc/sys/fs/pipe-max-size) only costs speed


def default_launcher() -> Launcher:
    """Forked workers where the platform allows it (``LITHOPS_WORKER_START=spawn`` starts
    fresh interpreters instead), else fresh interpreters."""
    start = os.environ.get("LITHOPS_WORKER_START", "fork")
    if start == "fork" and hasattr(os, "fork") and os.path.isdir("/proc/self/fd"):
        return ForkLauncher()
    return SubprocessLauncher()
