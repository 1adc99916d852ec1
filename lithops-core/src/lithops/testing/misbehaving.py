"""Backends that break the event-sink contract on purpose, for :mod:`lithops.testing.liveness`.

Register this module as a plugin (``host.register_module(misbehaving, ...)``) and select one of
its backends; each accepts batches and then misbehaves in one way:

* ``lithops-drop`` -- takes every batch and never says anything about it (no ``running``
  capability: the core can only wait for results, so it allows ``timeout`` plus a grace);
* ``lithops-mute`` -- declares the ``running`` capability with a 1 s ``ack_timeout`` and then
  never reports a call running nor finished;
* ``lithops-stuck`` -- reports every call running, then never finishes it;
* ``lithops-twice`` -- runs the calls, and reports each start and each result twice;
* ``lithops-none`` -- its ``lithops_invoke`` answers ``None`` for its own handles;

and one that behaves, to show the deadlines do not end calls that merely queue:

* ``lithops-serial`` -- runs one batch at a time, reports each call running, and declares a
  1 s ``ack_timeout``.

Kept free of pytest so the module imports anywhere.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lithops import wire
from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    CallBatch,
    CallKey,
    EventSink,
    ProvisionRequest,
    RegisterBackend,
)
from lithops.worker import FunctionCache, OutputCapture, run_batch

__all__ = [
    "BACKENDS",
    "MisbehavingHandle",
    "lithops_cancel",
    "lithops_invoke",
    "lithops_provision",
    "lithops_register_backends",
    "lithops_release",
]

#: backend name -> how it misbehaves
BACKENDS = {
    "lithops-drop": "accepts batches and never answers",
    "lithops-mute": "declares that it reports running calls, then never acknowledges one",
    "lithops-stuck": "reports calls running and never finishes them",
    "lithops-twice": "reports every start and every result twice",
    "lithops-none": "its invoke hook answers None",
    "lithops-serial": "runs one batch at a time and reports its calls running (behaves)",
}


class MisbehavingHandle:
    """A handle of one of :data:`BACKENDS`; ``batches`` and ``cancelled`` record the traffic."""

    def __init__(self, backend: str, events: EventSink) -> None:
        self.backend = backend
        self.capacity = 1 if backend == "lithops-serial" else 4
        self.serial = threading.Lock()
        self.events = events
        self.batches: list[CallBatch] = []
        self.cancelled: list[CallKey] = []
        self.functions = FunctionCache()

    def invoke(self, batch: CallBatch) -> None:
        self.batches.append(batch)
        if self.backend == "lithops-stuck":
            for key in batch.calls:
                self.events.running(key, time.time(), "stuck")
        elif self.backend in ("lithops-twice", "lithops-serial"):
            threading.Thread(target=self._run, args=(batch,), daemon=True).start()

    def _run(self, batch: CallBatch) -> None:
        times = 2 if self.backend == "lithops-twice" else 1

        def started(key: Any, since: float) -> None:
            for _ in range(times):
                self.events.running(tuple(key), since, self.backend)

        def emit(record: dict[str, Any]) -> None:
            for _ in range(times):
                self.events.results([record])

        with self.serial if self.backend == "lithops-serial" else _NO_LOCK:
            message = wire.decode(batch.message)
            run_batch(message, emit, self.functions, OutputCapture(None), started)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: Any) -> None:
        return None


_NO_LOCK = _NoLock()


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    for name, description in BACKENDS.items():
        reports = name in ("lithops-mute", "lithops-stuck", "lithops-twice", "lithops-serial")
        register(
            BackendInfo(
                name=name,
                kind=BackendKind.COMPUTE,
                mode="serverless",
                capabilities=frozenset({"running"}) if reports else frozenset(),
                ack_timeout=1.0 if name in ("lithops-mute", "lithops-serial") else 60.0,
                description=description,
            )
        )


@hookimpl
def lithops_provision(request: ProvisionRequest) -> MisbehavingHandle | None:
    if request.backend not in BACKENDS:
        return None
    return MisbehavingHandle(request.backend, request.events)


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not isinstance(handle, MisbehavingHandle) or handle.backend == "lithops-none":
        return None
    handle.invoke(batch)
    return True


@hookimpl
def lithops_cancel(handle: Any, keys: list[CallKey]) -> bool | None:
    if not isinstance(handle, MisbehavingHandle):
        return None
    handle.cancelled.extend(keys)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    return True if isinstance(handle, MisbehavingHandle) else None
