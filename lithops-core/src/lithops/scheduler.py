"""One state machine per call: dispatch in batches, take results pushed back, retry, cancel.

The scheduler is the :class:`~lithops.plugins.types.EventSink` of its executor's compute
handle. Backends push results and failures; the scheduler moves each call to exactly one
terminal state and wakes whoever waits.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import math
import pickle
import statistics
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import cloudpickle

from lithops import wire
from lithops.errors import CallError, SerializationError
from lithops.future import CallState, ResponseFuture, attach_remote_traceback
from lithops.job import Job
from lithops.plugins.types import CallBatch, CallKey

__all__ = ["RemoteError", "Scheduler", "follow_exported", "stragglers"]

logger = logging.getLogger(__name__)

#: A batch whose arguments pickle to more than this travels one call per message, so big
#: payloads spread over workers instead of queueing behind each other.
LARGE_BATCH_BYTES = 4 << 20
#: Upper bound of calls per message: keeps first results flowing on huge maps.
MAX_BATCH_CALLS = 512

# Speculative backups (``map(..., backups=True)``), Cubed's rule: in a job of at least
# BACKUP_MIN_CALLS calls with at least BACKUP_MIN_DONE_FRACTION of them done, a call running
# longer than BACKUP_SLOW_FACTOR times the median duration of the finished ones gets one copy.
BACKUP_MIN_CALLS = 10
BACKUP_MIN_DONE_FRACTION = 0.5
BACKUP_SLOW_FACTOR = 3.0
#: Never back up a call younger than this: stopping the loser costs a worker restart (a
#: fraction of a second), so copies of sub-second calls would only burn workers.
BACKUP_MIN_RUNNING_S = 1.0
#: How often running calls of backup-enabled jobs are compared with their finished peers.
BACKUP_CHECK_INTERVAL = 0.1


class _Call:
    __slots__ = ("args", "backups", "duration", "future", "inflight", "job", "started")

    def __init__(self, job: Job, future: ResponseFuture, args: Any) -> None:
        self.job = job
        self.future = future
        self.args = args
        self.started = 0.0  # time.monotonic() when a worker reported it running; 0: not yet
        self.duration: float | None = None  # start to outcome, once finished
        self.inflight = 0  # copies handed to the backend without an outcome yet
        self.backups = 0  # speculative copies launched


class Scheduler:
    """Dispatches the calls of one executor's jobs and resolves their futures."""

    def __init__(
        self,
        invoke: Callable[[CallBatch], Any],
        cancel: Callable[[list[CallKey]], Any],
        capacity: Callable[[], int],
        storage_descriptor: Callable[[], dict[str, Any] | None] | None = None,
        on_log: Callable[[CallKey, Sequence[tuple[float, str]]], None] | None = None,
    ) -> None:
        self._invoke = invoke
        self._cancel = cancel
        self._capacity = capacity
        self._storage_descriptor = storage_descriptor
        self._on_log = on_log
        self._lock = threading.Lock()
        #: notified whenever a call reaches a terminal state
        self.progress = threading.Condition(self._lock)
        self._calls: dict[CallKey, _Call] = {}
        self._exported: dict[CallKey, Callable[[ResponseFuture], None]] = {}
        self._backup_jobs: dict[str, list[_Call]] = {}
        self._backup_thread: threading.Thread | None = None

    # -- submitting -----------------------------------------------------------------------------

    def submit(self, job: Job, futures: list[ResponseFuture]) -> None:
        now = time.time()
        with self._lock:
            for future, args in zip(futures, job.arguments, strict=True):
                future._scheduler = self
                future.stats["host_job_create_tstamp"] = job.host_job_create_tstamp
                future.stats["host_job_serialize_time"] = job.host_job_serialize_time
                future.stats["host_submit_tstamp"] = now
                self._calls[future.key] = _Call(job, future, args)
            if job.backups and len(futures) >= BACKUP_MIN_CALLS:
                self._backup_jobs[job.job_key] = [self._calls[f.key] for f in futures]
                if self._backup_thread is None:
                    self._backup_thread = threading.Thread(
                        target=self._watch_stragglers, name="lithops-backups", daemon=True
                    )
                    self._backup_thread.start()
        self._dispatch(job, futures)

    def _dispatch(self, job: Job, futures: list[ResponseFuture]) -> None:
        if not futures:
            return
        capacity = max(1, self._capacity())
        size = max(1, min(MAX_BATCH_CALLS, math.ceil(len(futures) / (capacity * 4))))
        if job.chunksize:  # Lithops' chunksize: this many calls per worker message
            size = job.chunksize
        for start in range(0, len(futures), size):
            self._send(job, futures[start : start + size])

    def _send(self, job: Job, futures: list[ResponseFuture]) -> None:
        payload = None
        arguments = [self._calls[f.key].args for f in futures]
        # Known-big batches go call by call at once, instead of being pickled whole first.
        if len(futures) == 1 or _visible_size(arguments) <= LARGE_BATCH_BYTES:
            try:
                payload = cloudpickle.dumps(arguments)
            except Exception:
                payload = None
        if payload is not None and (len(payload) <= LARGE_BATCH_BYTES or len(futures) == 1):
            self._invoke_batch(job, futures, payload)
            return
        # Something in the batch does not pickle, or it is big: one call per message, so
        # only the culprit fails and big payloads spread over the workers.
        for f in futures:
            args = self._calls[f.key].args
            try:
                single = cloudpickle.dumps([args])
            except Exception as exc:
                self._finish_many([(f, CallState.FAILED, None, _argument_error(f, args, exc))])
                continue
            self._invoke_batch(job, [f], single)

    def _invoke_batch(self, job: Job, futures: list[ResponseFuture], payload: bytes) -> None:
        message = {
            "t": "batch",
            "job_key": job.job_key,
            "func_key": job.func_key,
            "func": job.func_payload,
            "calls": [f.call_id for f in futures],
            "args": payload,
            "timeout": job.timeout,
            "env": job.extra_env,
            "inject": job.inject,
            "storage": (
                self._storage_descriptor()
                if "storage" in job.inject and self._storage_descriptor
                else None
            ),
        }
        batch = CallBatch(
            job_key=job.job_key,
            calls=[f.key for f in futures],
            message=wire.encode(message),
            timeout=job.timeout,
            func_key=job.func_key,
        )
        with self._lock:
            for f in futures:
                self._calls[f.key].inflight += 1
                if f.call_state == CallState.PENDING:
                    f.call_state = CallState.DISPATCHED
        try:
            self._invoke(batch)
        except Exception as exc:
            self.lost(batch.calls, exc)

    def arguments(self, future: ResponseFuture) -> Any:
        """The ``(args, kwargs)`` a call was submitted with."""
        return self._calls[future.key].args

    # -- events from the backend (EventSink) ---------------------------------------------------

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        retry: list[_Call] = []
        finished: list[tuple[ResponseFuture, CallState, Any, BaseException | None]] = []
        for record, call in zip(records, self._returned([r["key"] for r in records]), strict=True):
            if call is None:
                continue
            if call.future.call_state.terminal:
                continue  # a late result of a cancelled call or of a backup's loser
            if call.started:
                call.duration = time.monotonic() - call.started
            future = call.future
            future.stats.update(record.get("stats") or {})
            future.stats["host_status_done_tstamp"] = now
            future.logs = record.get("output")
            if record["ok"]:
                try:
                    value = pickle.loads(record["value"])
                except Exception as exc:
                    error: BaseException = SerializationError(
                        f"the result of call {future.job_key}/{future.call_id} could not be "
                        f"unpickled on the client: {type(exc).__name__}: {exc}",
                        *future.key,
                    )
                    finished.append((future, CallState.FAILED, None, error))
                    continue
                finished.append((future, CallState.SUCCESS, value, None))
            else:
                error = _rebuild_error(record, future)
                if self._should_retry(call, error):
                    retry.append(call)
                else:
                    finished.append((future, CallState.FAILED, None, error))
        self._finish_many(finished)
        self._retry(retry)
        self._stop_losers([f.key for f, *_ in finished])

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        retry: list[_Call] = []
        finished: list[tuple[ResponseFuture, CallState, Any, BaseException | None]] = []
        for call in self._returned(keys):
            if call is None or call.future.call_state.terminal:
                continue
            if isinstance(error, concurrent.futures.CancelledError):
                finished.append((call.future, CallState.CANCELLED, None, None))
                continue
            if isinstance(error, CallError) and not error.call_id:
                error = type(error)(str(error), *call.future.key)
            if self._should_retry(call, error):
                retry.append(call)
            else:
                state = CallState.LOST if isinstance(error, CallError) else CallState.FAILED
                finished.append((call.future, state, None, error))
        self._finish_many(finished)
        self._retry(retry)
        self._stop_losers([f.key for f, *_ in finished])

    def requeue(self, keys: Sequence[CallKey]) -> None:
        by_job: dict[str, list[ResponseFuture]] = {}
        for call in self._returned(keys):  # given back unrun: dispatched anew below
            if call is not None and not call.future.call_state.terminal:
                by_job.setdefault(call.job.job_key, []).append(call.future)
        for futures in by_job.values():
            self._dispatch(self._calls[futures[0].key].job, futures)

    def running(self, key: CallKey, since: float, where: str) -> None:
        call = self._calls.get(tuple(key))  # type: ignore[arg-type]
        if call is None:
            return
        with self._lock:  # never overwrite a terminal state claimed meanwhile
            if call.future.call_state.terminal:
                return
            call.future.call_state = CallState.RUNNING
            call.future.activation_id = where
            if not call.started:
                # The client's clock, not ``since``: a remote host's clock may be skewed, and
                # straggler detection compares this with other calls' durations.
                call.started = time.monotonic()
                call.future.stats.setdefault("host_running_tstamp", time.time())

    def log(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        if self._on_log is not None:
            self._on_log(tuple(key), lines)  # type: ignore[arg-type]

    # -- cancelling ------------------------------------------------------------------------------

    def cancel(self, futures: Sequence[ResponseFuture]) -> bool:
        keys = [f.key for f in futures if not f.call_state.terminal]
        if not keys:
            return all(f.cancelled() for f in futures)
        self._finish_many(
            [(f, CallState.CANCELLED, None, None) for f in futures if not f.call_state.terminal]
        )
        try:
            self._cancel(keys)
        except Exception as exc:
            logger.warning("the backend could not stop cancelled calls: %s", exc)
        return True

    def outstanding(self, job_keys: Collection[str]) -> list[ResponseFuture]:
        """The unfinished calls of the jobs ``job_keys`` (what Ctrl-C in a wait cancels)."""
        with self._lock:
            return [
                c.future
                for c in self._calls.values()
                if c.job.job_key in job_keys and not c.future.call_state.terminal
            ]

    # -- internals -------------------------------------------------------------------------------

    def _should_retry(self, call: _Call, error: BaseException) -> bool:
        if isinstance(error, SerializationError | concurrent.futures.CancelledError):
            return False
        return call.future.attempts < call.job.retries

    def _retry(self, calls: list[_Call]) -> None:
        for call in calls:
            call.started, call.duration = 0.0, None
            call.future.attempts += 1
            call.future.stats["retries"] = call.future.attempts
            logger.info(
                "retrying call %s/%s (attempt %d)", *call.future.key, call.future.attempts + 1
            )
            self._dispatch(call.job, [call.future])

    def _finish_many(
        self, items: list[tuple[ResponseFuture, CallState, Any, BaseException | None]]
    ) -> None:
        if not items:
            return
        with self._lock:  # claim: each call moves to a terminal state exactly once
            claimed = [item for item in items if item[0]._claim(item[1])]
        for future, state, value, error in claimed:
            future._publish(state, value, error)  # outside the lock: runs user callbacks
            exporter = self._exported.pop(future.key, None)
            if exporter is not None:
                exporter(future)
        with self.progress:
            self.progress.notify_all()

    # -- speculative backups -------------------------------------------------------------------

    def _watch_stragglers(self) -> None:
        while True:
            time.sleep(BACKUP_CHECK_INTERVAL)
            launches: list[_Call] = []
            with self._lock:
                now = time.monotonic()
                for job_key, calls in list(self._backup_jobs.items()):
                    due = stragglers(calls, now)
                    if due is None:
                        del self._backup_jobs[job_key]
                        continue
                    for call in due:
                        call.backups += 1
                        launches.append(call)
                idle = not self._backup_jobs
                if idle:
                    self._backup_thread = None
            for call in launches:
                call.future.stats["backups"] = call.backups
                call.future.stats["host_backup_tstamp"] = time.time()
                logger.info("call %s/%s is a straggler: launching a backup copy", *call.future.key)
                self._send(call.job, [call.future])
            if idle:
                return

    def _returned(self, keys: Sequence[Any]) -> list[_Call | None]:
        """The backend is done with one copy of each of these calls (an outcome, or given
        back unrun). Counted under the lock: several backend threads report at once."""
        with self._lock:
            calls = [self._calls.get(tuple(key)) for key in keys]
            for call in calls:
                if call is not None:
                    call.inflight -= 1
        return calls

    def _stop_losers(self, keys: list[CallKey]) -> None:
        """A backed-up call ended (first outcome wins): stop its other copies on the backend."""
        losers = []
        for key in keys:
            call = self._calls.get(key)
            if call is not None and call.backups and call.inflight > 0:
                losers.append(key)
        if not losers:
            return
        try:
            self._cancel(losers)
        except Exception as exc:
            logger.warning("the backend could not stop the losing copies of %s: %s", keys, exc)

    # -- futures travelling to other processes ------------------------------------------------

    def export(self, future: ResponseFuture) -> Any:
        """A pending ``future`` is being pickled: publish its outcome to storage when it ends,
        and return where the copy finds it (see :mod:`lithops.handoff`)."""
        from lithops import handoff

        if self._storage_descriptor is None:
            raise SerializationError(
                f"future {future.job_key}/{future.call_id} is still running and this executor "
                f"has no storage to hand its result over; wait for it before pickling it",
                *future.key,
            )
        location = handoff.outcome_location(self._storage_descriptor() or {}, future)
        with self._lock:
            if future.key not in self._exported and not future.call_state.terminal:
                self._exported[future.key] = functools.partial(handoff.publish, location)
                return location
        if future.call_state.terminal:
            handoff.publish(location, future)  # it ended while we were looking
        return location


def _visible_size(arguments: list[Any]) -> int:
    """Bytes held by the top-level buffers and strings of the calls' arguments: a cheap lower
    bound of their pickled size."""
    total = 0
    for positional, keywords in arguments:
        for value in (*positional, *keywords.values()):
            if isinstance(value, bytes | bytearray | str):
                total += len(value)
                continue
            nbytes = getattr(value, "nbytes", 0)  # numpy arrays, memoryviews
            total += nbytes if isinstance(nbytes, int) else 0
    return total


def _argument_error(future: ResponseFuture, args: Any, exc: Exception) -> SerializationError:
    positional, keywords = args
    culprit = "an argument"
    for i, value in enumerate(positional):
        try:
            cloudpickle.dumps(value)
        except Exception:
            culprit = f"positional argument {i} (a {type(value).__name__})"
            break
    else:
        for name, value in keywords.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                culprit = f"argument {name!r} (a {type(value).__name__})"
                break
    return SerializationError(
        f"call {future.job_key}/{future.call_id}: {culprit} could not be pickled: "
        f"{type(exc).__name__}: {exc}. Pass plain data (paths, URLs, numbers) and open "
        f"resources inside the function",
        future.job_key,
        future.call_id,
    )


def stragglers(calls: Sequence[_Call], now: float) -> list[_Call] | None:
    """Calls of one job due a backup copy at ``now`` (monotonic); ``None`` once all are done."""
    running = [c for c in calls if not c.future.call_state.terminal]
    if not running:
        return None
    finished = [c.duration for c in calls if c.duration is not None]
    done = len(calls) - len(running)
    if len(calls) < BACKUP_MIN_CALLS or done < BACKUP_MIN_DONE_FRACTION * len(calls):
        return []
    if not finished:
        return []
    limit = max(BACKUP_SLOW_FACTOR * statistics.median(finished), BACKUP_MIN_RUNNING_S)
    return [c for c in running if c.started and not c.backups and now - c.started > limit]


def _rebuild_error(record: dict[str, Any], future: ResponseFuture) -> BaseException:
    error: BaseException | None = None
    if record.get("error") is not None:
        try:
            error = pickle.loads(record["error"])
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteError(f"{record.get('exc_type')}: {record.get('exc_msg')}")
    if not isinstance(error, CallError):
        # The user's own exception keeps its type and message; the note (shown under its
        # traceback) says which call raised it.
        try:
            error.add_note(f"raised by lithops call {future.job_key}/{future.call_id}")
        except Exception:
            pass
    return attach_remote_traceback(error, record.get("traceback") or "")


class RemoteError(Exception):
    """A remote exception whose own type could not be rebuilt on the client."""


def follow_exported(future: ResponseFuture, remote: Any) -> None:
    from lithops import handoff

    handoff.follow(future, remote)
