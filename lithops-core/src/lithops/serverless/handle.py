"""The client side of a serverless backend: one synchronous invocation per batch of calls.

:class:`ServerlessHandle` is what ``lithops_provision`` returns for such a backend. A backend
subclasses it and writes one method, :meth:`~ServerlessHandle.invoke_once`: send an event to
the function once and return its JSON answer (or the error its failure means for the calls).
The base does the rest, the same way for every platform:

* at most ``max_workers`` invocations in flight, from a bounded pool of that many threads (or
  ``pool_threads``, when smaller) that takes batches in order;
* throttling and transient refusals (:class:`~lithops.serverless.retry.Retry`) retried with
  backoff and jitter (:func:`~lithops.serverless.retry.retry_with_backoff`): a call is never
  dropped;
* an event larger than ``payload_limit`` travels through storage (``"message_ref"``); the
  function spills a large answer there too (``"spill"``, see :mod:`lithops.worker.serverless`);
  the event carries the storage's worker descriptor, never credentials;
* a batch whose invocation failed is run again call by call, so that only the call that broke
  it fails;
* captured output pushed as log lines, records pushed to the sink, cancelled calls ignored.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import json
import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cloudpickle

from lithops import wire
from lithops.errors import BackendUnavailableError, LithopsError, WireVersionError
from lithops.plugins.types import CallBatch, CallKey, EventSink, JobUsage
from lithops.serverless.retry import retry_with_backoff
from lithops.worker.serverless import FunctionUploads, decode_event_response

__all__ = ["EVENT_OVERHEAD", "ServerlessHandle", "split_batch", "storage_of"]

logger = logging.getLogger(__name__)

#: JSON and base64 grow an event by about 4/3; this much is kept for the event's other keys.
EVENT_OVERHEAD = 2048


class ServerlessHandle:
    """One executor's handle on a deployed function; subclass it and write
    :meth:`invoke_once`.

    :param events: the provision request's event sink.
    :param storage: makes the ``lithops.Storage`` that carries large payloads, called once, on
        first need; when it raises, payloads above the limit fail with what to configure.
    :param max_workers: invocations in flight at most (the handle's ``capacity``).
    :param pool_threads: threads invoking (the pool has ``min(pool_threads, max_workers)``).
    :param payload_limit: the platform's request size limit in bytes.
    :param label: names the function in messages ("Lambda function lithops-w-...").
    """

    #: the backend name (``BackendInfo.name``)
    backend: str = ""
    #: the storage backend to name when a payload needs storage and none is configured
    storage_backend: str = ""
    #: last sentence of the error after :data:`~lithops.serverless.retry.RETRY_WINDOW_S` of
    #: refusals: which quota or setting to change
    retry_advice: str = "lower max_workers"

    def __init__(
        self,
        events: EventSink,
        storage: Callable[[], Any],
        *,
        max_workers: int,
        pool_threads: int,
        payload_limit: int,
        label: str,
    ) -> None:
        self.capacity = max_workers
        self.payload_limit = payload_limit
        self.label = label
        #: more keys for every event (a nested executor's config, say)
        self.event_fields: dict[str, Any] = {}
        #: set by :meth:`release`: nothing more is invoked or retried
        self.closed = threading.Event()
        #: invocations answered
        self.invocations = 0
        #: job key -> ``[billed invocations, billed milliseconds]`` (see :meth:`record_usage`)
        self.usage: dict[str, list[int]] = {}
        self._events = events
        self._storage_factory = storage
        self._storage: Any = None
        self._storage_lock = threading.Lock()
        self._cancelled: set[CallKey] = set()
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(pool_threads, max_workers)),
            thread_name_prefix=f"lithops-{self.backend or 'serverless'}",
        )
        # Backends declaring "function_once" get batches without the function: it rides in the
        # event (small) or goes to storage once per job (see FunctionUploads).
        self._functions = FunctionUploads(inline_limit=min(64 << 10, payload_limit // 8))

    # -- what a backend writes ------------------------------------------------------------

    def invoke_once(self, body: str, batch: CallBatch) -> dict[str, Any] | BaseException:
        """Invoke the function once with the JSON event ``body`` (of ``batch``) and wait.

        :returns: the function's JSON answer (what :func:`lithops.worker.serverless.handler`
            returned), or the exception the function's failure means for the batch's calls
            (``CallTimeoutError``, ``WorkerLostError``, ``WireVersionError``...): a batch of
            several calls is then run again call by call.
        :raises Retry: the platform refused for now (throttled, busy): tried again later.
        :raises Exception: the function cannot be invoked at all: the batch's calls fail with
            it (wrapped in ``BackendUnavailableError`` unless it is a ``LithopsError``).
        """
        raise NotImplementedError

    def dismantle(self) -> None:
        """Remove what provision deployed (``FunctionExecutor.dismantle()``). Default: keep it."""

    def cost(self, usage: JobUsage) -> float | None:
        """The job's price in US dollars, for ``job_summary()``; ``None``: unknown."""
        return None

    # -- the handle's methods -------------------------------------------------------------

    def invoke(self, batch: CallBatch) -> None:
        """Queue ``batch`` for an invocation; its records reach the sink when it answers."""
        if self.closed.is_set():
            raise BackendUnavailableError(f"this {self.backend} handle was released")
        self._pool.submit(self._run_batch, batch)

    def cancel(self, keys: list[CallKey]) -> None:
        """Forget these calls: a running invocation cannot be stopped, its answer is ignored."""
        with self._lock:
            self._cancelled.update(keys)
        self._events.lost(
            keys,
            concurrent.futures.CancelledError(f"cancelled; a running {self.label} call runs on"),
        )

    def release(self, dismantle: bool = False) -> None:
        """Stop invoking (queued batches are dropped); with ``dismantle``, :meth:`dismantle`."""
        self.closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if dismantle:
            self.dismantle()

    # -- helpers for subclasses -----------------------------------------------------------

    def payload_storage(self) -> Any:
        """The storage for large payloads, or ``None`` when none could be made."""
        with self._storage_lock:
            if self._storage is None:
                try:
                    self._storage = self._storage_factory()
                except Exception as exc:
                    logger.debug("no storage for large payloads: %s", exc)
                    self._storage = False
            return self._storage or None

    def record_usage(self, job_key: str, billed_ms: float) -> None:
        """Count one billed invocation of ``job_key`` (at least 1 ms) for :meth:`cost`."""
        with self._lock:
            entry = self.usage.setdefault(job_key, [0, 0])
            entry[0] += 1
            entry[1] += max(int(billed_ms), 1)

    def job_usage(self, job_key: str) -> tuple[int, int]:
        """``(billed invocations, billed milliseconds)`` of ``job_key`` so far."""
        with self._lock:
            invocations, billed_ms = self.usage.get(job_key, (0, 0))
        return invocations, billed_ms

    @staticmethod
    def describe(batch: CallBatch) -> tuple[str, str, str]:
        """``(what, job_key, call_id)``: "call J/C" for a one-call batch, else "a batch of J",
        and the first call's key (for the errors' ``job_key``/``call_id``)."""
        job_key, call_id = batch.calls[0] if batch.calls else ("", "")
        what = f"call {job_key}/{call_id}" if len(batch.calls) == 1 else f"a batch of {job_key}"
        return what, job_key, call_id

    # -- one batch ------------------------------------------------------------------------

    def _live(self, keys: list[CallKey]) -> list[CallKey]:
        with self._lock:
            return [k for k in keys if k not in self._cancelled]

    def _run_batch(self, batch: CallBatch) -> None:
        if not self._live(batch.calls):
            return
        try:
            failure = self._run(batch)
            if failure is None:
                return
            if len(batch.calls) > 1 and not isinstance(failure, WireVersionError):
                # Only the call that broke the invocation should fail: run them one by one.
                for single in split_batch(batch):
                    if self._live(single.calls):
                        error = self._run(single)
                        if error is not None:
                            self._events.lost(self._live(single.calls), error)
                return
            self._events.lost(self._live(batch.calls), failure)
        except Exception as exc:
            if not isinstance(exc, (LithopsError, concurrent.futures.CancelledError)):
                exc = BackendUnavailableError(
                    f"invoking {self.label} failed: {type(exc).__name__}: {exc}"
                )
            self._events.lost(self._live(batch.calls), exc)

    def _run(self, batch: CallBatch) -> BaseException | None:
        """Invoke once (with retries) and push the records; the function's failure or None."""
        event, ref = self._event(batch)
        body = json.dumps(event)
        try:
            answer = retry_with_backoff(
                lambda: self.invoke_once(body, batch),
                what=self.label,
                advice=self.retry_advice,
                closed=self.closed,
            )
        finally:
            if ref is not None:
                self.payload_storage().delete_object(ref["bucket"], ref["key"])
        with self._lock:
            self.invocations += 1
        if isinstance(answer, BaseException):
            return answer
        records = decode_event_response(answer, self.payload_storage())
        for record in records:
            output = record.get("output")
            if output:
                tstamp = float((record.get("stats") or {}).get("worker_end_tstamp") or time.time())
                self._events.log(record["key"], [(tstamp, line) for line in output.splitlines()])
        self._events.results(records)
        return None

    def _event(self, batch: CallBatch) -> tuple[dict[str, Any], dict[str, str] | None]:
        event: dict[str, Any] = {"t": "batch", "wire": list(wire.WIRE_VERSION), **self.event_fields}
        storage = self.payload_storage()
        if storage is not None:
            event["storage"] = storage.worker_descriptor()
            event["spill"] = {
                "limit": self.payload_limit - EVENT_OVERHEAD,
                "prefix": f"lithops.jobs/{batch.job_key}/spill",
            }
        function = self._functions.event_field(batch, storage)
        if function is not None:
            event["function"] = function
        ref = None
        extra = len(json.dumps(function)) if function is not None else 0
        if len(batch.message) * 4 // 3 + EVENT_OVERHEAD + extra > self.payload_limit:
            if storage is None:
                raise BackendUnavailableError(
                    f"a batch of job {batch.job_key} is {len(batch.message)} bytes, more than "
                    f"{self.backend}'s payload_limit ({self.payload_limit}), and no storage is "
                    f"configured to carry it: set lithops.storage to {self.storage_backend}"
                )
            key = f"lithops.jobs/{batch.job_key}/batches/{uuid.uuid4().hex}.batch"
            storage.put_object(storage.bucket, key, batch.message)
            ref = {"bucket": storage.bucket, "key": key}
            event["message_ref"] = ref
        else:
            event["message"] = base64.b64encode(batch.message).decode("ascii")
        return event, ref


def split_batch(batch: CallBatch) -> list[CallBatch]:
    """One single-call batch per call of ``batch`` (the client pickled these arguments)."""
    message = wire.decode(batch.message)
    arguments = pickle.loads(message["args"])
    out = []
    for key, call_id, args in zip(batch.calls, message["calls"], arguments, strict=True):
        single = {**message, "calls": [call_id], "args": cloudpickle.dumps([args])}
        out.append(
            dataclasses.replace(
                batch, calls=[key], message=wire.encode(single), extra=dict(batch.extra)
            )
        )
    return out


def storage_of(config: Any) -> Callable[[], Any]:
    """The ``storage`` argument of :class:`ServerlessHandle` for an executor's ``config``: a
    ``lithops.Storage`` of its storage backend, made on first need."""

    def make() -> Any:
        from lithops.storage import Storage

        return Storage(config=config)

    return make
