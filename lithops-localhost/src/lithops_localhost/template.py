"""The worker template: a clean, single-threaded process that forks workers for one client.

``python -c "from lithops_localhost.template import main; main()" FD`` is exec'd once per
launcher (see :mod:`lithops_localhost.forkserver`) with the worker runtime already imported, so
forking a worker costs about a millisecond and the worker inherits no thread and no lock of the
client. It never starts a thread, so a fork from it is always safe.

Control channel: a ``SOCK_SEQPACKET`` unix socket (``FD``), one message per packet: a dict of
strings, numbers and lists in :mod:`marshal` format (built in: nothing to import).

* client -> template: ``{"op": "spawn", "id", "env", "cwd", "path"}``; ``{"op": "kill", "pid"}``.
* template -> client: ``{"op": "spawned", "id", "pid"}`` with two descriptors attached (the write
  end of the worker's input, the read end of its output); ``{"op": "error", "id", "message"}``;
  ``{"op": "exit", "pid", "status"}`` (the raw wait status) once a worker ended and was reaped.

When the channel closes (the client ended, however it died), every worker's process group gets
SIGKILL and the template exits. Each worker also asks the kernel for SIGKILL should the template
itself die (``PR_SET_PDEATHSIG``), and leads its own session, so the template can stop whatever a
call started along with it.
"""

from __future__ import annotations

import fcntl
import marshal
import os
import selectors
import signal
import socket
import sys
from typing import Any

__all__ = ["main"]

#: Linux pipes hold 64 KiB by default: a 10 MB argument would cross in ~160 wake-ups of writer
#: and reader. Ask for up to 1 MiB (the usual unprivileged maximum).
PIPE_BYTES = 1 << 20
#: The largest control message (an environment of a few KiB is typical).
MAX_MESSAGE = 1 << 20
_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Any:
    """``prctl(PR_SET_PDEATHSIG, ...)`` through libc, or ``None`` off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def widen_pipe(fd: int) -> None:
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except OSError:
        pass  # a lower limit (/proc/sys/fs/pipe-max-size) only costs speed


class Template:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: set[int] = set()
        self.pid = os.getpid()
        self.prctl = _parent_death_signal()
        # SIGCHLD wakes the loop through a pipe: no thread, no polling.
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = marshal.dumps(message)
        try:
            if fds:
                socket.send_fds(self.control, [data], fds)
            else:
                self.control.send(data)
        except OSError:
            pass  # the client is gone: the loop sees end-of-file next

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        while True:
            for key, _ in selector.select():
                if key.data == "wake":
                    os.read(self.wake_r, 4096)
                    self.reap()
                    continue
                try:
                    data = self.control.recv(MAX_MESSAGE)
                except OSError:
                    data = b""
                if not data:
                    self.shutdown()
                    return
                self.handle(marshal.loads(data))

    def handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "spawn":
            self.spawn(message)
        elif op == "kill":
            pid = int(message["pid"])
            if pid in self.children:  # never a reaped PID: it may belong to someone else now
                self.kill_group(pid)

    def spawn(self, message: dict[str, Any]) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        widen_pipe(to_child_w)
        widen_pipe(from_child_w)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            self.send({"op": "error", "id": message["id"], "message": f"fork failed: {exc}"})
            return
        if pid == 0:  # pragma: no cover - runs in the worker
            self.become_worker(message, to_child_r, from_child_w)
        self.children.add(pid)
        os.close(to_child_r)
        os.close(from_child_w)
        self.send({"op": "spawned", "id": message["id"], "pid": pid}, [to_child_w, from_child_r])
        os.close(to_child_w)
        os.close(from_child_r)

    def become_worker(self, message: dict[str, Any], inp: int, out: int) -> None:
        code = 70
        try:
            os.setsid()
            if self.prctl is not None:
                self.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != self.pid:  # the template died before the request took effect
                os._exit(code)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            # Exactly two descriptors besides 0-2: the worker sees end-of-input when the client
            # closes its end, whatever else is alive.
            os.dup2(inp, 3)
            os.dup2(out, 4)
            os.closerange(5, _max_fd())
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            os.environ.clear()
            os.environ.update(message.get("env") or {})
            cwd = message.get("cwd")
            if cwd:
                try:
                    os.chdir(cwd)
                except OSError:
                    pass  # the client's directory vanished; imports by path still work
            if message.get("path"):
                sys.path[:] = message["path"]
            from lithops.worker.serve import serve

            serve(os.fdopen(3, "rb"), os.fdopen(4, "wb"))
            code = 0
        except BaseException:
            code = 70
        finally:
            os._exit(code)

    def reap(self) -> None:
        while self.children:
            try:
                ended = _reap_one()
            except ChildProcessError:
                self.children.clear()
                return
            if ended is None:
                return
            pid, status = ended
            if pid in self.children:
                self.children.discard(pid)
                self.send({"op": "exit", "pid": pid, "status": status})

    def kill_group(self, pid: int) -> None:
        _kill_quietly(os.killpg, pid)
        _kill_quietly(os.kill, pid)

    def shutdown(self) -> None:
        for pid in list(self.children):
            self.kill_group(pid)
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _reap_one() -> tuple[int, int] | None:
    """Reap one child that ended, SIGKILLing its process group first (whatever its call
    started dies with it); ``None`` if no child has ended."""
    if hasattr(os, "waitid"):
        # Look without reaping: until the reap, the zombie keeps its group's ID from reuse.
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        _kill_quietly(os.killpg, info.si_pid)
        return os.waitpid(info.si_pid, 0)
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid == 0:
        return None
    _kill_quietly(os.killpg, pid)
    return pid, status


def _kill_quietly(kill: Any, pid: int) -> None:
    try:
        kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 65536


def main(argv: list[str] | None = None) -> None:
    # Ctrl-C in the client's terminal is the client's business; the client's end of the channel
    # closing is what ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=int((sys.argv[1:] if argv is None else argv)[0]))
    control.set_inheritable(False)
    import lithops.worker.serve  # noqa: F401  (preloaded: every worker forked from here has it)

    Template(control).run()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
