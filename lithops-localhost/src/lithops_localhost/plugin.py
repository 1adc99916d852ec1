"""The ``localhost`` backend's plugin: registers exactly as a third-party backend would.

Pools are process-wide and keyed by environment (python or image) and size, so a second
executor in the same process finds its workers already warm. Each executor gets its own
handle, a view of the shared pool whose events are routed back to that executor by job key.
"""

from __future__ import annotations

import lithops_localhost.early  # noqa: F401  (first: it starts the worker template)

# isort: split
import atexit
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from lithops.config.keys import check_positive, worker_processes_spec
from lithops.errors import BackendUnavailableError
from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    CallBatch,
    CallKey,
    EventSink,
    KeySpec,
    ProvisionRequest,
    RegisterBackend,
)
from lithops.worker.serve import in_worker
from lithops_localhost.engine import WorkerPool

__all__ = [
    "LocalhostHandle",
    "lithops_cancel",
    "lithops_invoke",
    "lithops_provision",
    "lithops_register_backends",
    "lithops_release",
]

NAME = "localhost"


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=NAME,
            kind=BackendKind.COMPUTE,
            mode="localhost",
            capabilities=frozenset(
                {"cancel", "timeout", "worker_lost", "logs", "docker", "running", "function_once"}
            ),
            config_keys={
                "runtime": KeySpec(
                    (str, type(None)),
                    "python interpreter (default: this one) or a Docker image name",
                ),
                "worker_processes": worker_processes_spec(
                    "parallel worker processes (a number, or AUTO: the CPU count; unset: the "
                    "CPU count, or 2 for an executor opened inside a call)"
                ),
                "runtime_memory": KeySpec(
                    (int,),
                    "accepted for compatibility; not enforced on localhost",
                    check=check_positive,
                ),
                "pull_runtime": KeySpec(
                    (bool,), "pull the runtime image before use (default: use the local one)"
                ),
            },
            description="a warm pool of worker processes on this machine",
        )
    )


class _Router:
    """Sends each event of a shared pool to the executor that submitted the call."""

    def __init__(self) -> None:
        self.sinks: dict[str, EventSink] = {}

    def _sink(self, key: CallKey) -> EventSink | None:
        return self.sinks.get(key[0])

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        by_sink: dict[int, tuple[EventSink, list[dict[str, Any]]]] = {}
        for record in records:
            sink = self._sink(tuple(record["key"]))
            if sink is not None:
                by_sink.setdefault(id(sink), (sink, []))[1].append(record)
        for sink, mine in by_sink.values():
            sink.results(mine)

    def _each(self, keys: Sequence[CallKey]) -> dict[int, tuple[EventSink, list[CallKey]]]:
        by_sink: dict[int, tuple[EventSink, list[CallKey]]] = {}
        for key in keys:
            sink = self._sink(key)
            if sink is not None:
                by_sink.setdefault(id(sink), (sink, []))[1].append(key)
        return by_sink

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        for sink, mine in self._each(keys).values():
            sink.lost(mine, error)

    def requeue(self, keys: Sequence[CallKey]) -> None:
        for sink, mine in self._each(keys).values():
            sink.requeue(mine)

    def running(self, key: CallKey, since: float, where: str) -> None:
        sink = self._sink(key)
        if sink is not None:
            sink.running(key, since, where)

    def log(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        sink = self._sink(key)
        if sink is not None:
            sink.log(key, lines)


class _SharedPool:
    def __init__(self, pool: WorkerPool, router: _Router) -> None:
        self.pool = pool
        self.router = router


_pools: dict[tuple[str, int], _SharedPool] = {}
_pools_lock = threading.Lock()


class LocalhostHandle:
    """One executor's view of a shared warm pool."""

    backend = NAME

    def __init__(self, shared: _SharedPool, events: EventSink) -> None:
        self._shared = shared
        self._events = events
        self._jobs: set[str] = set()
        self.capacity = shared.pool.capacity

    @property
    def pool(self) -> WorkerPool:
        return self._shared.pool

    def invoke(self, batch: CallBatch) -> None:
        if batch.job_key not in self._jobs:
            self._jobs.add(batch.job_key)
            self._shared.router.sinks[batch.job_key] = self._events
        self._shared.pool.submit(batch)

    def release(self) -> None:
        for job_key in self._jobs:
            self._shared.router.sinks.pop(job_key, None)
        self._jobs.clear()


def _launcher(runtime: str | None, pull: bool) -> Any:
    from lithops_localhost.launcher import SubprocessLauncher, default_launcher

    if not runtime or runtime in ("python", "python3", sys.executable):
        return default_launcher()
    from lithops_localhost.docker_env import DockerLauncher, is_docker_image

    if is_docker_image(runtime):
        return DockerLauncher(runtime, pull=pull)
    return SubprocessLauncher(python=runtime)


#: Default pool size of an executor opened inside a call (a worker's own small pool).
NESTED_WORKERS = 2


def _size(section: dict[str, Any]) -> int:
    value = section.get("worker_processes")
    cpus = os.cpu_count() or 1
    if value is None:
        # Inside a call, every outer worker may open its own pool: keep each one small.
        return min(cpus, NESTED_WORKERS) if in_worker() else cpus
    if str(value).upper() == "AUTO":
        return cpus
    return int(value)


@hookimpl
def lithops_provision(request: ProvisionRequest) -> LocalhostHandle | None:
    if request.backend != NAME:
        return None
    section = request.config.get(NAME) or {}
    runtime = request.runtime or section.get("runtime") or ""
    size = _size(section)
    key = (runtime, size)
    with _pools_lock:
        shared = _pools.get(key)
        if shared is None or shared.pool.closed:
            router = _Router()
            launcher = _launcher(runtime, bool(section.get("pull_runtime")))
            pool = WorkerPool(
                size, router, launcher=launcher, where=f"localhost ({runtime or 'python3'})"
            )
            shared = _pools[key] = _SharedPool(pool, router)
            prepare = getattr(launcher, "prepare", None)
            if callable(prepare):
                # The worker template starts now, while the client builds its first job.
                try:
                    prepare()
                except BackendUnavailableError:
                    pass  # the first batch starts it again and fails its calls with the reason
    return LocalhostHandle(shared, request.events)


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not isinstance(handle, LocalhostHandle):
        return None
    handle.invoke(batch)
    return True


@hookimpl
def lithops_cancel(handle: Any, keys: list[CallKey]) -> bool | None:
    if not isinstance(handle, LocalhostHandle):
        return None
    handle.pool.cancel(keys)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    if not isinstance(handle, LocalhostHandle):
        return None
    handle.release()
    if dismantle:
        handle.pool.close()
    return True


def _forget_pools_in_child() -> None:
    # A process forked from the client (os.fork, multiprocessing's fork context) has copies of
    # the pools without their threads: an executor there gets pools of its own.
    global _pools, _pools_lock
    _pools, _pools_lock = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


@atexit.register
def _close_pools() -> None:
    with _pools_lock:
        for shared in _pools.values():
            shared.pool.close(wait=False)
        _pools.clear()
