"""Invoking the function: one batch per synchronous invocation, results pushed from the response.

The pool, retries, large payloads through storage and re-running a failed batch call by call
are the core's (:class:`lithops.serverless.ServerlessHandle`); this module is Lambda's one
invocation. Throttling (429, ``TooManyRequestsException``) and transient failures (5xx,
connection errors) are retried; the event carries the storage's worker descriptor and the
client's aws_lambda settings for nested executors, never credentials: the function uses its
execution role.

Cost: every invocation asks for the log tail (``LogType=Tail``) and takes the billed duration
from Lambda's ``REPORT`` line (``Billed Duration: N ms``); where the platform reports none (moto
does not), the handler's own measured duration, rounded up to the millisecond as Lambda
bills, counts instead. :meth:`LambdaHandle.cost` prices a job from its invocations: billed
GB-seconds (duration * memory) * ``price_per_gb_s`` plus requests * ``price_per_request``.

A failed invocation becomes ``CallTimeoutError`` ("Task timed out") or ``WorkerLostError``
(exits and kills, with the function's memory named, since a kill is most often the memory
limit).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, EventSink, JobUsage
from lithops.serverless import Retry, ServerlessHandle
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.lambda_deploy import LambdaRuntime

__all__ = ["LambdaHandle"]

logger = logging.getLogger(__name__)

NAME = "aws_lambda"
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


class LambdaHandle(ServerlessHandle):
    """One executor's handle on a deployed function."""

    backend = NAME
    storage_backend = "aws_s3"
    retry_advice = "raise the account's concurrency limit or lower max_workers"

    def __init__(
        self,
        client: Any,
        runtime: LambdaRuntime,
        settings: LambdaSettings,
        events: EventSink,
        storage: Callable[[], Any],
    ) -> None:
        super().__init__(
            events,
            storage,
            max_workers=settings.max_workers,
            pool_threads=settings.pool_threads,
            payload_limit=settings.payload_limit,
            label=f"Lambda function {runtime.name}",
        )
        self.client = client
        self.runtime = runtime
        self.settings = settings
        self.event_fields = {"config": settings.nested_config(client.meta.region_name)}
        #: where billed durations came from: "report" (Lambda's log tail) or "handler"
        self.billed_from: set[str] = set()

    def invoke_once(self, body: str, batch: CallBatch) -> dict[str, Any] | BaseException:
        try:
            response = dict(
                self.client.invoke(
                    FunctionName=self.runtime.name,
                    InvocationType="RequestResponse",
                    LogType="Tail",
                    Payload=body,
                )
            )
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in _THROTTLED or code in _TRANSIENT or status == 429 or status >= 500:
                raise Retry(code or str(status)) from exc
            raise BackendUnavailableError(
                f"Lambda refused to invoke {self.runtime.name}: {code}: {error.get('Message')}"
            ) from exc
        except _CONNECTION_ERRORS as exc:
            raise Retry(type(exc).__name__) from exc
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            self._bill(batch.job_key, response, None)
            return self._function_error(payload, batch)
        answer = json.loads(payload)
        self._bill(batch.job_key, response, answer)
        return dict(answer)

    def dismantle(self) -> None:
        from lithops_aws.lambda_deploy import forget

        self.client.delete_function(FunctionName=self.runtime.name)
        forget(self.client, self.runtime.name)

    def cost(self, usage: JobUsage) -> float | None:
        """What the job's invocations cost, in US dollars: billed GB-seconds and requests."""
        invocations, billed_ms = self.job_usage(usage.job_key)
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
        self.record_usage(job_key, billed)
        self.billed_from.add(source)

    def _function_error(self, body: bytes, batch: CallBatch) -> BaseException:
        try:
            error = json.loads(body)
        except ValueError:
            error = {"errorMessage": body[:1000].decode("utf-8", "replace")}
        if not isinstance(error, dict):
            error = {"errorMessage": str(error)}
        message = str(error.get("errorMessage") or "")
        kind = str(error.get("errorType") or "")
        what, job_key, call_id = self.describe(batch)
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
