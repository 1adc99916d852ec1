"""One state machine per call: dispatch in batches, take results pushed back, retry, cancel.

The scheduler is the :class:`~lithops.plugins.types.EventSink` of its executor's compute
handle. Backends push results and failures; the scheduler moves each call to exactly one
terminal state and wakes whoever waits.

It also owns every call's deadlines, whatever the backend (one monitor thread per scheduler,
see :class:`_Liveness`):

* **acknowledge**: a batch the backend has room for (fewer than ``capacity`` of this
  scheduler's batches are under way) must have a call reported running or finished within the
  backend's ``ack_timeout``; so must the next call of a batch once the previous one ended. A
  backend that does not report running calls acknowledges with results: it then gets the
  call's ``timeout`` plus :func:`timeout_grace` instead. Past it, the calls of the batch end
  with ``WorkerLostError`` (or ``CallTimeoutError``) and the backend is asked to cancel them.
* **finish**: a call reported running must end within its ``timeout`` plus
  :func:`timeout_grace`; past it, ``CallTimeoutError`` and a cancel.

Batches queued behind this scheduler's own busy batches have no clock running: they wait for
calls that have deadlines of their own.

**In flight**: with ``max_inflight`` (the ``max_workers`` setting), at most that many batches of
this scheduler are with the backend at once; the others wait here, in dispatch order, and are
handed over as earlier ones end (every call of a batch answered, or ended by the core). A
queued batch is not with the backend yet, so no acknowledge clock runs for it.

Retries apply to calls ended by a deadline as to any lost call. A call's arguments are dropped
once it is terminal.
"""

from __future__ import annotations

import concurrent.futures
import functools
import heapq
import itertools
import logging
import math
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any

import cloudpickle

from lithops import handoff, wire
from lithops.errors import (
    CallError,
    CallTimeoutError,
    SerializationError,
    WireVersionError,
    WorkerLostError,
)
from lithops.future import CallState, ResponseFuture, attach_remote_traceback
from lithops.job import Job
from lithops.plugins.types import CallBatch, CallKey

__all__ = [
    "DEFAULT_ACK_TIMEOUT",
    "DEFAULT_EXECUTION_TIMEOUT",
    "RemoteError",
    "Scheduler",
    "encode_batch",
    "stragglers",
    "timeout_grace",
]

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

#: A backend that declares no ``ack_timeout`` must acknowledge a call within this (seconds).
DEFAULT_ACK_TIMEOUT = 60.0
#: A job without ``timeout`` (and no ``execution_timeout`` in the config), as in Lithops.
DEFAULT_EXECUTION_TIMEOUT = 1800.0
#: How often the liveness monitor looks at deadlines.
MONITOR_TICK = 0.2


def timeout_grace(timeout: float) -> float:
    """Slack the core allows past a call's ``timeout`` before ending it itself: worker start,
    data transfer and the backend's own stopping of the call fit in it."""
    return max(5.0, 0.05 * timeout)


class _Call:
    __slots__ = (
        "acked",
        "args",
        "backups",
        "batch",
        "copy",
        "duration",
        "flights",
        "future",
        "inflight",
        "job",
        "started",
        "unwanted",
    )

    def __init__(self, job: Job, future: ResponseFuture, args: Any) -> None:
        self.job = job
        self.future = future
        self.args = args  # dropped (None) once the call is terminal
        self.started = 0.0  # time.monotonic() when a worker reported it running; 0: not yet
        self.duration: float | None = None  # start to outcome, once finished
        self.inflight = 0  # copies handed to the backend without an outcome yet
        self.backups = 0  # speculative copies launched
        self.batch: _Batch | None = None  # the batch of its current copy, while unfinished
        self.copy = 0  # bumped on every new batch: tells stale heap entries apart
        self.acked = False  # its current copy was reported running
        self.unwanted = 0  # copies the core asked the backend to cancel and then re-sent
        self.flights: list[_Flight] = []  # the in-flight batches holding a copy, oldest first


class _Flight:
    """One invoke the backend holds: counts against ``max_inflight`` until every call it
    carried was answered or ended."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


class _Batch:
    """The calls handed to the backend in one invoke: it runs them one after another."""

    __slots__ = ("active", "clock", "left", "running", "timeout")

    def __init__(self, size: int, timeout: float) -> None:
        self.left = size  # calls of this batch not finished nor moved elsewhere
        self.active = False  # the backend reported one of its calls running or finished
        self.running = 0  # its calls reported running and not finished
        self.clock = 0.0  # monotonic: since when the backend owes it an acknowledgement
        self.timeout = timeout


class Scheduler:
    """Dispatches the calls of one executor's jobs and resolves their futures."""

    def __init__(
        self,
        invoke: Callable[[CallBatch], Any],
        cancel: Callable[[list[CallKey]], Any],
        capacity: Callable[[], int],
        storage_descriptor: Callable[[], dict[str, Any] | None] | None = None,
        on_log: Callable[[CallKey, Sequence[tuple[float, str]]], None] | None = None,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        reports_running: bool = False,
        backend: str = "the backend",
        max_inflight: int | None = None,
        function_once: bool = False,
    ) -> None:
        """
        :param ack_timeout: seconds the backend may take to report a call running (or
            finished) once it has room for it (``BackendInfo.ack_timeout``).
        :param reports_running: the backend reports calls as they start
            (``EventSink.running``); also learnt from the first such report.
        :param backend: the backend's name, for error messages.
        :param max_inflight: most batches with the backend at once (``None``: no limit).
        :param function_once: the backend delivers a job's function to each worker once
            (capability ``"function_once"``): messages carry only its key, and
            ``CallBatch.function`` the function.
        """
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
        self._live = _Liveness(ack_timeout, reports_running, backend)
        self._monitor: threading.Thread | None = None
        self._max_inflight = max_inflight if max_inflight and max_inflight > 0 else None
        self._function_once = function_once
        self._inflight = 0  # batches with the backend (or about to be)
        self._queued: deque[tuple[Job, list[ResponseFuture]]] = deque()
        self._pumping = False

    # -- submitting -----------------------------------------------------------------------------

    def submit(self, job: Job, futures: list[ResponseFuture]) -> None:
        """Take over the calls of ``job`` (its ``arguments`` move here) and dispatch them."""
        now = time.time()
        if job.timeout is None:
            job.timeout = DEFAULT_EXECUTION_TIMEOUT
        with self._lock:
            for future, args in zip(futures, job.arguments, strict=True):
                future.scheduler = self
                future.stats["host_job_create_tstamp"] = job.host_job_create_tstamp
                future.stats["host_job_serialize_time"] = job.host_job_serialize_time
                future.stats["host_submit_tstamp"] = now
                self._calls[future.key] = _Call(job, future, args)
            # The calls hold their own arguments now, and drop them when they end.
            job.arguments = []
            if job.backups and len(futures) >= BACKUP_MIN_CALLS:
                self._backup_jobs[job.job_key] = [self._calls[f.key] for f in futures]
                if self._backup_thread is None:
                    self._backup_thread = threading.Thread(
                        target=self._watch_stragglers, name="lithops-backups", daemon=True
                    )
                    self._backup_thread.start()
            if self._monitor is None and futures:
                self._monitor = threading.Thread(
                    target=self._watch_deadlines, name="lithops-deadlines", daemon=True
                )
                self._monitor.start()
        try:
            self._dispatch(job, futures)
        except Exception as exc:
            # The backend could not even be set up: these calls end now, with its error.
            self._finish_many([(f, CallState.FAILED, None, exc) for f in futures])
            raise

    def _dispatch(self, job: Job, futures: list[ResponseFuture]) -> None:
        if not futures:
            return
        capacity = max(1, self._capacity())
        self._live.capacity = capacity
        size = max(1, min(MAX_BATCH_CALLS, math.ceil(len(futures) / (capacity * 4))))
        if job.chunksize:  # Lithops' chunksize: this many calls per worker message
            size = job.chunksize
        for start in range(0, len(futures), size):
            self._send(job, futures[start : start + size])

    def _send(self, job: Job, futures: list[ResponseFuture]) -> None:
        with self._lock:  # a call may have ended (cancelled) since it was chosen
            calls = [c for c in (self._calls.get(f.key) for f in futures) if c is not None]
            futures = [c.future for c in calls]
            if not futures:
                return
            if self._max_inflight is not None and self._inflight >= self._max_inflight:
                self._queued.append((job, futures))  # no clock runs until it is sent
                return
            self._inflight += 1  # this batch's slot, taken before the lock is let go
        try:
            self._send_now(job, futures, calls)
        except BaseException:
            self._release_slots(1)
            raise

    def _send_now(self, job: Job, futures: list[ResponseFuture], calls: list[_Call]) -> None:
        """Send in the slot ``_send`` took: one batch, or the first of single-call batches
        (the others go through ``_send`` again, each taking a slot or queueing)."""
        payload = None
        arguments = [c.args for c in calls]
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
        slot = True  # the slot _send took, for the first single-call batch that goes
        for index, (f, call) in enumerate(zip(futures, calls, strict=True)):
            args = call.args
            try:
                single = cloudpickle.dumps([args])
            except Exception as exc:
                self._finish_many([(f, CallState.FAILED, None, _argument_error(f, args, exc))])
                continue
            if slot:
                slot = False
                self._invoke_batch(job, [f], single)
            else:
                rest = futures[index:]
                self._send_each(job, rest)
                return
        if slot:
            self._release_slots(1)  # nothing of the batch went out

    def _send_each(self, job: Job, futures: list[ResponseFuture]) -> None:
        for f in futures:
            self._send(job, [f])

    def _invoke_batch(self, job: Job, futures: list[ResponseFuture], payload: bytes) -> None:
        storage = (
            self._storage_descriptor()
            if "storage" in job.inject and self._storage_descriptor
            else None
        )
        batch = encode_batch(
            job, [f.call_id for f in futures], payload, storage, self._function_once
        )
        with self._lock:
            fresh = []
            flight = _Flight(0)
            for f in futures:
                call = self._calls.get(f.key)
                if call is None:
                    continue
                call.inflight += 1
                call.flights.append(flight)
                flight.left += 1
                if f.call_state == CallState.PENDING:
                    f.call_state = CallState.DISPATCHED
                if call.batch is None:  # not a backup copy of a call under way
                    fresh.append(call)
            if fresh:
                self._live.add_batch(fresh, float(job.timeout or DEFAULT_EXECUTION_TIMEOUT))
            empty = flight.left == 0
        if empty:  # every call ended meanwhile: nothing to hand over
            self._release_slots(1)
            return
        try:
            self._invoke(batch)
        except Exception as exc:
            self.lost(batch.calls, exc)

    # -- events from the backend (EventSink) ---------------------------------------------------

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        self._live.heard = time.monotonic()
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
        self._stop_losers(finished)
        self._finish_many(finished)
        self._retry(retry)

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        self._live.heard = time.monotonic()
        retry: list[_Call] = []
        finished: list[tuple[ResponseFuture, CallState, Any, BaseException | None]] = []
        for call in self._returned(keys):
            if call is None or call.future.call_state.terminal:
                continue
            if isinstance(error, concurrent.futures.CancelledError):
                if call.unwanted:  # the echo of a cancel the core asked for, then re-sent
                    call.unwanted -= 1
                    continue
                finished.append((call.future, CallState.CANCELLED, None, None))
                continue
            if isinstance(error, CallError) and not error.call_id:
                error = type(error)(str(error), *call.future.key)
            if self._should_retry(call, error):
                retry.append(call)
            else:
                state = CallState.LOST if isinstance(error, CallError) else CallState.FAILED
                finished.append((call.future, state, None, error))
        self._stop_losers(finished)
        self._finish_many(finished)
        self._retry(retry)

    def requeue(self, keys: Sequence[CallKey]) -> None:
        self._live.heard = time.monotonic()
        by_job: dict[str, tuple[Job, list[ResponseFuture]]] = {}
        calls = self._returned(keys)
        with self._lock:
            for call in calls:  # given back unrun: dispatched anew below
                if call is not None and not call.future.call_state.terminal:
                    self._live.leave(call, time.monotonic())
                    by_job.setdefault(call.job.job_key, (call.job, []))[1].append(call.future)
        for job, futures in by_job.values():
            self._dispatch(job, futures)

    def running(self, key: CallKey, since: float, where: str) -> None:
        call = self._calls.get(tuple(key))  # type: ignore[arg-type]
        if call is None:
            return
        with self._lock:  # never overwrite a terminal state claimed meanwhile
            if call.future.call_state.terminal:
                return
            call.future.call_state = CallState.RUNNING
            call.future.activation_id = where
            self._live.ack(call, time.monotonic())
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
        if isinstance(
            error, SerializationError | WireVersionError | concurrent.futures.CancelledError
        ):
            return False
        return call.future.attempts < call.job.retries

    def _retry(self, calls: list[_Call]) -> None:
        if calls:
            landed = 0
            with self._lock:
                now = time.monotonic()
                for call in calls:
                    self._live.leave(call, now)
                    landed += self._ground(call)
            self._release_slots(landed)
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
            claimed = [item for item in items if item[0].claim(item[1])]
            now = time.monotonic()
            landed = 0
            for future, *_ in claimed:
                # Nothing can need the arguments any more (no retry, no backup): drop them.
                call = self._calls.pop(future.key, None)
                if call is not None:
                    self._live.leave(call, now)
                    landed += self._ground(call)
                    call.args = None
        self._release_slots(landed)
        for future, state, value, error in claimed:
            future.publish(state, value, error)  # outside the lock: runs user callbacks
            exporter = self._exported.pop(future.key, None)
            if exporter is not None:
                exporter(future)
        with self.progress:
            self.progress.notify_all()

    # -- deadlines ---------------------------------------------------------------------------

    def _watch_deadlines(self) -> None:
        """The monitor thread: ends calls past a deadline; exits when no call is open."""
        while True:
            time.sleep(MONITOR_TICK)
            with self._lock:
                if not self._calls:
                    self._monitor = None
                    return
                overdue = self._live.overdue(time.monotonic())
            if overdue:
                self._expire(overdue)

    def _expire(self, overdue: list[tuple[_Call, BaseException]]) -> None:
        """End calls whose deadline passed (or send them again when retries are left) and ask
        the backend to stop what it may still run of them."""
        retry: list[_Call] = []
        finished: list[tuple[ResponseFuture, CallState, Any, BaseException | None]] = []
        seen: set[int] = set()
        with self._lock:
            for call, error in overdue:
                if call.future.call_state.terminal or id(call) in seen:
                    continue
                seen.add(id(call))
                if self._should_retry(call, error):
                    call.unwanted += 1  # the backend may answer the cancel below for it
                    retry.append(call)
                else:
                    finished.append((call.future, CallState.LOST, None, error))
        for _, error in overdue[:1]:
            logger.warning("%s", error)
        self._finish_many(finished)
        keys = [f.key for f, *_ in finished] + [c.future.key for c in retry]
        try:
            self._cancel(keys)
        except Exception as exc:
            logger.warning("the backend could not stop calls past their deadline: %s", exc)
        self._retry(retry)

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
            landed = 0
            for call in calls:
                if call is not None:
                    call.inflight -= 1
                    if call.flights:
                        landed += _land(call.flights.pop(0))
        self._release_slots(landed)
        return calls

    def _release_slots(self, count: int) -> None:
        """``count`` batches left the backend: hand it queued ones in their place. One thread
        pumps at a time (a backend that answers inside ``invoke`` would otherwise recurse once
        per queued batch); the others only give their slots back."""
        if not count and not self._queued:
            return
        with self._lock:
            self._inflight -= count
            if self._pumping:
                return
            self._pumping = True
        try:
            while True:
                with self._lock:
                    room = (
                        len(self._queued)
                        if self._max_inflight is None
                        else self._max_inflight - self._inflight
                    )
                    if room <= 0 or not self._queued:
                        self._pumping = False
                        return
                    job, futures = self._queued.popleft()
                self._send(job, futures)
        except BaseException:
            with self._lock:
                self._pumping = False
            raise

    def _ground(self, call: _Call) -> int:
        """The core is done with every copy of ``call`` (it ended, or is sent anew): its
        batches stop counting it. Under the lock; returns the batches that landed."""
        landed = sum(_land(flight) for flight in call.flights)
        call.flights = []
        return landed

    def _stop_losers(
        self, finished: list[tuple[ResponseFuture, CallState, Any, BaseException | None]]
    ) -> None:
        """A backed-up call ended (first outcome wins): stop its other copies on the backend."""
        losers = []
        with self._lock:
            for future, *_ in finished:
                call = self._calls.get(future.key)
                if call is not None and call.backups and call.inflight > 0:
                    losers.append(future.key)
        if not losers:
            return
        self._finish_many(finished)  # before the cancel: its echo must find them terminal
        try:
            self._cancel(losers)
        except Exception as exc:
            logger.warning("the backend could not stop the losing copies of %s: %s", losers, exc)

    # -- futures travelling to other processes ------------------------------------------------

    def export(self, future: ResponseFuture) -> handoff.OutcomeHandoff:
        """A pending ``future`` is being pickled: publish its outcome to storage when it ends,
        and return where the copy finds it (see :mod:`lithops.handoff`)."""
        if self._storage_descriptor is None:
            raise SerializationError(
                f"future {future.job_key}/{future.call_id} is still running and this executor "
                f"has no storage to hand its result over; wait for it before pickling it",
                *future.key,
            )
        location = handoff.outcome_location(self._storage_descriptor() or {}, future)
        with self._lock:
            call = self._calls.get(future.key)
            timeout = float(call.job.timeout or DEFAULT_EXECUTION_TIMEOUT) if call else 0.0
            # The latest the outcome can come if every deadline of the call is used up.
            bound = self._live.ack_timeout + timeout + timeout_grace(timeout) + MONITOR_TICK
            location["deadline"] = time.time() + bound
            if future.key not in self._exported and not future.call_state.terminal:
                self._exported[future.key] = functools.partial(handoff.publish, location)
                return handoff.OutcomeHandoff(location)
        if future.call_state.terminal:
            handoff.publish(location, future)  # it ended while we were looking
        return handoff.OutcomeHandoff(location)


class _Liveness:
    """The deadline book of one scheduler; every method runs under the scheduler's lock.

    Batches wait in dispatch order; the first ``capacity - active`` of them have room at the
    backend, so their acknowledgement clock runs. Calls reported running sit in a heap keyed
    by their finishing deadline. One look costs O(capacity + expired), whatever the map size.
    """

    def __init__(self, ack_timeout: float, reports_running: bool, backend: str) -> None:
        self.ack_timeout = float(ack_timeout)
        self.reports_running = reports_running
        self.backend = backend
        self.capacity = 1
        self.waiting: deque[_Batch] = deque()
        self.active: set[_Batch] = set()
        self.roomed: list[_Batch] = []
        self.members: dict[_Batch, list[_Call]] = {}
        self.heap: list[tuple[float, int, _Call, int]] = []
        self._order = itertools.count()
        self.pending = 0  # batches in ``waiting`` not under way yet
        self.heard = 0.0  # monotonic: the backend's last event about any call
        self.acked = 0  # calls reported running and not finished

    def add_batch(self, calls: list[_Call], timeout: float) -> None:
        batch = _Batch(len(calls), timeout)
        for call in calls:
            call.batch = batch
            call.copy += 1
            call.acked = False
        self.members[batch] = calls
        self.waiting.append(batch)
        self.pending += 1

    def ack(self, call: _Call, now: float) -> None:
        """``call`` was reported running: its batch is under way, its finish clock starts."""
        self.reports_running = True
        self.heard = now
        batch = call.batch
        if batch is None or call.acked:
            return
        call.acked = True
        self.acked += 1
        self._activate(batch)
        batch.running += 1
        batch.clock = 0.0
        deadline = now + batch.timeout + timeout_grace(batch.timeout)
        heapq.heappush(self.heap, (deadline, next(self._order), call, call.copy))

    def leave(self, call: _Call, now: float) -> None:
        """``call`` ended, or its copy was given back: it no longer counts in its batch."""
        batch = call.batch
        if batch is None:
            return
        call.batch = None
        self._activate(batch)  # a finished call acknowledges its batch too
        if call.acked:
            batch.running -= 1
            self.acked -= 1
            call.acked = False
        batch.left -= 1
        batch.clock = now if batch.running == 0 else 0.0  # the next call is owed now
        if batch.left <= 0:
            self.active.discard(batch)
            self.members.pop(batch, None)

    def _activate(self, batch: _Batch) -> None:
        if not batch.active:
            batch.active = True
            self.pending -= 1
            if batch.left > 0:
                self.active.add(batch)

    def overdue(self, now: float) -> list[tuple[_Call, BaseException]]:
        """Calls past a deadline at ``now`` (monotonic), each with the error it ends with."""
        out: list[tuple[_Call, BaseException]] = []
        while self.heap and self.heap[0][0] <= now:
            _, _, call, copy = heapq.heappop(self.heap)
            if call.copy == copy and call.acked and call.batch is not None:
                out.append((call, self._timeout_error(call)))
        # Entries of calls that ended early pile up: drop them now and then (amortised O(1)).
        if len(self.heap) > 2 * self.acked + 1024:
            self.heap = [e for e in self.heap if e[2].copy == e[3] and e[2].acked]
            heapq.heapify(self.heap)
        if len(self.waiting) > 2 * self.pending + 64:
            self.waiting = deque(b for b in self.waiting if not b.active and b.left > 0)
        # Room at the backend: the first waiting batches, as many as free slots.
        while self.waiting and (self.waiting[0].active or self.waiting[0].left <= 0):
            self.waiting.popleft()
        free = self.capacity - len(self.active)
        roomed: list[_Batch] = []
        if free > 0:
            for batch in self.waiting:
                if batch.active or batch.left <= 0:
                    continue
                roomed.append(batch)
                if len(roomed) >= free:
                    break
        kept = set(map(id, roomed))
        for batch in self.roomed:  # lost its room (another batch went first): clock stops
            if id(batch) not in kept and not batch.active:
                batch.clock = 0.0
        self.roomed = roomed
        for batch in roomed:
            if not batch.clock:
                batch.clock = now
        stalled = False
        ended: set[int] = set()
        for batch in [*roomed, *self.active]:
            if batch.running or not batch.clock:
                continue
            limit = self._ack_limit(batch)
            if now - batch.clock > limit:
                ended.add(id(batch))
                out += self._silent_calls(batch, now - batch.clock, limit)
                # Not a word from the backend about any call all that time: it is not working
                # through its queue either, so what waits behind these is lost too.
                stalled = stalled or now - self.heard > limit
        if stalled:
            for batch in self.waiting:
                if not batch.active and batch.left > 0 and id(batch) not in ended:
                    out += self._silent_calls(batch, now - self.heard, self._ack_limit(batch))
        return out

    def _silent_calls(
        self, batch: _Batch, waited: float, limit: float
    ) -> list[tuple[_Call, BaseException]]:
        batch.clock = 0.0
        return [
            (call, self._silence_error(call, waited, limit))
            for call in self.members.get(batch, [])
            if call.batch is batch and not call.acked
        ]

    def _ack_limit(self, batch: _Batch) -> float:
        if self.reports_running:
            return self.ack_timeout
        return batch.timeout + timeout_grace(batch.timeout)

    def _timeout_error(self, call: _Call) -> CallTimeoutError:
        timeout = float(call.job.timeout or DEFAULT_EXECUTION_TIMEOUT)
        key = call.future.key
        return CallTimeoutError(
            f"call {key[0]}/{key[1]} ran past its timeout of {timeout:g} s (plus "
            f"{timeout_grace(timeout):g} s of grace) and {self.backend} did not stop it: lithops "
            f"ended it and asked the backend to cancel it. If the function needs longer, raise "
            f"map(timeout=...) or the execution_timeout setting",
            *key,
        )

    def _silence_error(self, call: _Call, waited: float, limit: float) -> CallError:
        key = call.future.key
        if self.reports_running:
            return WorkerLostError(
                f"call {key[0]}/{key[1]} was handed to {self.backend}, which had room for it, "
                f"and was not reported running or finished within {waited:.0f} s (its "
                f"ack_timeout is {limit:g} s): the backend lost it. Lithops ended it and asked "
                f"the backend to cancel it; check the backend's workers or hosts",
                *key,
            )
        return CallTimeoutError(
            f"call {key[0]}/{key[1]} did not come back from {self.backend} within its timeout "
            f"of {call.job.timeout:g} s plus grace ({limit:g} s after the backend had room for "
            f"it), and the backend reported nothing about it: lithops ended it and asked the "
            f"backend to cancel it. If the function needs longer, raise map(timeout=...) or "
            f"execution_timeout; otherwise the backend lost the call",
            *key,
        )


def encode_batch(
    job: Job,
    call_ids: list[str],
    arguments: bytes,
    storage: dict[str, Any] | None = None,
    function_once: bool = False,
    wire_version: tuple[int, int] = wire.WIRE_VERSION,
) -> CallBatch:
    """The :class:`CallBatch` of some calls of ``job`` (see :mod:`lithops.wire`, ``batch``).

    :param arguments: the cloudpickled list of the calls' ``(args, kwargs)``.
    :param storage: the storage's worker descriptor, for functions that take ``storage``.
    :param function_once: leave the function out of the message (``CallBatch.function``).
    :param wire_version: the version stamped on the message (tests of version skew).
    """
    message = {
        "t": "batch",
        "wire": wire_version,
        "job_key": job.job_key,
        "func_key": job.func_key,
        "func": None if function_once else job.func_payload,
        "runtime_memory": job.runtime_memory,
        "calls": call_ids,
        "args": arguments,
        "timeout": job.timeout,
        "env": job.extra_env,
        "inject": job.inject,
        "storage": storage,
    }
    return CallBatch(
        job_key=job.job_key,
        calls=[(job.job_key, c) for c in call_ids],
        message=wire.encode(message),
        timeout=job.timeout,
        func_key=job.func_key,
        runtime_memory=job.runtime_memory,
        function=job.func_payload if function_once else None,
    )


def _land(flight: _Flight) -> int:
    """One call of ``flight`` is answered; 1 when that was its last (the batch is back)."""
    flight.left -= 1
    return 1 if flight.left == 0 else 0


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
    import statistics  # only once backups are considered: not on the cold path

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
