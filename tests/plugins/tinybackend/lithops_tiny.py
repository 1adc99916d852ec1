"""A third-party-style backend defined only in the tests: calls run in threads of the client.

It is discovered through its own ``lithops`` entry point (``tests/plugins/tinybackend/
lithops_tiny-0.1.dist-info``), exactly as an installed distribution would be.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from lithops import wire
from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind, CallBatch, ProvisionRequest
from lithops.worker import FunctionCache, OutputCapture, run_batch


class TinyHandle:
    backend = "tiny"
    capacity = 4

    def __init__(self, request: ProvisionRequest) -> None:
        self.events = request.events
        #: ``drop``: accept every batch and lose it (the core's deadlines must end the calls)
        self.flavour = (request.config.get("tiny") or {}).get("flavour")
        self.pool = concurrent.futures.ThreadPoolExecutor(self.capacity)
        self.functions = FunctionCache()

    def run(self, batch: CallBatch) -> None:
        records: list[dict[str, Any]] = []
        run_batch(wire.decode(batch.message), records.append, self.functions, OutputCapture(None))
        self.events.results(records)


@hookimpl
def lithops_register_backends(register: Any) -> None:
    register(
        BackendInfo(
            name="tiny",
            kind=BackendKind.COMPUTE,
            mode="serverless",
            config_keys={"flavour": "'drop' loses every batch it accepts"},
        )
    )


@hookimpl
def lithops_provision(request: ProvisionRequest) -> TinyHandle | None:
    return TinyHandle(request) if request.backend == "tiny" else None


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not isinstance(handle, TinyHandle):
        return None
    if handle.flavour != "drop":
        handle.pool.submit(handle.run, batch)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    if not isinstance(handle, TinyHandle):
        return None
    handle.pool.shutdown(wait=False)
    return True
