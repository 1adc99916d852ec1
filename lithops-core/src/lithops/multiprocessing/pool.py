"""``multiprocessing.Pool`` over lithops: the tasks run as lithops calls, ``chunksize`` of
them per call (as :mod:`multiprocessing.pool` hands chunks to its workers; ``map`` and
``starmap`` pick the same default: about four chunks per pool process)."""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import TimeoutError
from typing import Any

from lithops.config import resolve_executor_config
from lithops.executor import FunctionExecutor
from lithops.future import ResponseFuture
from lithops.multiprocessing import config as mp_config
from lithops.multiprocessing.execution_details import export_execution_details
from lithops.multiprocessing.stdout_stream import OutputFeed, StreamTarget, current_feed, streaming

__all__ = ["ApplyResult", "AsyncResult", "MapResult", "Pool", "cpu_count", "new_executor"]

logger = logging.getLogger(__name__)

#: Per pool token, the module namespaces of this (worker) process whose initializer has run.
#: A module shipped by value is rebuilt for every job, so its state (what the initializer
#: set up) is tied to its namespace, not only to the pool: a new namespace runs it again.
_initialized: dict[str, list[Any]] = {}
_KEEP_NAMESPACES = 8
_token_counter = itertools.count()


def new_executor(processes: int | None = None) -> FunctionExecutor:
    """A :class:`lithops.FunctionExecutor` from ``LITHOPS_CONFIG`` (see :mod:`.config`), with
    at most ``processes`` calls running at once when given."""
    config = mp_config.get_parameter(mp_config.LITHOPS_CONFIG) or None
    executor = FunctionExecutor(config=config)
    if processes is not None:
        # Provisioning is lazy: the backend reads its section at the first call.
        key = "worker_processes" if executor.mode == "localhost" else "max_workers"
        executor.config.setdefault(executor.backend, {})[key] = processes
    return executor


def cpu_count() -> int:
    """How many calls the configured backend runs at once (Lithops' meaning): the localhost
    ``worker_processes`` (default: this machine's CPU count), the sum of the SSH hosts'
    ``worker_processes`` when every host names it, or the backend's ``max_workers``."""
    config = mp_config.get_parameter(mp_config.LITHOPS_CONFIG) or None
    resolved = resolve_executor_config(None, config, None, None, None)
    section = resolved.get(resolved["lithops"]["backend"], {})
    hosts = section.get("hosts")
    if isinstance(hosts, list) and hosts:
        slots = [h.get("worker_processes") if isinstance(h, dict) else None for h in hosts]
        if all(isinstance(n, int) and n > 0 for n in slots):
            return sum(slots)  # type: ignore[arg-type]
    for key in ("worker_processes", "max_workers"):
        value = section.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return os.cpu_count() or 1


class Task:
    """The job function of a pool: for each item of its chunk, ``func(item)``, ``func(*item)``
    (``star``) or ``func(*args, **kwargs)`` (``star="apply"``, item ``(args, kwargs)``), after
    the pool's initializer has run once in the worker process; returns the list of results.

    It names ``func``'s module as its own, so the job builder ships the user's module by
    value as it would for ``func`` itself.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        star: bool | str = False,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        token: str = "",
        stream: StreamTarget | None = None,
    ) -> None:
        self.func = func
        self.star = star
        self.initializer = initializer
        self.initargs = tuple(initargs)
        self.token = token
        self.stream = stream
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__module__ = getattr(func, "__module__", None) or __name__

    def _initialize(self, initializer: Callable[..., Any]) -> None:
        function = getattr(initializer, "__func__", initializer)
        namespace = getattr(function, "__globals__", None)
        done = _initialized.setdefault(self.token, [])
        if any(seen is namespace for seen in done):
            return
        initializer(*self.initargs)
        done.append(namespace)
        del done[:-_KEEP_NAMESPACES]

    def __call__(self, chunk: list[Any]) -> list[Any]:
        with streaming(self.stream):
            if self.initializer is not None:
                self._initialize(self.initializer)
            func = self.func
            if self.star == "apply":
                return [func(*args, **kwargs) for args, kwargs in chunk]
            if self.star:
                return [func(*item) for item in chunk]
            return [func(item) for item in chunk]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class AsyncResult:
    """What ``apply_async``/``map_async`` return: ``get(timeout)``, ``wait``, ``ready``,
    ``successful``, as in :mod:`multiprocessing.pool`."""

    def __init__(
        self,
        futures: list[ResponseFuture],
        single: bool,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
        finish: Callable[[list[ResponseFuture]], None] | None = None,
    ) -> None:
        self._futures = futures
        self._single = single
        self._finish = finish
        self._event = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._callback = callback
        self._error_callback = error_callback
        threading.Thread(target=self._collect, daemon=True, name="lithops-mp-result").start()

    def _collect(self) -> None:
        values: list[Any] = []
        try:
            for future in self._futures:
                values.extend(future.result())
        except BaseException as error:  # the call's own exception, re-raised by get()
            self._error = error
        else:
            self._value = values[0] if self._single else values
        if self._finish is not None:
            try:
                self._finish(self._futures)
            except Exception:
                logger.exception("finishing a multiprocessing result failed")
        try:  # as in the stdlib, the callback has run by the time the result is ready
            if self._error is None and self._callback is not None:
                self._callback(self._value)
            elif self._error is not None and self._error_callback is not None:
                self._error_callback(self._error)
        except Exception:
            logger.exception("a multiprocessing result callback raised")
        finally:
            self._event.set()

    def ready(self) -> bool:
        """Whether every call has finished."""
        return self._event.is_set()

    def successful(self) -> bool:
        """Whether every call returned; ``ValueError`` while not ready."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout: float | None = None) -> None:
        """Block until ready, or ``timeout`` seconds."""
        self._event.wait(timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The result (a list for ``map_async``); the call's exception if one raised;
        :class:`multiprocessing.TimeoutError` if not ready within ``timeout`` seconds."""
        if not self._event.wait(timeout):
            raise TimeoutError(f"the result was not ready within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> None:
        for future in self._futures:
            future.cancel()


ApplyResult = AsyncResult
MapResult = AsyncResult


class Pool:
    """Drop-in for :class:`multiprocessing.pool.Pool`; tasks run as lithops calls.

    :param processes: most tasks running at once (``worker_processes`` on localhost, the
        backend's ``max_workers`` elsewhere); default: the configuration's.
    :param initializer: run as ``initializer(*initargs)`` once in every worker process that
        runs a task of this pool, before its first task.
    :param maxtasksperchild: accepted for compatibility; workers are the backend's.
    :param context: accepted for compatibility and ignored.
    """

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        context: Any = None,
    ) -> None:
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._processes = processes
        self._size = processes or cpu_count()  # fixed at creation, as a stdlib pool's
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._token = f"{id(self):x}-{time.time_ns():x}-{next(_token_counter)}"
        self._executor = new_executor(processes)
        self._feed: OutputFeed | None = current_feed()
        self._state = "RUN"
        self._lock = threading.Lock()
        self._outstanding: list[ResponseFuture] = []
        self._results: list[AsyncResult] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state} backend={self._executor.backend}>"

    # -- submitting ----------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._state != "RUN":
            raise ValueError("Pool not running")

    def _task(self, func: Callable[..., Any], star: bool | str) -> Task:
        stream = None if self._feed is None else self._feed.target
        return Task(func, star, self._initializer, self._initargs, self._token, stream)

    def _options(self) -> dict[str, Any]:
        env = mp_config.get_parameter(mp_config.ENV_VARS)
        return {"extra_env": dict(env)} if env else {}

    def _default_chunksize(self, n: int) -> int:
        """multiprocessing's choice: about four chunks per pool process."""
        size, extra = divmod(n, self._size * 4)
        return size + 1 if extra else max(size, 1)

    def _submit(
        self, func: Callable[..., Any], items: list[Any], star: bool | str, chunksize: int | None
    ) -> list[ResponseFuture]:
        with self._lock:
            self._check_running()
        if not items:
            return []
        if chunksize is None:
            chunksize = self._default_chunksize(len(items))
        elif chunksize < 1:
            raise ValueError(f"Chunksize must be 1+, not {chunksize}")
        futures = list(
            self._executor.map(
                self._task(func, star),
                [(chunk,) for chunk in _chunks(items, chunksize)],
                **self._options(),
            )
        )
        with self._lock:
            self._outstanding = [f for f in self._outstanding if not f.done] + futures
        return futures

    def _finish(self, futures: list[ResponseFuture]) -> None:
        """Once ``futures`` are done: their streamed output written, their details exported."""
        if self._feed is None and not mp_config.get_parameter(mp_config.EXPORT_EXECUTION_DETAILS):
            return
        concurrent.futures.wait(futures)
        if self._feed is not None:
            self._feed.sync()
        export_execution_details(self._executor, futures)

    def _gathered(self, futures: list[ResponseFuture]) -> list[Any]:
        """The results of ``futures``' chunks in order, collected in the calling thread (the
        blocking methods need no collector thread); the first call's exception raised."""
        try:
            return [value for future in futures for value in future.result()]
        finally:
            self._finish(futures)

    def _async(
        self,
        futures: list[ResponseFuture],
        single: bool,
        callback: Callable[[Any], Any] | None,
        error_callback: Callable[[BaseException], Any] | None,
    ) -> AsyncResult:
        return self._result(AsyncResult(futures, single, callback, error_callback, self._finish))

    def _result(self, result: AsyncResult) -> AsyncResult:
        with self._lock:
            self._results = [r for r in self._results if not r.ready()] + [result]
        return result

    def apply_async(
        self,
        func: Callable[..., Any],
        args: Iterable[Any] = (),
        kwds: dict[str, Any] | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        """Run ``func(*args, **kwds)`` as one call."""
        item = (tuple(args), dict(kwds or {}))
        futures = self._submit(func, [item], "apply", 1)
        return self._async(futures, True, callback, error_callback)

    def apply(
        self, func: Callable[..., Any], args: Iterable[Any] = (), kwds: dict[str, Any] | None = None
    ) -> Any:
        """``func(*args, **kwds)`` run as one call; blocks for its result."""
        item = (tuple(args), dict(kwds or {}))
        return self._gathered(self._submit(func, [item], "apply", 1))[0]

    def map_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        """One call per item; the result's ``get()`` is the list of results in order."""
        futures = self._submit(func, list(iterable), False, chunksize)
        return self._async(futures, False, callback, error_callback)

    def map(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int | None = None
    ) -> list[Any]:
        """``[func(x) for x in iterable]``, the items sent ``chunksize`` per call."""
        return self._gathered(self._submit(func, list(iterable), False, chunksize))

    def starmap_async(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callable[[Any], Any] | None = None,
        error_callback: Callable[[BaseException], Any] | None = None,
    ) -> AsyncResult:
        """As :meth:`map_async`, calling ``func(*item)``."""
        futures = self._submit(func, [tuple(i) for i in iterable], True, chunksize)
        return self._async(futures, False, callback, error_callback)

    def starmap(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
    ) -> list[Any]:
        """``[func(*args) for args in iterable]``, the items sent ``chunksize`` per call."""
        futures = self._submit(func, [tuple(i) for i in iterable], True, chunksize)
        return self._gathered(futures)

    def imap(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1
    ) -> Iterator[Any]:
        """Results in input order, each as soon as it and those before it are done."""
        futures = self._submit(func, list(iterable), False, chunksize)

        def results() -> Iterator[Any]:
            for future in futures:
                chunk = future.result()
                if self._feed is not None:
                    self._feed.sync()
                yield from chunk
            export_execution_details(self._executor, futures)

        return results()

    def imap_unordered(
        self, func: Callable[..., Any], iterable: Iterable[Any], chunksize: int = 1
    ) -> Iterator[Any]:
        """Results in the order the calls finish."""
        futures = self._submit(func, list(iterable), False, chunksize)

        def results() -> Iterator[Any]:
            for future in concurrent.futures.as_completed(futures):
                chunk = future.result()
                if self._feed is not None:
                    self._feed.sync()
                yield from chunk
            export_execution_details(self._executor, futures)

        return results()

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """No new tasks; the submitted ones run to completion."""
        with self._lock:
            if self._state == "RUN":
                self._state = "CLOSE"

    def terminate(self) -> None:
        """No new tasks; the outstanding ones are cancelled (running ones stopped)."""
        with self._lock:
            already = self._state == "TERMINATE"
            self._state = "TERMINATE"
            outstanding, self._outstanding = self._outstanding, []
        if already:
            return
        for future in outstanding:
            if not future.done:
                future.cancel()
        self._executor.close()

    def join(self) -> None:
        """Wait for every submitted task; only after :meth:`close` or :meth:`terminate`."""
        if self._state == "RUN":
            raise ValueError("Pool is still running")
        with self._lock:
            outstanding = list(self._outstanding)
            results = list(self._results)
        if outstanding:
            concurrent.futures.wait(outstanding)
        for result in results:  # their callbacks have run once join returns, as in the stdlib
            result.wait()
        if self._state == "CLOSE":
            self._executor.close()

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()

    def __reduce__(self) -> Any:
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")
