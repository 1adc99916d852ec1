"""Invoking the function: one batch per synchronous HTTPS request, results pushed from the response.

The pool, retries (429 and 503, :mod:`lithops_gcp.http_invoke`), large payloads through
storage and re-running a failed batch call by call are the core's
(:class:`lithops.serverless.ServerlessHandle`); this module is one request to the function.
The event carries the storage's worker descriptor, never credentials: the function uses its
service account.

A failed request becomes ``CallTimeoutError`` (the function's timeout, or the calls' own) or
``WorkerLostError`` (a crash, most often the memory limit), the same classes as on Lambda.

Cost: each request is billed for the time the function spent on it (the handler's measured
duration), rounded up to 100 ms as Cloud Functions (2nd gen) bills, at the price of its memory
(GB-seconds) and of its tier's CPU (GHz-seconds), plus the request itself (Tier 1 list prices,
no free tier; ``price_per_gb_s``, ``price_per_ghz_s`` and ``price_per_request`` in the
gcp_functions section override them).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import requests

from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, EventSink, JobUsage
from lithops.serverless import ServerlessHandle
from lithops_gcp.functions_config import GcfSettings
from lithops_gcp.functions_deploy import GcfRuntime
from lithops_gcp.http_invoke import RETRY_ADVICE, FunctionCaller

__all__ = ["CALL_TIMEOUT_MARGIN_S", "NAME", "GcfHandle"]

logger = logging.getLogger(__name__)

NAME = "gcp_functions"
#: seconds allowed beyond a call's own timeout (an instance may have to start first)
CALL_TIMEOUT_MARGIN_S = 20.0


class GcfHandle(ServerlessHandle):
    """One executor's handle on a deployed function."""

    backend = NAME
    storage_backend = "gcp_storage"
    retry_advice = RETRY_ADVICE

    def __init__(
        self,
        client: Any,
        caller: FunctionCaller,
        runtime: GcfRuntime,
        settings: GcfSettings,
        events: EventSink,
        storage: Callable[[], Any],
    ) -> None:
        super().__init__(
            events,
            storage,
            max_workers=settings.max_workers,
            pool_threads=settings.pool_threads,
            payload_limit=settings.payload_limit,
            label=f"Cloud Function {runtime.function_id}",
        )
        self.client = client
        self.caller = caller
        self.runtime = runtime
        self.settings = settings

    def invoke_once(self, body: str, batch: CallBatch) -> dict[str, Any] | BaseException:
        # The platform cannot stop one call: past the calls' own timeout the answer is not
        # waited for (the batch is then run call by call, so only the slow call fails).
        per_call = float(batch.timeout) if batch.timeout else None
        wait = None
        if per_call and per_call * len(batch.calls) < self.settings.timeout:
            wait = per_call * len(batch.calls) + CALL_TIMEOUT_MARGIN_S
        try:
            response = self.caller.post_once(body, wait)
        except requests.Timeout:
            return self._timed_out(batch, per_call if wait else None)
        if response.status_code != 200:
            return self._function_error(response, batch)
        answer = response.json()
        measured = answer.get("duration_ms") if isinstance(answer, dict) else None
        # Billed in 100 ms steps, at least one.
        self.record_usage(batch.job_key, max(100, math.ceil(float(measured or 0) / 100) * 100))
        return dict(answer)

    def dismantle(self) -> None:
        from lithops_gcp.functions_deploy import forget

        self.client.delete_function(name=self.runtime.name).result(timeout=300)
        forget(self.runtime.name)

    def cost(self, usage: JobUsage) -> float | None:
        """What the job's requests cost, in US dollars: GB-seconds and GHz-seconds of the
        function's tier for the billed time, plus the requests."""
        requests_made, billed_ms = self.job_usage(usage.job_key)
        seconds = billed_ms / 1000
        memory = self.runtime.memory
        compute = seconds * (
            memory / 1024 * self.settings.price_per_gb_s
            + GHZ_OF_TIER.get(memory, 2.4) * self.settings.price_per_ghz_s
        )
        return compute + requests_made * self.settings.price_per_request

    def _timed_out(self, batch: CallBatch, per_call: float | None = None) -> BaseException:
        what, job_key, call_id = self.describe(batch)
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
        what, job_key, call_id = self.describe(batch)
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


#: Cloud Functions (2nd gen) CPU of each memory tier, in GHz (for the GHz-second price).
GHZ_OF_TIER = {128: 0.2, 256: 0.4, 512: 0.8, 1024: 1.4, 2048: 2.4, 4096: 4.8, 8192: 4.8}
