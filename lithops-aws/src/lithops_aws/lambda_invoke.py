"""Invoking the function: one batch per synchronous invocation, results pushed from the response.

At most ``max_workers`` invocations are in flight: a bounded pool of that many threads (or
``invoke_pool_threads``, when smaller) takes batches in order. Throttling (429,
``TooManyRequestsException``) and transient failures (5xx, connection errors) are retried with
backoff and jitter until ``RETRY_WINDOW_S`` has passed: a call is never dropped. An event
larger than ``payload_limit`` travels through storage; so does a response (the function
spills it, see :mod:`lithops.worker.serverless`). The event carries the storage's worker
descriptor, never credentials: the function uses its execution role.

Cost: every invocation asks for the log tail (``LogType=Tail``) and takes the billed duration
from Lambda's ``REPORT`` line (``Billed Duration: N ms``); where the platform reports none (moto
does not), the handler's own measured duration, rounded up to the millisecond as Lambda
bills, counts instead. :meth:`LambdaHandle.cost` prices a job from its invocations: billed
GB-seconds (duration * memory) * ``price_per_gb_s`` plus requests * ``price_per_request``.

A batch whose invocation fails (the runtime exited, it timed out) is run again call by call,
so that only the call that caused it fails; a single call's failure becomes
``CallTimeoutError`` ("Task timed out") or ``WorkerLostError`` (exits and kills, with the
function's memory named, since a kill is most often the memory limit).
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import json
import logging
import math
import pickle
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import cloudpickle

from lithops import wire
from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    LithopsError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, CallKey, EventSink, JobUsage
from lithops.worker.serverless import FunctionUploads, decode_event_response
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.lambda_deploy import LambdaRuntime

__all__ = ["RETRY_WINDOW_S", "LambdaHandle"]

logger = logging.getLogger(__name__)

NAME = "aws_lambda"
#: How long throttling or transient failures are retried before the calls fail.
RETRY_WINDOW_S = 900.0
_THROTTLED = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
)
_TRANSIENT = frozenset(
    {
        "ServiceException",
        "ServiceUnavailable",
        "InternalFailure",
        "ResourceConflictException",  # the function is being updated
        "ResourceNotReadyException",
        "EC2ThrottledException",
        "ENILimitReachedException",
    }
)
_CONNECTION_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)
_EXIT_STATUS = re.compile(r"exit status (-?\d+)")
_BILLED = re.compile(r"Billed Duration:\s*([0-9.]+)\s*ms")
#: JSON and base64 grow an event by about 4/3; keep a margin for the other keys.
_EVENT_OVERHEAD = 2048


class LambdaHandle:
    """One executor's handle on a deployed function."""

    backend = NAME

    def __init__(
        self,
        client: Any,
        runtime: LambdaRuntime,
        settings: LambdaSettings,
        events: EventSink,
        storage: Callable[[], Any],
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.settings = settings
        self.capacity = settings.max_workers
        self._events = events
        self._storage_factory = storage
        self._storage: Any = None
        self._storage_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(settings.pool_threads, settings.max_workers),
            thread_name_prefix="lithops-lambda",
        )
        self._cancelled: set[CallKey] = set()
        self._nested_config = settings.nested_config(client.meta.region_name)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        #: invocations answered
        self.invocations = 0
        #: job key -> billed invocations and their billed milliseconds (for cost figures)
        self.usage: dict[str, list[int]] = {}
        #: where billed durations came from: "report" (Lambda's log tail) or "handler"
        self.billed_from: set[str] = set()
        self._functions = FunctionUploads(inline_limit=min(64 << 10, settings.payload_limit // 8))

    # -- the hook methods -----------------------------------------------------------------

    def invoke(self, batch: CallBatch) -> None:
        if self._closed.is_set():
            raise BackendUnavailableError("this aws_lambda handle was released")
        self._pool.submit(self._run_batch, batch)

    def cancel(self, keys: list[CallKey]) -> None:
        # A running invocation cannot be stopped; its result is ignored when it comes.
        with self._lock:
            self._cancelled.update(keys)
        self._events.lost(
            keys, concurrent.futures.CancelledError("cancelled; a running Lambda call runs on")
        )

    def release(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def cost(self, usage: JobUsage) -> float | None:
        """What the job's invocations cost, in US dollars: billed GB-seconds and requests."""
        with self._lock:
            invocations, billed_ms = self.usage.get(usage.job_key, (0, 0))
        gb_s = billed_ms / 1000 * self.runtime.memory / 1024
        return gb_s * self.settings.price_per_gb_s + invocations * self.settings.price_per_request

    def _bill(self, job_key: str, response: dict[str, Any], body: Any) -> None:
        billed = None
        tail = response.get("LogResult")
        if tail:
            found = _BILLED.search(base64.b64decode(tail).decode("utf-8", "replace"))
            if found:
                billed, source = math.ceil(float(found.group(1))), "report"
        if billed is None:
            measured = body.get("duration_ms") if isinstance(body, dict) else None
            billed, source = math.ceil(float(measured or 0)), "handler"
        with self._lock:
            self.invocations += 1
            entry = self.usage.setdefault(job_key, [0, 0])
            entry[0] += 1
            entry[1] += max(billed, 1)
            self.billed_from.add(source)

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
            if len(batch.calls) > 1:
                # Only the call that broke the invocation should fail: run them one by one.
                for single in _split(batch):
                    if self._live(single.calls):
                        error = self._run(single)
                        if error is not None:
                            self._events.lost(self._live(single.calls), error)
                return
            self._events.lost(self._live(batch.calls), failure)
        except Exception as exc:
            if not isinstance(exc, LithopsError):
                exc = BackendUnavailableError(
                    f"invoking Lambda function {self.runtime.name} failed: "
                    f"{type(exc).__name__}: {exc}"
                )
            self._events.lost(self._live(batch.calls), exc)

    def _run(self, batch: CallBatch) -> BaseException | None:
        """Invoke once (with retries) and push the records; the function's failure or None."""
        event, ref = self._event(batch)
        try:
            response = self._invoke_with_retries(json.dumps(event), batch)
        finally:
            if ref is not None:
                self._storage_or_none().delete_object(ref["bucket"], ref["key"])
        body = response["Payload"].read()
        if response.get("FunctionError"):
            self._bill(batch.job_key, response, None)
            return self._function_error(body, batch)
        answer = json.loads(body)
        self._bill(batch.job_key, response, answer)
        records = decode_event_response(answer, self._storage_or_none())
        for record in records:
            output = record.get("output")
            if output:
                tstamp = float((record.get("stats") or {}).get("worker_end_tstamp") or time.time())
                self._events.log(record["key"], [(tstamp, line) for line in output.splitlines()])
        self._events.results(records)
        return None

    def _event(self, batch: CallBatch) -> tuple[dict[str, Any], dict[str, str] | None]:
        event: dict[str, Any] = {
            "t": "batch",
            "wire": list(wire.WIRE_VERSION),
            "config": self._nested_config,
        }
        storage = self._storage_or_none()
        if storage is not None:
            event["storage"] = storage.worker_descriptor()
            event["spill"] = {
                "limit": self.settings.payload_limit - _EVENT_OVERHEAD,
                "prefix": f"lithops.jobs/{batch.job_key}/spill",
            }
        function = self._functions.event_field(batch, storage)
        if function is not None:  # the message does not carry it (capability function_once)
            event["function"] = function
        ref = None
        extra = len(json.dumps(function)) if function is not None else 0
        if len(batch.message) * 4 // 3 + _EVENT_OVERHEAD + extra > self.settings.payload_limit:
            if storage is None:
                raise BackendUnavailableError(
                    f"a batch of job {batch.job_key} is {len(batch.message)} bytes, more than "
                    f"aws_lambda's payload_limit ({self.settings.payload_limit}), and no storage "
                    f"is configured to carry it: set lithops.storage to aws_s3"
                )
            key = f"lithops.jobs/{batch.job_key}/batches/{uuid.uuid4().hex}.batch"
            storage.put_object(storage.bucket, key, batch.message)
            ref = {"bucket": storage.bucket, "key": key}
            event["message_ref"] = ref
        else:
            event["message"] = base64.b64encode(batch.message).decode("ascii")
        return event, ref

    def _invoke_with_retries(self, payload: str, batch: CallBatch) -> dict[str, Any]:
        began = time.monotonic()
        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            try:
                return dict(
                    self.client.invoke(
                        FunctionName=self.runtime.name,
                        InvocationType="RequestResponse",
                        LogType="Tail",
                        Payload=payload,
                    )
                )
            except botocore.exceptions.ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
                retry = code in _THROTTLED or code in _TRANSIENT or status == 429 or status >= 500
                if not retry:
                    raise BackendUnavailableError(
                        f"Lambda refused to invoke {self.runtime.name}: {code}: "
                        f"{error.get('Message')}"
                    ) from exc
                reason = f"{code or status}"
            except _CONNECTION_ERRORS as exc:
                reason = type(exc).__name__
            if self._closed.is_set():
                raise concurrent.futures.CancelledError("the executor was closed while retrying")
            waited = time.monotonic() - began
            if waited > RETRY_WINDOW_S:
                raise BackendUnavailableError(
                    f"Lambda kept refusing {self.runtime.name} for {waited:.0f} s ({reason}, "
                    f"{attempt} attempts); raise the account's concurrency limit or lower "
                    f"max_workers"
                )
            logger.debug(
                "invoke of %s: %s, retry %d in %.2fs", batch.job_key, reason, attempt, delay
            )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 10.0)

    def _function_error(self, body: bytes, batch: CallBatch) -> BaseException:
        try:
            error = json.loads(body)
        except ValueError:
            error = {"errorMessage": body[:1000].decode("utf-8", "replace")}
        if not isinstance(error, dict):
            error = {"errorMessage": str(error)}
        message = str(error.get("errorMessage") or "")
        kind = str(error.get("errorType") or "")
        job_key, call_id = batch.calls[0] if batch.calls else ("", "")
        what = f"call {job_key}/{call_id}" if len(batch.calls) == 1 else f"a batch of {job_key}"
        name, memory = self.runtime.name, self.runtime.memory
        if "Task timed out" in message:
            return CallTimeoutError(
                f"{what} ran past the Lambda function's timeout ({self.runtime.timeout} s) and "
                f"was stopped; raise runtime_timeout in the aws_lambda section (at most 900) "
                f"or split the work",
                job_key,
                call_id,
            )
        if kind == "WireVersionError":
            return WireVersionError(message)
        exit_status = _EXIT_STATUS.search(message)
        if exit_status:
            return WorkerLostError(
                f"the Lambda function {name} ({memory} MB) running {what} exited with code "
                f"{exit_status.group(1)} ({message})",
                job_key,
                call_id,
            )
        if kind.startswith("Runtime.") or "signal" in message:
            return WorkerLostError(
                f"the Lambda function {name} running {what} was killed ({kind}: {message}); "
                f"it has {memory} MB of memory, the most likely cause: raise runtime_memory",
                job_key,
                call_id,
            )
        return WorkerLostError(
            f"the Lambda function {name} failed running {what}: {kind}: {message}",
            job_key,
            call_id,
        )


def _split(batch: CallBatch) -> list[CallBatch]:
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
