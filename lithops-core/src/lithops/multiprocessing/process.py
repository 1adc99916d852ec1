"""``multiprocessing.Process`` over lithops: ``start()`` runs ``run()`` as one lithops call."""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lithops.executor import FunctionExecutor
from lithops.future import ResponseFuture
from lithops.multiprocessing import config as mp_config
from lithops.multiprocessing.execution_details import export_execution_details
from lithops.multiprocessing.pool import cpu_count, new_executor
from lithops.multiprocessing.stdout_stream import OutputFeed, StreamTarget, current_feed, streaming

__all__ = ["Process", "active_children", "cpu_count", "current_process", "shared_executor"]

_counter = itertools.count(1)
_shared_lock = threading.Lock()
_shared: dict[str, FunctionExecutor] = {}
_children: set[Process] = set()


def shared_executor() -> FunctionExecutor:
    """The lithops executor the processes of this interpreter run on: one per value of
    ``LITHOPS_CONFIG`` (created at the first ``start()`` under it; all closed at exit)."""
    config = mp_config.get_parameter(mp_config.LITHOPS_CONFIG)
    key = json.dumps(config, sort_keys=True, default=repr)
    with _shared_lock:
        if not _shared:
            atexit.register(_close_shared)
        if key not in _shared:
            _shared[key] = new_executor()
        return _shared[key]


def _close_shared() -> None:
    with _shared_lock:
        executors = list(_shared.values())
        _shared.clear()
    for executor in executors:
        executor.close()


class ProcessRun:
    """The job function of a :class:`Process`: its ``run()``, returning the exit code as
    ``multiprocessing`` computes it (0, ``SystemExit``'s code, 1 after an exception, whose
    traceback goes to the call's stderr)."""

    def __init__(self, process: Process, stream: StreamTarget | None = None) -> None:
        self.process = process
        self.stream = stream
        self.__name__ = process.name
        target = process._target
        self.__module__ = getattr(target, "__module__", None) or type(process).__module__

    def __call__(self) -> int:
        with streaming(self.stream):
            return self._run()

    def _run(self) -> int:
        try:
            self.process.run()
        except SystemExit as stop:
            if stop.code is None:
                return 0
            if isinstance(stop.code, int):
                return stop.code
            sys.stderr.write(f"{stop.code}\n")
            return 1
        except BaseException:
            sys.stderr.write(f"Process {self.process.name}:\n")
            traceback.print_exc()
            return 1
        return 0


class Process:
    """Drop-in for :class:`multiprocessing.Process`: ``start()`` runs ``run()`` (by default
    ``target(*args, **kwargs)``) as a lithops call; ``join``, ``is_alive``, ``exitcode`` and
    ``terminate`` follow that call. Subclasses overriding ``run`` work the same way."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., Any] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        if group is not None:
            raise ValueError("group argument must be None for now")
        number = next(_counter)
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self._name = name or f"{type(self).__name__}-{number}"
        self.daemon = bool(daemon)
        self._future: ResponseFuture | None = None
        self._feed: OutputFeed | None = None
        self._executor: FunctionExecutor | None = None
        self._finished = False
        self._terminated = False
        self._closed = False

    # -- what runs in the call -----------------------------------------------------------------

    def run(self) -> None:
        """What the call runs: ``target(*args, **kwargs)``; override it in a subclass."""
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_future"] = None  # the caller's handle, meaningless in the call
        state["_feed"] = state["_executor"] = None
        return state

    # -- controlling it ------------------------------------------------------------------------

    def _check_closed(self) -> None:
        if self._closed:
            raise ValueError("process object is closed")

    def start(self) -> None:
        """Run ``run()`` as a lithops call (once)."""
        self._check_closed()
        if self._future is not None:
            raise AssertionError("cannot start a process twice")
        env = mp_config.get_parameter(mp_config.ENV_VARS)
        options: dict[str, Any] = {"extra_env": dict(env)} if env else {}
        feed = current_feed()
        run = ProcessRun(self, None if feed is None else feed.target)
        executor = shared_executor()
        # The executor and feed are set on the process only once the call is sent: the job's
        # dependency scan walks the process object, and through an executor (its plugin host,
        # its jobs) it could run out of budget before it reaches the target's module, which
        # would then travel by name and fail to import on a remote worker.
        future = executor.call_async(run, (), **options)
        self._feed, self._executor, self._future = feed, executor, future
        _children.add(self)

    def join(self, timeout: float | None = None) -> None:
        """Wait until the call ends, or ``timeout`` seconds."""
        self._check_closed()
        if self._future is None:
            raise AssertionError("can only join a started process")
        try:
            concurrent.futures.wait([self._future], timeout=timeout)
        finally:
            if self._future.done:
                _children.discard(self)
        if self._future.done and not self._finished:
            self._finished = True
            if self._feed is not None:
                self._feed.sync()  # what it printed is on this terminal before join returns
            export_execution_details(self._executor, [self._future])

    def is_alive(self) -> bool:
        """Started and its call not ended."""
        self._check_closed()
        return self._future is not None and not self._future.done

    @property
    def exitcode(self) -> int | None:
        """``None`` while running; 0, ``sys.exit``'s code or 1 once ended; ``-SIGTERM``
        after :meth:`terminate`."""
        future = self._future
        if future is None or not future.done:
            return None
        if self._terminated or future.cancelled():
            return -signal.SIGTERM
        try:
            code = future.result()
        except BaseException:
            return 1  # the call itself failed (its worker died, a deadline passed)
        return int(code) if code is not None else 0

    def terminate(self) -> None:
        """Stop the call (its worker is stopped if it already runs)."""
        self._check_closed()
        if self._future is not None and not self._future.done:
            self._terminated = True
            self._future.cancel()

    kill = terminate

    def close(self) -> None:
        """Release the process object; ``ValueError`` while it still runs."""
        if self.is_alive():
            raise ValueError("Cannot close a process while it is still running.")
        _children.discard(self)
        self._closed = True

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)

    @property
    def pid(self) -> int | None:
        """The call's number in this interpreter (there is no local process)."""
        return None if self._future is None else id(self._future) & 0x7FFFFFFF

    ident = pid

    @property
    def sentinel(self) -> int:
        raise NotImplementedError("a lithops process has no OS handle to wait on: use join()")

    def __repr__(self) -> str:
        if self._future is None:
            state = "initial"
        elif self.exitcode is None:
            state = "started"
        else:
            state = f"stopped exitcode={self.exitcode}"
        return f"<{type(self).__name__} name={self._name!r} {state}>"


def active_children() -> list[Process]:
    """The started processes of this interpreter whose calls have not ended."""
    return [p for p in list(_children) if p.is_alive()]


class _MainProcess:
    name = "MainProcess"
    daemon = False
    pid = os.getpid()
    ident = pid


def current_process() -> Any:
    """The calling process (a minimal stand-in: ``name``, ``pid``)."""
    return _MainProcess()
