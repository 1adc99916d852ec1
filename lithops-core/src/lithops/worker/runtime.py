"""Running calls: arguments in; result or exception, traceback, output and stats out.

Every backend runs calls through :func:`run_batch`, whatever carries the batch (a pipe, an SSH
channel, a serverless invocation). This module imports only the standard library, cloudpickle
and lithops' own small modules, so worker cold starts stay cheap.
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cloudpickle

from lithops import wire
from lithops.errors import SerializationError, WireVersionError
from lithops.handoff import settle_returned

__all__ = ["FunctionCache", "OutputCapture", "run_batch"]

#: Captured output kept on the future per call (the live log stream has everything).
MAX_OUTPUT_CHARS = 1_000_000

_process_started = False


def _format_exc() -> str:
    # traceback (with linecache and tokenize) loads only when a call fails: a worker's cold
    # start does not pay for it.
    import traceback

    return traceback.format_exc()


def _peak_memory() -> int:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Pickled:
    """A function delivered ahead of its batches, unpickled on first use."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class FunctionCache:
    """Deserialized functions by key, so a warm worker unpickles a job's function once.

    Least recently used first out, ``size`` kept: a backend that sends each function once per
    worker mirrors this with :class:`lithops.plugins.types.FunctionTracker`.
    """

    def __init__(self, size: int = wire.FUNCTION_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, Callable[..., Any] | _Pickled] = OrderedDict()

    def has(self, key: str) -> bool:
        return key in self._items

    def put(self, key: str, payload: bytes) -> None:
        """Keep a function delivered by a ``function`` message (unpickled when first used)."""
        if key in self._items:
            self._items.move_to_end(key)
            return
        self._add(key, _Pickled(payload))

    def get(self, key: str, payload: bytes | None) -> Callable[..., Any]:
        func = self._items.get(key)
        if isinstance(func, _Pickled):
            self._items[key] = func = pickle.loads(func.payload)
        if func is not None:
            self._items.move_to_end(key)
            return func
        if payload is None:
            raise SerializationError(
                f"this worker has no function {key!r} cached and the batch did not carry it: "
                f"the backend sent the batch without the job's function first (a backend with "
                f"the 'function_once' capability must write CallBatch.function_message() to a "
                f"worker that lacks it; see lithops.plugins.types.FunctionTracker)"
            )
        func = pickle.loads(payload)
        self._add(key, func)
        return func

    def _add(self, key: str, item: Callable[..., Any] | _Pickled) -> None:
        self._items[key] = item
        if len(self._items) > self._size:
            self._items.popitem(last=False)


class OutputCapture(io.TextIOBase):
    """Replaces ``sys.stdout``/``sys.stderr`` in a worker: keeps each call's output and streams
    complete lines to ``on_line(key, tstamp, text)`` as they are printed."""

    def __init__(self, on_line: Callable[[Any, float, str], None] | None) -> None:
        self._on_line = on_line
        self._lock = threading.Lock()
        self.key: Any = None
        self._partial = ""
        self._parts: list[str] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def begin(self, key: Any) -> None:
        with self._lock:
            self.key = key
            self._partial = ""
            self._parts = []
            self._size = 0

    def end(self) -> str:
        with self._lock:
            if self._partial and self._on_line is not None:
                self._on_line(self.key, time.time(), self._partial)
            self._partial = ""
            self.key = None
            return "".join(self._parts)

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            text = str(text)
        with self._lock:
            if self._size < MAX_OUTPUT_CHARS:
                self._parts.append(text)
                self._size += len(text)
            if self._on_line is not None and self.key is not None:
                data = self._partial + text
                *lines, self._partial = data.split("\n")
                now = time.time()
                for line in lines:
                    self._on_line(self.key, now, line)
        return len(text)

    def flush(self) -> None:
        pass

    def before_fork(self) -> None:
        """Hold the lock across a fork (see :func:`os.register_at_fork`): the child must not
        inherit it held by another thread."""
        self._lock.acquire()

    def after_fork(self) -> None:
        self._lock.release()


_local = threading.local()
_route_lock = threading.Lock()


class _ThreadRoutedStream(io.TextIOBase):
    """Installed as ``sys.stdout``/``sys.stderr`` by backends that run calls in threads of a
    shared process: each thread's prints go to the capture of the call it runs."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        capture = getattr(_local, "capture", None)
        return (capture or self.fallback).write(text)

    def flush(self) -> None:
        self.fallback.flush()


def _route_output() -> None:
    if isinstance(sys.stdout, OutputCapture | _ThreadRoutedStream):
        return  # a worker process already owns its output, or routing is in place
    with _route_lock:
        if not isinstance(sys.stdout, _ThreadRoutedStream):
            sys.stdout = _ThreadRoutedStream(sys.stdout)
            sys.stderr = _ThreadRoutedStream(sys.stderr)


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def rebuild_exception(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
) -> BaseException:
    """Recreate an exception without calling its ``__init__`` (which may want other args)."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def _pickle_exception(exc: BaseException) -> bytes | None:
    """The exception, pickled so the client gets the same type back.

    Many exceptions do not survive a plain round trip (an ``__init__`` with other arguments
    than ``args``, an unpicklable attribute): those travel as class + args + the attributes
    that pickle, and are rebuilt without ``__init__``.
    """
    try:
        payload = cloudpickle.dumps(exc)
        pickle.loads(payload)
        return payload
    except Exception:
        pass
    state = {}
    for name, value in getattr(exc, "__dict__", {}).items():
        try:
            cloudpickle.dumps(value)
        except Exception:
            continue
        state[name] = value
    args = tuple(a if _picklable(a) else repr(a) for a in exc.args)
    try:
        recipe = _Rebuild(type(exc), args, state)
        payload = cloudpickle.dumps(recipe)
        pickle.loads(payload)
        return payload
    except Exception:
        return None


class _Rebuild:
    """Pickles as a call to :func:`rebuild_exception`."""

    def __init__(self, cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]):
        self.parts = (cls, args, state)

    def __reduce__(self) -> Any:
        return (rebuild_exception, self.parts)


def _picklable(value: Any) -> bool:
    try:
        cloudpickle.dumps(value)
        return True
    except Exception:
        return False


def _error_record(key: Any, exc: BaseException, tb: str) -> dict[str, Any]:
    payload = _pickle_exception(exc)
    return {
        "key": key,
        "ok": False,
        "value": None,
        "error": payload,
        "exc_type": _qualname(exc),
        "exc_msg": str(exc),
        "traceback": tb,
    }


def _bind(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], ctx: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    inject = ctx.get("inject") or ()
    if not inject:
        return args, kwargs
    kwargs = dict(kwargs)
    if "id" in inject:
        kwargs["id"] = int(ctx["call_id"])
    if "storage" in inject:
        from lithops.storage import Storage  # only jobs that ask for storage pay for it

        kwargs["storage"] = Storage.from_descriptor(ctx["storage"])
    if "obj" in inject and "obj" in kwargs:
        from lithops.storage.partition import open_partition

        kwargs["obj"] = open_partition(kwargs["obj"])
    return args, kwargs


def run_batch(
    message: dict[str, Any],
    emit: Callable[[dict[str, Any]], None],
    functions: FunctionCache,
    capture: OutputCapture | None = None,
    on_start: Callable[[Any, float], None] | None = None,
    cancelled: set[Any] | None = None,
) -> None:
    """Run every call of a ``batch`` wire message, calling ``emit(record)`` after each.

    A record is a dict: ``key`` (``(job_key, call_id)``), ``ok``, ``value`` (cloudpickled
    result) or ``error`` (pickled exception, ``None`` if it could not be pickled) with
    ``exc_type``, ``exc_msg`` and ``traceback``; ``output`` (captured text); ``stats``.
    """
    global _process_started
    job_key = message["job_key"]
    calls: list[str] = message["calls"]
    received = time.time()
    try:
        wire.check_batch(message)
    except WireVersionError as exc:
        for call_id in calls:
            emit(_error_record((job_key, call_id), exc, ""))
        return
    try:
        func = functions.get(message["func_key"], message.get("func"))
    except Exception as exc:
        err = (
            exc
            if isinstance(exc, SerializationError)
            else SerializationError(
                f"the function of job {job_key} could not be unpickled on the worker: "
                f"{type(exc).__name__}: {exc}. Is the module it lives in importable there? "
                f"(see include_modules)",
                job_key,
            )
        )
        for call_id in calls:
            emit(_error_record((job_key, call_id), err, _format_exc()))
        return
    try:
        arguments = pickle.loads(message["args"])
    except Exception as exc:
        for call_id in calls:
            err = SerializationError(
                f"the arguments of call {job_key}/{call_id} could not be unpickled on the "
                f"worker: {type(exc).__name__}: {exc}",
                job_key,
                call_id,
            )
            emit(_error_record((job_key, call_id), err, _format_exc()))
        return
    if capture is not None:
        _route_output()
    env = message.get("env") or {}
    ctx = {"inject": message.get("inject"), "storage": message.get("storage")}
    saved_env = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        for call_id, (args, kwargs) in zip(calls, arguments, strict=True):
            key = (job_key, call_id)
            if cancelled is not None and key in cancelled:
                cancelled.discard(key)
                emit({"key": key, "ok": False, "cancelled": True})
                continue
            emit(
                _run_one(
                    func,
                    key,
                    args,
                    kwargs,
                    {**ctx, "call_id": call_id},
                    received,
                    capture,
                    on_start,
                )
            )
            _process_started = True
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_one(
    func: Callable[..., Any],
    key: tuple[str, str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ctx: dict[str, Any],
    received: float,
    capture: OutputCapture | None,
    on_start: Callable[[Any, float], None] | None,
) -> dict[str, Any]:
    start = time.time()
    stats: dict[str, Any] = {
        "worker_start_tstamp": start,
        "worker_cold_start": not _process_started,
        "worker_batch_received_tstamp": received,
        "worker_peak_memory_start": _peak_memory(),
        "worker_pid": os.getpid(),
    }
    if on_start is not None:
        on_start(key, start)
    if capture is not None:
        capture.begin(key)
        _local.capture = capture
    record: dict[str, Any]
    func_start = time.time()
    try:
        call_args, call_kwargs = _bind(func, args, kwargs, ctx)
        func_start = time.time()
        value = settle_returned(func(*call_args, **call_kwargs))
        func_end = time.time()
    except BaseException as exc:  # the user's function may raise anything, SystemExit included
        func_end = time.time()
        if isinstance(exc, KeyboardInterrupt):
            raise
        record = _error_record(key, exc, _format_exc())
    else:
        try:
            payload = cloudpickle.dumps(value)
        except Exception as exc:
            err = SerializationError(
                f"the result of call {key[0]}/{key[1]} (a {type(value).__name__}) could not be "
                f"pickled: {type(exc).__name__}: {exc}. Return plain data instead",
                *key,
            )
            record = _error_record(key, err, _format_exc())
        else:
            record = {"key": key, "ok": True, "value": payload}
            stats["func_result_size"] = len(payload)
    output = ""
    if capture is not None:
        _local.capture = None
        output = capture.end()
    end = time.time()
    stats.update(
        worker_func_start_tstamp=func_start,
        worker_func_end_tstamp=func_end,
        worker_func_exec_time=round(func_end - func_start, 8),
        worker_end_tstamp=end,
        worker_exec_time=round(end - start, 8),
        worker_peak_memory_end=_peak_memory(),
    )
    record["stats"] = stats
    record["output"] = output
    return record
