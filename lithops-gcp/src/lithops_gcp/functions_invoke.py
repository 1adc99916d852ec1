"""Invoking the function: one batch per synchronous HTTPS request, results pushed from the response.

At most ``max_workers`` requests are in flight: a bounded pool of that many threads (or
``invoke_pool_threads``, when smaller) takes batches in order. 429 and 503 are retried with
backoff (:mod:`lithops_gcp.http_invoke`): a call is never dropped. A request larger than
``payload_limit`` travels through storage; so does a response (the function spills it, see
:mod:`lithops.worker.serverless`). The event carries the storage's worker descriptor, never
credentials: the function uses its service account.

A batch whose request fails (the instance died, it timed out) is run again call by call, so
that only the call that caused it fails; a single call's failure becomes ``CallTimeoutError``
(the function's timeout) or ``WorkerLostError`` (a crash, most often the memory limit), the
same classes as on Lambda.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cloudpickle
import requests

from lithops import wire
from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    LithopsError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, CallKey, EventSink
from lithops.worker.serverless import decode_event_response
from lithops_gcp.functions_config import GcfSettings
from lithops_gcp.functions_deploy import GcfRuntime
from lithops_gcp.http_invoke import FunctionCaller

__all__ = ["CALL_TIMEOUT_MARGIN_S", "NAME", "GcfHandle"]

logger = logging.getLogger(__name__)

NAME = "gcp_functions"
#: seconds allowed beyond a call's own timeout (an instance may have to start first)
CALL_TIMEOUT_MARGIN_S = 20.0
#: JSON and base64 grow an event by about 4/3; keep a margin for the other keys.
_EVENT_OVERHEAD = 2048


class GcfHandle:
    """One executor's handle on a deployed function."""

    backend = NAME

    def __init__(
        self,
        client: Any,
        caller: FunctionCaller,
        runtime: GcfRuntime,
        settings: GcfSettings,
        events: EventSink,
        storage: Callable[[], Any],
    ) -> None:
        self.client = client
        self.caller = caller
        self.runtime = runtime
        self.settings = settings
        self.capacity = settings.max_workers
        self._events = events
        self._storage_factory = storage
        self._storage: Any = None
        self._storage_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(settings.pool_threads, settings.max_workers),
            thread_name_prefix="lithops-gcf",
        )
        self._cancelled: set[CallKey] = set()
        self._lock = threading.Lock()
        #: requests answered, and the seconds the function spent on them (for cost figures)
        self.invocations = 0

    # -- the hook methods -----------------------------------------------------------------

    def invoke(self, batch: CallBatch) -> None:
        if self.caller.closed.is_set():
            raise BackendUnavailableError("this gcp_functions handle was released")
        self._pool.submit(self._run_batch, batch)

    def cancel(self, keys: list[CallKey]) -> None:
        # A running request cannot be stopped; its result is ignored when it comes.
        with self._lock:
            self._cancelled.update(keys)
        self._events.lost(
            keys,
            concurrent.futures.CancelledError("cancelled; a running Cloud Function call runs on"),
        )

    def release(self) -> None:
        self.caller.closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one batch ------------------------------------------------------------------------

    def _storage_or_none(self) -> Any:
        with self._storage_lock:
            if self._storage is None:
                try:
                    self._storage = self._storage_factory()
                except Exception as exc:
                    logger.debug("no storage for large payloads: %s", exc)
                    self._storage = False
            return self._storage or None

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
                # Only the call that broke the request should fail: run them one by one.
                for single in _split(batch):
                    if self._live(single.calls):
                        error = self._run(single)
                        if error is not None:
                            self._events.lost(self._live(single.calls), error)
                return
            self._events.lost(self._live(batch.calls), failure)
        except Exception as exc:
            if not isinstance(exc, (LithopsError, concurrent.futures.CancelledError)):
                exc = BackendUnavailableError(
                    f"invoking Cloud Function {self.runtime.function_id} failed: "
                    f"{type(exc).__name__}: {exc}"
                )
            self._events.lost(self._live(batch.calls), exc)

    def _run(self, batch: CallBatch) -> BaseException | None:
        """Invoke once (with retries) and push the records; the function's failure or None."""
        event, ref = self._event(batch)
        # The platform cannot stop one call: past the calls' own timeout the answer is not
        # waited for (the batch is then run call by call, so only the slow call fails).
        per_call = float(batch.timeout) if batch.timeout else None
        wait = None
        if per_call and per_call * len(batch.calls) < self.settings.timeout:
            wait = per_call * len(batch.calls) + CALL_TIMEOUT_MARGIN_S
        try:
            response = self.caller.post(json.dumps(event), f"batch of {batch.job_key}", wait)
        except requests.Timeout:
            return self._timed_out(batch, per_call if wait else None)
        finally:
            if ref is not None:
                self._storage_or_none().delete_object(ref["bucket"], ref["key"])
        with self._lock:
            self.invocations += 1
        if response.status_code != 200:
            return self._function_error(response, batch)
        records = decode_event_response(response.json(), self._storage_or_none())
        for record in records:
            output = record.get("output")
            if output:
                tstamp = float((record.get("stats") or {}).get("worker_end_tstamp") or time.time())
                self._events.log(record["key"], [(tstamp, line) for line in output.splitlines()])
        self._events.results(records)
        return None

    def _event(self, batch: CallBatch) -> tuple[dict[str, Any], dict[str, str] | None]:
        event: dict[str, Any] = {"t": "batch", "wire": list(wire.WIRE_VERSION)}
        storage = self._storage_or_none()
        if storage is not None:
            event["storage"] = storage.worker_descriptor()
            event["spill"] = {
                "limit": self.settings.payload_limit - _EVENT_OVERHEAD,
                "prefix": f"lithops.jobs/{batch.job_key}/spill",
            }
        ref = None
        if len(batch.message) * 4 // 3 + _EVENT_OVERHEAD > self.settings.payload_limit:
            if storage is None:
                raise BackendUnavailableError(
                    f"a batch of job {batch.job_key} is {len(batch.message)} bytes, more than "
                    f"gcp_functions' payload_limit ({self.settings.payload_limit}), and no "
                    f"storage is configured to carry it: set lithops.storage to gcp_storage"
                )
            key = f"lithops.jobs/{batch.job_key}/batches/{uuid.uuid4().hex}.batch"
            storage.put_object(storage.bucket, key, batch.message)
            ref = {"bucket": storage.bucket, "key": key}
            event["message_ref"] = ref
        else:
            event["message"] = base64.b64encode(batch.message).decode("ascii")
        return event, ref

    def _what(self, batch: CallBatch) -> tuple[str, str, str]:
        job_key, call_id = batch.calls[0] if batch.calls else ("", "")
        what = f"call {job_key}/{call_id}" if len(batch.calls) == 1 else f"a batch of {job_key}"
        return what, job_key, call_id

    def _timed_out(self, batch: CallBatch, per_call: float | None = None) -> BaseException:
        what, job_key, call_id = self._what(batch)
        if per_call:
            return CallTimeoutError(
                f"{what} ran past its timeout of {per_call:g} s; its answer was not waited for "
                f"(the function cannot stop it and may run on). Raise the map's timeout (or "
                f"execution_timeout) if it needs longer",
                job_key,
                call_id,
            )
        return CallTimeoutError(
            f"{what} ran past the Cloud Function's timeout ({self.runtime.timeout} s) and was "
            f"stopped; raise runtime_timeout in the gcp_functions section (at most 3600) or "
            f"split the work",
            job_key,
            call_id,
        )

    def _function_error(self, response: requests.Response, batch: CallBatch) -> BaseException:
        what, job_key, call_id = self._what(batch)
        if response.status_code in (408, 504):
            return self._timed_out(batch)
        try:
            error = response.json()
        except ValueError:
            error = None
        if not isinstance(error, dict):
            error = {"errorMessage": response.text[:1000]}
        message = str(error.get("errorMessage") or "")
        kind = str(error.get("errorType") or "")
        name, memory = self.runtime.function_id, self.runtime.memory
        if kind == "WireVersionError":
            return WireVersionError(message)
        if response.status_code in (401, 403):
            return BackendUnavailableError(
                f"Cloud Functions refused to run {name} (HTTP {response.status_code}: "
                f"{message[:300]}); the credentials need the Cloud Run Invoker role on it"
            )
        if kind:
            return WorkerLostError(
                f"the Cloud Function {name} failed running {what}: {kind}: {message}",
                job_key,
                call_id,
            )
        return WorkerLostError(
            f"the Cloud Function {name} ({memory} MB) running {what} crashed (HTTP "
            f"{response.status_code}: {message[:300]}); the most likely cause is its memory "
            f"limit: raise runtime_memory in the gcp_functions section",
            job_key,
            call_id,
        )

    # -- cost -----------------------------------------------------------------------------

    def calc_cost(self, runtimes_s: list[float], memory_mb: list[int | None]) -> float:
        """Cloud Functions (2nd gen) compute price of the calls: GB-seconds and GHz-seconds
        of their tier, billed in 100 ms steps (Tier 1 list prices, no free tier)."""
        total = 0.0
        for seconds, memory in zip(runtimes_s, memory_mb, strict=False):
            mb = memory or self.runtime.memory
            billed = max(0.1, -(-seconds // 0.1) * 0.1)
            cpu_ghz = _GHZ_OF_TIER.get(mb, 2.4)
            total += billed * (mb / 1024 * _PRICE_GB_S + cpu_ghz * _PRICE_GHZ_S)
        return total + len(runtimes_s) * _PRICE_INVOCATION


_PRICE_GB_S = 0.0000025
_PRICE_GHZ_S = 0.0000100
_PRICE_INVOCATION = 0.0000004
_GHZ_OF_TIER = {128: 0.2, 256: 0.4, 512: 0.8, 1024: 1.4, 2048: 2.4, 4096: 4.8, 8192: 4.8}


def _split(batch: CallBatch) -> list[CallBatch]:
    """One single-call batch per call of ``batch`` (the client pickled these arguments)."""
    message = wire.decode(batch.message)
    arguments = pickle.loads(message["args"])
    out = []
    for key, call_id, args in zip(batch.calls, message["calls"], arguments, strict=True):
        single = {**message, "calls": [call_id], "args": cloudpickle.dumps([args])}
        out.append(
            CallBatch(
                job_key=batch.job_key,
                calls=[key],
                message=wire.encode(single),
                timeout=batch.timeout,
                func_key=batch.func_key,
                extra=dict(batch.extra),
            )
        )
    return out
