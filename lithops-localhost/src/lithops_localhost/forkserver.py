"""Workers forked from a clean template process, never from the client (the forkserver pattern).

The client has threads (the pool's readers and monitor, the scheduler, the user's own); a
process forked from it inherits whatever locks those threads held at that instant and can wedge
forever (a function that opens its own ``FunctionExecutor``, a worker forked while the main thread
was importing). So a :class:`ForkServerLauncher` execs one template process
(:mod:`lithops_localhost.template`) when the pool is provisioned, with the worker runtime
preloaded, and asks it for each worker over a unix socketpair; the template forks and passes the
two pipe ends back with ``SCM_RIGHTS``. A worker then starts in about a millisecond, as a fork
would, but from a single-threaded process.

Guarantees, as with a plain fork: each worker leads its own session (Ctrl-C reaches the client
only), holds no descriptor but its two pipes, and sees end-of-input when the client dies. When the
client dies, however (SIGKILL included), its end of the control channel closes and the template
SIGKILLs every worker's process group; a worker whose template dies gets SIGKILL from the kernel.
"""

from __future__ import annotations

import itertools
import marshal
import os
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Mapping
from typing import IO, Any

from lithops.errors import BackendUnavailableError
from lithops_localhost.launcher import describe_exit

__all__ = ["ForkServerLauncher", "TemplateWorker"]

#: The template's command (``-c`` rather than ``-m``: runpy's imports would delay it).
TEMPLATE_MAIN = "from lithops_localhost.template import main; main()"
#: How long a worker request may wait for the template (its first start included).
SPAWN_TIMEOUT = 30.0
_RECV_BYTES = 1 << 16


class TemplateWorker:
    """A worker forked by the template: the ``WorkerProcess`` the pool drives."""

    def __init__(self, template: _Template, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self._template = template
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.where = f"localhost:{pid}"
        self._status: int | None = None
        self._ended = threading.Event()

    def kill(self) -> None:
        """SIGKILL the worker and its process group (through the template, which knows whether
        the PID is still its child: a reaped PID may already belong to another process)."""
        if not self._ended.is_set():
            self._template.request({"op": "kill", "pid": self.pid})

    def exited(self) -> bool:
        """Whether the worker itself ended (a process its call started may hold its pipes)."""
        return self._ended.is_set()

    def exit_description(self, timeout: float = 2.0) -> str:
        if not self._ended.wait(timeout):
            return "stopped answering"
        if self._status is None:
            return "was lost with its worker template process (the template ended)"
        return describe_exit(os.waitstatus_to_exitcode(self._status))

    def ended(self, status: int | None) -> None:
        self._status = status
        self._ended.set()


class _Template:
    """One running template process and the client's end of its control channel."""

    def __init__(self, python: str) -> None:
        self.python = python
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:  # a request carries the client's environment: room for a large one in one packet
            mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        except OSError:
            pass
        env = dict(os.environ)
        # The template imports what the client imports (lithops itself may be on a path the
        # client added at run time).
        paths = [p for p in sys.path if p]
        if os.getcwd() not in paths:
            paths.insert(0, os.getcwd())
        env["PYTHONPATH"] = os.pathsep.join(paths)
        try:
            self.process = subprocess.Popen(
                [python, "-c", TEMPLATE_MAIN, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            mine.close()
            raise BackendUnavailableError(
                f"could not start the worker template process ({python}): {exc}"
            ) from exc
        finally:
            theirs.close()
        self.sock = mine
        self.alive = True
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiting: dict[int, list[Any]] = {}  # id -> [event, worker or error reply]
        self._workers: dict[int, TemplateWorker] = {}
        # Started with the first request: a template started early (see start_spare) adds no
        # thread to the client until a pool uses it.
        self._reader: threading.Thread | None = None
        _TEMPLATES.add(self)

    def request(self, message: dict[str, Any]) -> None:
        data = marshal.dumps(message)
        try:
            with self._send_lock:
                self.sock.send(data)
        except OSError as exc:
            if message.get("op") == "spawn":
                raise self._unavailable(f"{self._death()} ({exc})") from exc

    def spawn(self, env: Mapping[str, str]) -> TemplateWorker:
        request_id = next(self._ids)
        slot: list[Any] = [threading.Event(), None]
        with self._lock:
            if not self.alive:
                raise self._unavailable(self._death())
            self._waiting[request_id] = slot
            if self._reader is None:
                self._reader = threading.Thread(
                    target=self._read_loop, name="lithops-template-reader", daemon=True
                )
                self._reader.start()
        full_env = dict(os.environ)
        full_env.update(env)
        self.request(
            {
                "op": "spawn",
                "id": request_id,
                "env": full_env,
                "cwd": os.getcwd(),
                "path": list(sys.path),
            }
        )
        if not slot[0].wait(SPAWN_TIMEOUT):
            with self._lock:
                self._waiting.pop(request_id, None)
            raise BackendUnavailableError(
                f"the worker template process (pid {self.process.pid}) did not start a worker "
                f"within {SPAWN_TIMEOUT:.0f} s; the machine may be out of memory or processes"
            )
        reply = slot[1]
        if isinstance(reply, TemplateWorker):
            return reply
        raise self._unavailable(reply.get("message") if reply else self._death())

    def _unavailable(self, why: str) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"the worker template process ({self.python} -c {TEMPLATE_MAIN!r}) could "
            f"not start a worker: {why}. Its own error, if any, is on this program's stderr; "
            f"LITHOPS_WORKER_START=spawn starts each worker as a fresh interpreter instead"
        )

    def _death(self) -> str:
        try:
            code: int | None = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            code = None
        return "it " + describe_exit(code) if code is not None else "it closed its channel"

    def _read_loop(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, _RECV_BYTES, 2)
            except OSError:
                data, fds = b"", []
            if not data:
                break
            message = marshal.loads(data)
            op = message.get("op")
            if op == "exit":
                with self._lock:
                    worker = self._workers.pop(int(message["pid"]), None)
                if worker is not None:
                    worker.ended(int(message["status"]))
                continue
            reply: Any = message
            if op == "spawned" and len(fds) == 2:
                # Registered here, before the next message: its exit report may be next.
                reply = TemplateWorker(
                    self, int(message["pid"]), os.fdopen(fds[0], "wb"), os.fdopen(fds[1], "rb")
                )
                with self._lock:
                    self._workers[reply.pid] = reply
            else:
                for fd in fds:
                    os.close(fd)
            with self._lock:
                slot = self._waiting.pop(int(message["id"]), None)
            if slot is None:  # the requester gave up: do not leave the worker running
                if isinstance(reply, TemplateWorker):
                    reply.kill()
                    reply.stdin.close()
                    reply.stdout.close()
                continue
            slot[1] = reply
            slot[0].set()
        with self._lock:
            self.alive = False
            waiting, self._waiting = self._waiting, {}
            workers, self._workers = self._workers, {}
        for slot in waiting.values():
            slot[0].set()
        for worker in workers.values():
            worker.ended(None)

    def close(self, wait: bool = True) -> None:
        """Close the channel: the template kills every worker it forked and exits."""
        _TEMPLATES.discard(self)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.process.wait(2.0 if wait else 0.0)
        except subprocess.TimeoutExpired:
            if wait:
                self.process.kill()
                self.process.wait()

    def forget_in_child(self) -> None:
        """In a process forked from the client: drop the inherited channel, so the template
        still sees the client's end close when the client dies (this copy has no reader
        thread either: a launcher that finds it starts a template of its own)."""
        self.alive = False
        try:
            os.close(self.sock.detach())
        except OSError:
            pass


#: Every live template of this process, for the after-fork hook below.
_TEMPLATES: weakref.WeakSet[_Template] = weakref.WeakSet()


#: A template started ahead of the first pool (see :func:`start_spare`), and its lock.
_spare: _Template | None = None
_spare_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _spare, _spare_lock
    for template in list(_TEMPLATES):
        template.forget_in_child()
    _TEMPLATES.clear()
    _spare, _spare_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def start_spare(python: str = sys.executable) -> None:
    """Start a template for ``python`` now, for the first :class:`ForkServerLauncher` to adopt.

    A template needs an interpreter start and the worker runtime's imports (tens of ms) before
    it can fork the first worker: started when the plugin loads, that time overlaps the rest of
    the client's set-up instead of delaying its first result. It ends with the client if no
    pool ever adopts it.
    """
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.alive:
            _spare = _Template(python)


def _adopt_spare(python: str) -> _Template | None:
    global _spare
    with _spare_lock:
        template, _spare = _spare, None
    usable = template is not None and template.alive and template.process.poll() is None
    if template is not None and usable and template.python == python:
        return template
    if template is not None:
        template.close(wait=False)
    return None


class ForkServerLauncher:
    """Workers forked by a template process of ``python`` (default: this interpreter).

    The template starts on :meth:`prepare` (the plugin calls it when the pool is provisioned, so
    its start overlaps the client's own work) or on the first :meth:`start`; if it ever dies,
    the next :meth:`start` starts a new one.
    """

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self._lock = threading.Lock()
        self._template: _Template | None = None
        self._closed = False

    def prepare(self) -> None:
        """Start the template now (idempotent)."""
        self._current()

    def _current(self) -> _Template:
        with self._lock:
            if self._closed:
                raise BackendUnavailableError(
                    "the worker launcher is closed; create a new executor"
                )
            if self._template is None or not self._template.alive:
                if self._template is not None:
                    self._template.close()
                self._template = _adopt_spare(self.python) or _Template(self.python)
            return self._template

    def start(self, env: Mapping[str, str]) -> TemplateWorker:
        return self._current().spawn(env)

    @property
    def template_pid(self) -> int | None:
        """The template's PID while it runs."""
        template = self._template
        return template.process.pid if template is not None and template.alive else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            template, self._template = self._template, None
        if template is not None:
            template.close()
