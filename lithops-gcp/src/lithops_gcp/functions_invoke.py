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
import threading
from collections.abc import Callable
from typing import Any

import requests

from lithops.errors import (
    BackendUnavailableError,
    CallTimeoutError,
    ConfigError,
    WireVersionError,
    WorkerLostError,
)
from lithops.plugins.types import CallBatch, EventSink, JobUsage
from lithops.serverless import ServerlessHandle
from lithops_gcp.functions_config import GcfSettings
from lithops_gcp.functions_deploy import GcfRuntime
from lithops_gcp.http_invoke import RETRY_ADVICE, FunctionCaller
from lithops_gcp.keys import MEMORY_TIERS_MB

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
        deploy_for: Callable[[int], tuple[GcfRuntime, FunctionCaller]] | None = None,
    ) -> None:
        """:param deploy_for: ``(memory MB) -> (runtime, caller)``: deploys (or finds) and
        checks the function of another memory, for ``map(runtime_memory=)``."""
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
        #: memory in MB -> the function deployed with it and its caller (the section's, and
        #: map()'s)
        self.runtimes: dict[int, tuple[GcfRuntime, FunctionCaller]] = {
            runtime.memory: (runtime, caller)
        }
        self._deploy_for = deploy_for
        self._deploy_lock = threading.Lock()

    def runtime_for(self, batch: CallBatch) -> tuple[GcfRuntime, FunctionCaller]:
        """The function (and its caller) for the batch's ``runtime_memory``: the section's,
        or one deployed (once, checked like it) with that memory."""
        memory = batch.runtime_memory or self.runtime.memory
        with self._deploy_lock:
            known = self.runtimes.get(memory)
            if known is not None:
                return known
            if memory not in MEMORY_TIERS_MB:
                raise ConfigError(
                    f"runtime_memory={memory} is not a Cloud Functions memory size: use one of "
                    f"{', '.join(map(str, MEMORY_TIERS_MB))} (MB)"
                )
            if self._deploy_for is None:
                raise BackendUnavailableError(
                    f"this gcp_functions handle cannot deploy a function of {memory} MB; "
                    f"set runtime_memory: {memory} in the gcp_functions section instead"
                )
            found = self.runtimes[memory] = self._deploy_for(memory)
            return found

    def invoke_once(self, body: str, batch: CallBatch) -> dict[str, Any] | BaseException:
        runtime, caller = self.runtime_for(batch)
        # The platform cannot stop one call: past the calls' own timeout the answer is not
        # waited for (the batch is then run call by call, so only the slow call fails).
        per_call = float(batch.timeout) if batch.timeout else None
        wait = None
        if per_call and per_call * len(batch.calls) < self.settings.timeout:
            wait = per_call * len(batch.calls) + CALL_TIMEOUT_MARGIN_S
        try:
            response = caller.post_once(body, wait)
        except requests.Timeout:
            return self._timed_out(batch, runtime, per_call if wait else None)
        if response.status_code != 200:
            return self._function_error(response, batch, runtime)
        answer = response.json()
        measured = answer.get("duration_ms") if isinstance(answer, dict) else None
        # Billed in 100 ms steps, at least one.
        billed = max(100, math.ceil(float(measured or 0) / 100) * 100)
        self.record_usage(batch.job_key, billed, runtime.memory)
        return dict(answer)

    def dismantle(self) -> None:
        from lithops_gcp.functions_deploy import forget

        for runtime, _ in list(self.runtimes.values()):
            self.client.delete_function(name=runtime.name).result(timeout=300)
            forget(runtime.name)

    def cost(self, usage: JobUsage) -> float | None:
        """What the job's requests cost, in US dollars: GB-seconds and GHz-seconds of the
        function's tier for the billed time (each request at the memory of the function that
        served it), plus the requests."""
        requests_made, compute = 0, 0.0
        for memory, (count, billed_ms) in self.job_usage_by_memory(usage.job_key).items():
            memory = memory or self.runtime.memory
            requests_made += count
            compute += (billed_ms / 1000) * (
                memory / 1024 * self.settings.price_per_gb_s
                + GHZ_OF_TIER.get(memory, 2.4) * self.settings.price_per_ghz_s
            )
        return compute + requests_made * self.settings.price_per_request

    def _timed_out(
        self, batch: CallBatch, runtime: GcfRuntime, per_call: float | None = None
    ) -> BaseException:
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
            f"{what} ran past the Cloud Function's timeout ({runtime.timeout} s) and was "
            f"stopped; raise runtime_timeout in the gcp_functions section (at most 3600) or "
            f"split the work",
            job_key,
            call_id,
        )

    def _function_error(
        self, response: requests.Response, batch: CallBatch, runtime: GcfRuntime
    ) -> BaseException:
        what, job_key, call_id = self.describe(batch)
        if response.status_code in (408, 504):
            return self._timed_out(batch, runtime)
        try:
            error = response.json()
        except ValueError:
            error = None
        if not isinstance(error, dict):
            error = {"errorMessage": response.text[:1000]}
        message = str(error.get("errorMessage") or "")
        kind = str(error.get("errorType") or "")
        name, memory = runtime.function_id, runtime.memory
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
