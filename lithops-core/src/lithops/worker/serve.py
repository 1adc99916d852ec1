"""A worker process's main loop: wire frames in on one stream, results and logs out on another."""

from __future__ import annotations

import os
import pickle
import queue
import signal
import sys
import threading
import time
from typing import IO, Any

from lithops import wire
from lithops.worker.runtime import FunctionCache, OutputCapture, run_batch

__all__ = ["IN_WORKER_VAR", "in_worker", "serve", "serve_stdio"]

#: Set in a worker's environment (and so in every process its calls start): an executor opened
#: there is nested, and keeps its own pool small.
IN_WORKER_VAR = "LITHOPS_IN_WORKER"

#: How long a finished call's record may wait to share a frame with the next ones. Small enough
#: for latency, large enough that a batch of no-op calls does not cost a write per call.
FLUSH_DELAY = 0.002


class _Outbox:
    """Buffers records and log lines; a flusher thread writes them out shortly after they appear."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._records: list[dict[str, Any]] = []
        self._logs: dict[Any, list[tuple[float, str]]] = {}
        self._first: float | None = None
        self._running: list[Any] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="lithops-outbox", daemon=True)
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        with self._write_lock:
            wire.write_message(self._out, message)
            self._out.flush()

    def record(self, record: dict[str, Any]) -> None:
        value = record.get("value")
        if isinstance(value, bytes) and len(value) >= wire.OUT_OF_BAND_BYTES:
            record["value"] = pickle.PickleBuffer(value)  # crosses the pipe out of band
        with self._cond:
            self._records.append(record)
            self._mark()

    def log_line(self, key: Any, tstamp: float, text: str) -> None:
        with self._cond:
            self._logs.setdefault(key, []).append((tstamp, text))
            self._mark()

    def started(self, key: Any, since: float) -> None:
        with self._cond:
            self._running = [key[0], key[1], since]
            if self._records:
                self._cond.notify()

    def _mark(self) -> None:
        if self._first is None:
            self._first = time.monotonic()
            self._cond.notify()

    def flush(self) -> None:
        with self._cond:
            records, logs = self._records, self._logs
            self._records, self._logs, self._first = [], {}, None
            running = self._running
        self._write(records, logs, running)

    def _write(self, records: list[Any], logs: dict[Any, Any], running: Any) -> None:
        for key, lines in logs.items():
            self.send({"t": "log", "key": key, "lines": lines})
        if records:
            self.send(
                {"t": "results", "wire": wire.WIRE_VERSION, "records": records, "running": running}
            )

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                assert self._first is not None
                delay = self._first + FLUSH_DELAY - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
            self.flush()

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify()

    def before_fork(self) -> None:
        self._cond.acquire()

    def after_fork(self) -> None:
        self._cond.release()


def in_worker() -> bool:
    """Whether this process is a lithops worker, or was started by a call running in one."""
    return os.environ.get(IN_WORKER_VAR) == "1"


def _hard_exit() -> None:
    """End this worker now, with what its call started (when it leads its own process group)."""
    try:
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(1)


def _guard_forks(outbox: _Outbox, capture: OutputCapture) -> None:
    """Let a call fork (``multiprocessing``'s fork context, ``os.fork``) safely.

    No lock of the worker's own threads is held at the instant of a fork, and the child writes
    to the real stdout/stderr: its prints would otherwise fill a buffer nobody sends.
    """

    def before() -> None:
        capture.before_fork()
        outbox.before_fork()

    def after_in_parent() -> None:
        outbox.after_fork()
        capture.after_fork()

    def after_in_child() -> None:
        outbox.after_fork()
        capture.after_fork()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    os.register_at_fork(
        before=before, after_in_parent=after_in_parent, after_in_child=after_in_child
    )


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Greet, then run ``batch`` messages until ``stop`` or end of input.

    End of input without ``stop`` while a call runs means the client is gone (it died, or
    dropped this worker): nobody will read the result, so the worker ends at once, with the
    processes its call started, instead of running on orphaned.
    """
    os.environ[IN_WORKER_VAR] = "1"
    outbox = _Outbox(out)
    outbox.send(wire.hello_message())
    inbox: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    cancelled: set[Any] = set()
    busy = threading.Event()
    gone = threading.Event()  # end of input without `stop`: the client is gone

    def read() -> None:
        stopped = False
        try:
            while True:
                frame = wire.read_frame(inp)
                if frame is None:
                    break
                message = wire.decode(frame)
                if message["t"] == "cancel":
                    cancelled.update(tuple(k) for k in message["keys"])
                else:
                    stopped = stopped or message["t"] == "stop"
                    inbox.put(message)
        except Exception:
            pass  # a truncated frame: the client died while writing it
        finally:
            if not stopped:
                gone.set()
                if busy.is_set():
                    _hard_exit()
            inbox.put(None)

    threading.Thread(target=read, name="lithops-inbox", daemon=True).start()
    functions = FunctionCache()
    capture = OutputCapture(outbox.log_line)
    _guard_forks(outbox, capture)
    sys.stdout = sys.stderr = capture
    while True:
        message = inbox.get()
        if message is None or message["t"] == "stop":
            break
        if message["t"] == "function":
            functions.put(message["func_key"], message["func"])
        elif message["t"] == "batch":
            busy.set()
            if gone.is_set():
                _hard_exit()
            run_batch(message, outbox.record, functions, capture, outbox.started, cancelled)
            busy.clear()
            outbox.flush()
    outbox.close()


def serve_stdio() -> None:
    """Serve on this process's stdin/stdout, keeping them away from the user's code: the wire
    gets private copies of both descriptors, fd 0 becomes /dev/null and fd 1 goes to stderr."""
    inp = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    serve(inp, out)
