"""``concurrent.futures`` executors that run on lithops: hand them to any library that takes one.

::

    from lithops.concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(pow, 2, n) for n in range(10)]
        print(sorted(f.result() for f in as_completed(futures)))
        print(list(pool.map(abs, [-1, -2, -3])))

Every executor here is a :class:`concurrent.futures.Executor`: ``submit(fn, *args, **kwargs)``,
an eager ``map(fn, *iterables, timeout=, chunksize=, buffersize=)`` yielding results in input
order, and ``shutdown(wait=, cancel_futures=)``. Their futures are lithops'
:class:`~lithops.future.ResponseFuture`, a ``concurrent.futures.Future`` subclass, so the
standard ``wait``/``as_completed`` (re-exported here) work on them, mixed with any others.

Calls follow ``concurrent.futures`` semantics, not lithops' map conventions: a tuple input is
one argument of ``submit``, and no ``id``/``storage``/``obj`` argument is injected.
"""

from __future__ import annotations

import collections
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    BrokenExecutor,
    CancelledError,
    Executor,
    InvalidStateError,
    TimeoutError,
    as_completed,
    wait,
)
from typing import Any

from lithops.executor import FunctionExecutor as _LithopsExecutor
from lithops.future import ResponseFuture
from lithops.job import is_user_module

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "BrokenExecutor",
    "CancelledError",
    "Executor",
    "FunctionExecutor",
    "Future",
    "InvalidStateError",
    "LocalhostExecutor",
    "ProcessPoolExecutor",
    "ServerlessExecutor",
    "StandaloneExecutor",
    "ThreadPoolExecutor",
    "TimeoutError",
    "as_completed",
    "wait",
]

logger = logging.getLogger(__name__)

#: The futures these executors return (lithops' own, a ``concurrent.futures.Future``).
Future = ResponseFuture

#: Arguments of the standard library's pools that mean nothing here.
_STDLIB_ONLY = ("mp_context", "max_tasks_per_child", "thread_name_prefix")


class _Apply:
    """The job function behind ``submit``/``map``: ``fn(*args, **kwargs)`` on the worker.

    Lithops' own ``map`` spreads a tuple over the parameters and fills ``id``/``storage``/
    ``obj``; wrapping keeps the standard library's meaning of the arguments instead.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.fn(*args, **kwargs)


def _shipped_modules(fn: Callable[..., Any], include: list[str] | None) -> list[str] | None:
    """The modules to pickle by value: the wrapper hides ``fn``'s own module from the job
    builder, which ships the user's module when it is the job function's home."""
    home = inspect.getmodule(fn)
    if not is_user_module(home):
        return include
    assert home is not None
    return [*(include or []), home.__name__]


class FunctionExecutor(Executor):
    """A ``concurrent.futures.Executor`` running calls on a lithops backend.

    :param max_workers: most calls running at once (``worker_processes`` on localhost, the
        backend's ``max_workers`` elsewhere); default: the configuration's.
    :param executor: a :class:`lithops.FunctionExecutor` to run on (it is not closed by
        ``shutdown``); by default one is created from ``kwargs``.
    :param initializer: not supported (raises ``NotImplementedError``).
    :param runtime_memory: memory (MB) of every call.
    :param extra_env: environment variables of every call.
    :param execution_timeout: seconds each call may run before its worker is stopped.
    :param include_modules: modules to ship by value with every call.
    :param exclude_modules: modules never to ship by value.
    :param kwargs: :class:`lithops.FunctionExecutor` arguments (``config``, ``backend``,
        ``runtime``...). ``mp_context``/``max_tasks_per_child``/``thread_name_prefix`` are
        accepted and ignored, so this is a drop-in for the standard pools.
    """

    _mode: str | None = None

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        executor: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        runtime_memory: int | None = None,
        extra_env: dict[str, str] | None = None,
        execution_timeout: float | None = None,
        include_modules: list[str] | None = None,
        exclude_modules: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if initializer is not None:
            raise NotImplementedError(
                "initializer is not supported: run the setup at the start of the function "
                "(a warm worker keeps module-level state between calls)"
            )
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be greater than 0")
        for name in _STDLIB_ONLY:
            kwargs.pop(name, None)
        # A RetryingFunctionExecutor's retries are the scheduler's own: run on what it wraps.
        executor = getattr(executor, "executor", executor)
        self._owns_executor = executor is None
        if executor is None:
            if self._mode is not None:
                kwargs.setdefault("mode", self._mode)
            executor = _LithopsExecutor(**kwargs)
            if max_workers is not None:
                # Provisioning is lazy: the backend reads its section at the first call.
                key = "worker_processes" if executor.mode == "localhost" else "max_workers"
                executor.config.setdefault(executor.backend, {})[key] = max_workers
        elif max_workers is not None:
            logger.debug("max_workers is ignored when wrapping an existing executor")
        self._inner: _LithopsExecutor = executor
        self._job_options: dict[str, Any] = {
            k: v
            for k, v in {
                "runtime_memory": runtime_memory,
                "extra_env": extra_env,
                "timeout": execution_timeout,
                "exclude_modules": exclude_modules,
            }.items()
            if v is not None
        }
        self._include_modules = include_modules
        self._lock = threading.Lock()
        self._shutdown = False
        self._outstanding: set[ResponseFuture] = set()

    @property
    def lithops_executor(self) -> _LithopsExecutor:
        """The :class:`lithops.FunctionExecutor` the calls run on."""
        return self._inner

    # -- submitting ----------------------------------------------------------------------------

    def _options(self, fn: Callable[..., Any]) -> dict[str, Any]:
        modules = _shipped_modules(fn, self._include_modules)
        return {**self._job_options, "include_modules": modules} if modules else self._job_options

    def _check_open(self) -> None:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")

    def _track(self, futures: Iterable[ResponseFuture]) -> None:
        futures = list(futures)
        with self._lock:
            self._outstanding.update(futures)
        for f in futures:  # outside the lock: a finished future runs the callback at once
            f.add_done_callback(self._forget)

    def _forget(self, future: Any) -> None:
        with self._lock:
            self._outstanding.discard(future)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ResponseFuture:
        """Run ``fn(*args, **kwargs)`` on a worker; returns its future."""
        with self._lock:
            self._check_open()
        future = self._inner.call_async(_Apply(fn), (args, kwargs), **self._options(fn))
        self._track([future])
        return future

    def _submit_many(
        self, fn: Callable[..., Any], items: list[tuple[Any, ...]], chunksize: int | None
    ) -> list[ResponseFuture]:
        if not items:
            return []
        with self._lock:
            self._check_open()
        futures = self._inner.map(
            _Apply(fn), [(args, {}) for args in items], chunksize=chunksize, **self._options(fn)
        )
        self._track(futures)
        return list(futures)

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        buffersize: int | None = None,
    ) -> Iterator[Any]:
        """Eager, as in the standard library: every call is submitted (as one lithops job)
        before this returns; the iterator yields results in input order.

        :param timeout: seconds, from this call, for the whole iteration; past it ``next``
            raises ``TimeoutError`` and the calls not yet read are cancelled.
        :param chunksize: at most this many calls travel to a worker in one message
            (default: the scheduler sizes batches itself).
        :param buffersize: submit only this many calls ahead of the consumer (lazy input).
        """
        if chunksize is not None and chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if buffersize is not None and buffersize < 1:
            raise ValueError("buffersize must be >= 1.")
        deadline = None if timeout is None else time.monotonic() + timeout
        items = zip(*iterables, strict=False)

        def take(n: int | None) -> list[tuple[Any, ...]]:
            if n is None:
                return list(items)
            return [item for _, item in zip(range(n), items, strict=False)]

        queue = collections.deque(self._submit_many(fn, take(buffersize), chunksize))

        def results() -> Iterator[Any]:
            try:
                while queue:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    future = queue.popleft()
                    if not future.done:
                        queue.appendleft(future)  # cancelled below if the wait times out
                        future.result(timeout=remaining, throw_except=False)
                        queue.popleft()
                    value = future.result()
                    if buffersize:
                        queue.extend(
                            self._submit_many(fn, take(buffersize - len(queue)), chunksize)
                        )
                    yield value
            finally:
                for future in queue:
                    future.cancel()

        return results()

    # -- shutting down -------------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new calls; with ``cancel_futures`` the outstanding ones are cancelled (running
        ones stopped on their workers); with ``wait``, return once every call is done."""
        with self._lock:
            self._shutdown = True
            outstanding = list(self._outstanding)
        if cancel_futures:
            for future in outstanding:
                future.cancel()
        if wait:
            _wait_all(outstanding)
            self._release()
        elif any(not f.done for f in outstanding):
            # Closing the lithops executor would cancel what still runs: close it once done.
            threading.Thread(
                target=self._release_when_done,
                args=(outstanding,),
                daemon=True,
                name="lithops-cf-shutdown",
            ).start()
        else:
            self._release()

    def _release_when_done(self, outstanding: list[ResponseFuture]) -> None:
        _wait_all(outstanding)
        self._release()

    def _release(self) -> None:
        if self._owns_executor:
            self._inner.close()


def _wait_all(futures: list[ResponseFuture]) -> None:
    if futures:
        wait(futures)


class LocalhostExecutor(FunctionExecutor):
    """A ``concurrent.futures.Executor`` on the localhost backend (warm worker processes)."""

    _mode = "localhost"


class ServerlessExecutor(FunctionExecutor):
    """A ``concurrent.futures.Executor`` on the configured serverless backend."""

    _mode = "serverless"


class StandaloneExecutor(FunctionExecutor):
    """A ``concurrent.futures.Executor`` on the configured standalone backend (VMs)."""

    _mode = "standalone"


class ProcessPoolExecutor(FunctionExecutor):
    """Drop-in for ``concurrent.futures.ProcessPoolExecutor``: calls run on the configured
    lithops backend (localhost worker processes by default)."""


class ThreadPoolExecutor(FunctionExecutor):
    """Drop-in for ``concurrent.futures.ThreadPoolExecutor``: calls still run in lithops
    workers (other processes), so they must not rely on shared memory with the caller."""
