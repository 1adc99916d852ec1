"""The warm worker pool: the localhost engine, also run by every standalone agent.

Workers start lazily on the first batch and stay alive across calls and jobs. A batch is one
message to one idle worker; results come back pushed on the worker's pipe. When a worker dies,
the call it was running fails with :class:`WorkerLostError` (or :class:`CallTimeoutError` /
``CancelledError`` when the pool killed it on purpose), the calls of its batch that had not
started go back to the queue, and a fresh worker takes its place.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import cloudpickle

from lithops import wire
from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, CallKey, EventSink, FunctionTracker
from lithops_localhost.launcher import Launcher, SubprocessLauncher, WorkerProcess

__all__ = ["WorkerPool"]

logger = logging.getLogger(__name__)

#: How often deadlines of running calls are checked.
MONITOR_INTERVAL = 0.05


class _Worker:
    def __init__(self, proc: WorkerProcess) -> None:
        self.proc = proc
        self.batch: CallBatch | None = None
        self.pending: list[CallKey] = []  # calls of the batch without a result, in order
        self.running_since = 0.0
        self.greeted = False
        self.kill_reason: tuple[str, CallKey | None] | None = None
        self.exit_noticed = False  # the process ended but its pipe may still be held open
        self.write_lock = threading.Lock()
        self.functions = FunctionTracker()  # the job functions this process was sent

    def assign(self, batch: CallBatch) -> None:
        self.batch = batch
        self.pending = list(batch.calls)
        self.running_since = time.time()

    def write(self, payload: bytes) -> None:
        with self.write_lock:
            wire.write_frame(self.proc.stdin, payload)
            self.proc.stdin.flush()


class WorkerPool:
    """A fixed-size pool of warm worker processes fed with :class:`CallBatch` messages."""

    def __init__(
        self,
        size: int,
        events: EventSink,
        launcher: Launcher | None = None,
        where: str = "localhost",
        env: dict[str, str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"worker_processes must be at least 1, got {size}")
        self.capacity = size
        self.where = where
        self._events = events
        self._launcher: Launcher = launcher or SubprocessLauncher()
        self._env = dict(env or {})
        self._lock = threading.Lock()
        self._queue: collections.deque[CallBatch] = collections.deque()
        self._workers: list[_Worker] = []
        self._started = False
        self._closed = False
        self._broken: BaseException | None = None
        self._monitor: threading.Thread | None = None

    # -- public API -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def idle_slots(self) -> int:
        with self._lock:
            if not self._started:
                return self.capacity
            busy = sum(1 for w in self._workers if w.batch is not None)
            return max(0, self.capacity - busy - len(self._queue))

    def submit(self, batch: CallBatch) -> None:
        with self._lock:
            if self._closed:
                raise BackendUnavailableError("the worker pool is closed; create a new executor")
            if self._broken is not None:
                broken = self._broken
            else:
                broken = None
                self._queue.append(batch)
                if not self._started:
                    self._start_locked()
                writes = self._dispatch_locked()
        if broken is not None:
            self._events.lost(batch.calls, broken)
            return
        self._perform(writes)

    def cancel(self, keys: Sequence[CallKey]) -> None:
        wanted = set(keys)
        dropped: list[CallKey] = []
        to_kill: list[_Worker] = []
        notify: list[tuple[_Worker, list[CallKey]]] = []
        with self._lock:
            for batch in list(self._queue):
                mine = [k for k in batch.calls if k in wanted]
                if not mine:
                    continue
                dropped.extend(mine)
                rest = [k for k in batch.calls if k not in wanted]
                self._queue.remove(batch)
                if rest:
                    self._queue.append(_sub_batch(batch, rest))
            for w in self._workers:
                if not w.pending:
                    continue
                if w.pending[0] in wanted and w.kill_reason is None:
                    w.kill_reason = ("cancel", w.pending[0])
                    to_kill.append(w)
                later = [k for k in w.pending[1:] if k in wanted]
                if later:
                    notify.append((w, later))
        if dropped:
            self._events.lost(dropped, concurrent.futures.CancelledError())
        for w, later in notify:
            try:
                w.write(wire.encode({"t": "cancel", "keys": later}))
            except OSError:
                pass  # the worker is dying; its exit handler accounts for these calls
        for w in to_kill:
            w.proc.kill()

    def close(self, wait: bool = True) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            queued = [k for b in self._queue for k in b.calls]
            self._queue.clear()
        if queued:
            self._events.lost(queued, concurrent.futures.CancelledError())
        for w in workers:
            try:
                w.write(wire.encode({"t": "stop"}))
                w.proc.stdin.close()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + (2.0 if wait else 0.0)
        for w in workers:
            if w.batch is not None or time.monotonic() > deadline:
                w.proc.kill()
            w.proc.exit_description(max(0.05, deadline - time.monotonic()))
            w.proc.kill()
        self._launcher.close()

    # -- internals ---------------------------------------------------------------------------

    def _start_locked(self) -> None:
        self._started = True
        for _ in range(self.capacity):
            self._spawn_locked()
        self._monitor = threading.Thread(
            target=self._watch_deadlines, name="lithops-pool-monitor", daemon=True
        )
        self._monitor.start()

    def _spawn_locked(self) -> None:
        try:
            proc = self._launcher.start(self._env)
        except Exception as exc:
            self._fail_all_locked(exc)
            return
        worker = _Worker(proc)
        self._workers.append(worker)
        threading.Thread(
            target=self._read_loop, args=(worker,), name="lithops-pool-reader", daemon=True
        ).start()

    def _dispatch_locked(self) -> list[tuple[_Worker, CallBatch]]:
        writes = []
        for w in self._workers:
            if not self._queue:
                break
            if w.batch is None and w.kill_reason is None:
                batch = self._queue.popleft()
                w.assign(batch)
                writes.append((w, batch))
        return writes

    def _perform(self, writes: list[tuple[_Worker, CallBatch]]) -> None:
        for w, batch in writes:
            try:
                if w.functions.needs(batch):
                    w.write(batch.function_message())
                w.write(batch.message)
            except (OSError, ValueError):
                w.proc.kill()  # the reader sees EOF and re-queues the batch
                continue
            # The first call of a batch starts as soon as the worker reads it; the scheduler
            # needs start times to spot stragglers.
            self._events.running(batch.calls[0], w.running_since, w.proc.where)

    def _read_loop(self, w: _Worker) -> None:
        try:
            hello = wire.read_message(w.proc.stdout)
            if hello is None:
                return
            wire.check_hello(hello, f"{self.where} ({w.proc.where})")
            w.greeted = True
            while True:
                message = wire.read_message(w.proc.stdout)
                if message is None:
                    return
                kind = message["t"]
                if kind == "results":
                    self._on_results(w, message)
                elif kind == "log":
                    self._events.log(tuple(message["key"]), message["lines"])
        except Exception as exc:
            if not w.greeted:
                with self._lock:
                    self._fail_all_locked(exc)
            else:
                logger.warning("worker %s sent a bad frame: %s", w.proc.where, exc)
        finally:
            w.proc.kill()
            self._on_exit(w)

    def _on_results(self, w: _Worker, message: dict[str, Any]) -> None:
        records = message["records"]
        done = {tuple(r["key"]) for r in records}
        now = time.time()
        cancelled = [tuple(r["key"]) for r in records if r.get("cancelled")]
        with self._lock:
            w.pending = [k for k in w.pending if k not in done]
            running = message.get("running")
            if running and w.pending and (running[0], running[1]) == w.pending[0]:
                w.running_since = running[2]
            else:
                w.running_since = now
            writes: list[tuple[_Worker, CallBatch]] = []
            started = (w.pending[0], w.running_since) if w.pending else None
            if not w.pending:
                w.batch = None
                writes = self._dispatch_locked()
        if started is not None:
            self._events.running(started[0], started[1], w.proc.where)
        if cancelled:
            self._events.lost(cancelled, concurrent.futures.CancelledError())
            records = [r for r in records if not r.get("cancelled")]
        if records:
            self._events.results(records)
        self._perform(writes)

    def _on_exit(self, w: _Worker) -> None:
        description = w.proc.exit_description()
        lost: list[tuple[CallKey, BaseException]] = []
        with self._lock:
            if w in self._workers:
                self._workers.remove(w)
            batch, pending = w.batch, w.pending
            w.batch, w.pending = None, []
            if not w.greeted and w.kill_reason is None and not self._closed:
                # It died before saying hello: the environment cannot run workers at all
                # (missing interpreter, lithops not importable...). Fail fast, never requeue
                # onto workers that will never come.
                if batch is not None and pending:
                    self._queue.appendleft(_sub_batch(batch, pending))
                self._fail_all_locked(self._startup_error(w, description))
                return
            if batch is not None and pending:
                lost += self._blame_locked(w, batch, pending, description)
            writes: list[tuple[_Worker, CallBatch]] = []
            if not self._closed and self._broken is None:
                self._spawn_locked()
                writes = self._dispatch_locked()
        for key, error in lost:
            self._events.lost([key], error)
        self._perform(writes)

    def _startup_error(self, w: _Worker, description: str) -> BackendUnavailableError:
        tail = getattr(w.proc, "stderr_tail", None)
        output = "\n".join(tail()[-10:]) if callable(tail) else ""
        return BackendUnavailableError(
            f"a worker process on {self.where} {description} before it started"
            + (f"; its last output:\n{output}" if output else "")
            + "\nCheck that the runtime's python runs `python -m lithops.worker` (same Python "
            "minor version as the client)"
        )

    def _blame_locked(
        self, w: _Worker, batch: CallBatch, pending: list[CallKey], description: str
    ) -> list[tuple[CallKey, BaseException]]:
        """Which call a dead worker takes down with it; the others go back to the queue.

        The worker reports finished calls a moment after they end (records share frames), so
        when it dies on its own with several calls pending, the first of them may have
        finished unreported. Rather than fail a call that may have succeeded, each pending
        call runs again alone: a call that kills its worker then does so alone, and is blamed.
        """
        reason = w.kill_reason
        if reason is not None and reason[1] != pending[0]:
            # The call the pool stopped (timeout, cancel) had finished: the rest are innocent.
            self._queue.appendleft(_sub_batch(batch, pending))
            return []
        if reason is None and len(pending) > 1:
            for key in reversed(pending):
                self._queue.appendleft(_sub_batch(batch, [key]))
            return []
        first, rest = pending[0], pending[1:]
        if rest:
            self._queue.appendleft(_sub_batch(batch, rest))
        return [(first, self._death_error(w, first, batch, description))]

    def _death_error(
        self, w: _Worker, key: CallKey, batch: CallBatch, description: str
    ) -> BaseException:
        job_key, call_id = key
        reason = w.kill_reason
        if reason is not None and reason[0] == "timeout":
            return CallTimeoutError(
                f"call {job_key}/{call_id} ran longer than its timeout of {batch.timeout} s; its "
                f"worker was stopped. Raise `timeout=` (map/call_async) or "
                f"`execution_timeout` in the config if it needs longer; see what it printed "
                f"with `lithops logs get {job_key}`",
                job_key,
                call_id,
            )
        if reason is not None and reason[0] == "cancel":
            return concurrent.futures.CancelledError(f"call {job_key}/{call_id} was cancelled")
        return WorkerLostError(
            f"the worker running call {job_key}/{call_id} ({self.where}, {w.proc.where}) "
            f"{description} before returning a result. See its output with "
            f"`lithops logs get {job_key}`",
            job_key,
            call_id,
        )

    def _fail_all_locked(self, exc: BaseException) -> None:
        """The environment cannot run workers (bad interpreter, wire mismatch): fail fast."""
        if self._broken is not None:
            return
        if not isinstance(exc, BackendUnavailableError | WireVersionError):
            exc = BackendUnavailableError(
                f"could not start a worker process on {self.where}: {type(exc).__name__}: {exc}"
            )
        self._broken = exc
        keys = [k for b in self._queue for k in b.calls]
        keys += [k for w in self._workers for k in w.pending]
        self._queue.clear()
        for w in self._workers:
            w.batch, w.pending = None, []
            w.proc.kill()
        if keys:
            threading.Thread(target=self._events.lost, args=(keys, exc), daemon=True).start()

    def _watch_deadlines(self) -> None:
        while True:
            time.sleep(MONITOR_INTERVAL)
            now = time.time()
            to_kill = []
            with self._lock:
                if self._closed:
                    return
                for w in self._workers:
                    if not w.exit_noticed and _exited(w.proc):
                        # A process the call forked keeps the pipe open after the worker died,
                        # so end-of-file never comes: stop its process group to release it.
                        w.exit_noticed = True
                        to_kill.append(w)
                        continue
                    batch = w.batch
                    if batch is None or not batch.timeout or not w.pending:
                        continue
                    if w.kill_reason is None and now - w.running_since > batch.timeout:
                        w.kill_reason = ("timeout", w.pending[0])
                        to_kill.append(w)
            for w in to_kill:
                w.proc.kill()


def _exited(proc: WorkerProcess) -> bool:
    """Whether the worker process itself ended (for launchers that can tell)."""
    exited = getattr(proc, "exited", None)
    return bool(exited()) if callable(exited) else False


def _sub_batch(batch: CallBatch, keys: list[CallKey]) -> CallBatch:
    """The same batch restricted to ``keys`` (re-encoded: rare, only on failures and cancels)."""
    message = wire.decode(batch.message)
    index = {call_id: i for i, call_id in enumerate(message["calls"])}
    arguments = cloudpickle.loads(message["args"])
    ids = [call_id for _, call_id in keys]
    message["calls"] = ids
    message["args"] = cloudpickle.dumps([arguments[index[c]] for c in ids])
    return dataclasses.replace(batch, calls=list(keys), message=wire.encode(message))
