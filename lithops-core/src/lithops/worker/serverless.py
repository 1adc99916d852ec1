"""The worker side of serverless backends: one JSON event in, one JSON response out.

A serverless platform (AWS Lambda, Cloud Functions...) hands a function a JSON event and sends
back what it returns as JSON. A backend's function code is the worker package
(:mod:`lithops.packaging`) and this module's :func:`handler`::

    # the function's entry point: lithops.worker.serverless.handler
    {"t": "metadata"}
        -> {"t": "hello", "wire": [1, 0], "python": "3.11", ...}
    {"t": "batch", "wire": [1, 0], "message": "<base64 of the encoded wire batch>", ...}
        -> {"t": "results", "wire": [1, 0], "records": [...]}

Both sides of every value that is bytes in a wire record (the pickled result or exception)
travel as ``{"$b64": "..."}`` (see :func:`to_json` / :func:`from_json`).

Events and responses have a size limit on every platform. The client puts a batch that does
not fit into storage and sends ``"message_ref": {"bucket": ..., "key": ...}`` instead of
``"message"``; ``"storage"`` is the storage's worker descriptor (no secrets: the function uses
its own platform identity). When ``"spill"`` is given (``{"limit": bytes, "prefix": key
prefix}``), a response larger than ``limit`` is written to storage under the prefix and the
response carries ``"records_ref"``; the client reads the records from there and deletes them.

A backend with the ``"function_once"`` capability sends batch messages without the function
(``CallBatch.function`` holds it) and adds ``"function": {"key": func_key, "b64": ...}`` to
the event, or, for a function larger than its inline limit, ``"function": {"key": func_key,
"ref": {"bucket": ..., "key": ...}}``: the function put to storage once per job
(:class:`FunctionUploads` does both). A warm function instance keeps it by key and reads
nothing when it has it already.

``"config"`` (optional) is the compute part of the client's config, without secrets, for a call
that opens its own executor (nested): it is merged under the job's ``LITHOPS_CONFIG`` (which
names the storage), so ``FunctionExecutor()`` inside the call runs on the same backend with
the function's own platform identity.

``"timeout"`` in the batch message is enforced per call with a timer signal when the handler runs
in the main thread (as it does on Lambda): the call fails with
:class:`~lithops.errors.CallTimeoutError` and the next call of the batch still runs.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from lithops import wire
from lithops.errors import CallTimeoutError, WireVersionError
from lithops.worker.runtime import FunctionCache, OutputCapture, run_batch

__all__ = [
    "FunctionUploads",
    "decode_event_response",
    "from_json",
    "handler",
    "metadata",
    "run_event",
    "to_json",
]

_B64 = "$b64"
_FUNCTIONS = FunctionCache()


def to_json(value: Any) -> Any:
    """``value`` with bytes as ``{"$b64": ...}`` and tuples as lists: ready for ``json.dumps``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_B64: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """Undo :func:`to_json` (lists stay lists)."""
    if isinstance(value, dict):
        if len(value) == 1 and _B64 in value:
            return base64.b64decode(value[_B64])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def metadata() -> dict[str, Any]:
    """What a deployed function answers to ``{"t": "metadata"}``: the wire ``hello``."""
    return to_json(wire.hello_message())


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The function entry point: answer a metadata event or run a batch event."""
    if event.get("t") == "metadata":
        return metadata()
    return run_event(event)


def _check_wire(event: dict[str, Any]) -> None:
    major = next(iter(event.get("wire") or (0,)))
    if major != wire.WIRE_VERSION[0]:
        raise WireVersionError(
            f"this function runs lithops wire format {wire.WIRE_VERSION[0]}.x, the client sent "
            f"{major}.x; delete this function so that the client deploys its own version"
        )


def _storage(event: dict[str, Any]) -> Any:
    from lithops.storage.storage import Storage  # only events that need storage pay for it

    return Storage.from_descriptor(event.get("storage"))


def run_event(event: dict[str, Any]) -> dict[str, Any]:
    """Run the batch of a ``batch`` event; return the ``results`` response (JSON-ready).

    ``duration_ms`` in the response is how long the handler ran: what a backend bills from when
    the platform does not report its own billed duration.
    """
    began = time.monotonic()
    _check_wire(event)
    ref = event.get("message_ref")
    if ref:
        payload = _storage(event).get_object(ref["bucket"], ref["key"])
    else:
        payload = base64.b64decode(event["message"])
    assert isinstance(payload, bytes)
    message = wire.decode(payload)
    function = event.get("function")
    if function and not _FUNCTIONS.has(function["key"]):
        if function.get("ref"):
            where = function["ref"]
            data = _storage(event).get_object(where["bucket"], where["key"])
        else:
            data = base64.b64decode(function["b64"])
        assert isinstance(data, bytes)
        _FUNCTIONS.put(function["key"], data)
    if event.get("config"):
        message["env"] = _with_nested_config(dict(message.get("env") or {}), event["config"])
    records: list[dict[str, Any]] = []
    with _CallTimer(message.get("timeout")) as timer:
        run_batch(
            message,
            timer.wrap_emit(records.append),
            _FUNCTIONS,
            OutputCapture(None),
            on_start=timer.start,
        )
    response: dict[str, Any] = {
        "t": "results",
        "wire": list(wire.WIRE_VERSION),
        "records": to_json(records),
        "duration_ms": round((time.monotonic() - began) * 1000, 3),
    }
    spill = event.get("spill")
    if spill:
        size = len(json.dumps(response))
        if size > int(spill["limit"]):
            storage = _storage(event)
            key = f"{spill['prefix'].rstrip('/')}/{uuid.uuid4().hex}.results"
            storage.put_object(
                storage.bucket, key, wire.encode({"t": "results", "records": records})
            )
            response["records"] = []
            response["records_ref"] = {"bucket": storage.bucket, "key": key, "size": size}
    return response


class FunctionUploads:
    """The client side of ``"function"`` in events: inline when small, else put to storage
    once per job (under the job's temporary prefix, which ``clean()`` removes).

    :param inline_limit: largest function (bytes, pickled) carried in the event itself.
    """

    def __init__(self, inline_limit: int = 64 << 10) -> None:
        self.inline_limit = inline_limit
        self._refs: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def event_field(self, batch: Any, storage: Any) -> dict[str, Any] | None:
        """The ``"function"`` entry of an event for ``batch`` (a ``CallBatch``); ``None`` when
        its message carries the function itself.

        :param storage: a ``lithops.Storage``, needed only for functions above the limit.
        """
        function = batch.function
        if function is None:
            return None
        if len(function) <= self.inline_limit or storage is None:
            return {"key": batch.func_key, "b64": base64.b64encode(function).decode("ascii")}
        with self._lock:
            ref = self._refs.get((batch.job_key, batch.func_key))
            if ref is None:
                from lithops.storage.storage import TEMP_PREFIX

                key = f"{TEMP_PREFIX}/{batch.job_key}/functions/{batch.func_key}.pickle"
                storage.put_object(storage.bucket, key, function)
                ref = {"bucket": storage.bucket, "key": key}
                self._refs[(batch.job_key, batch.func_key)] = ref
        return {"key": batch.func_key, "ref": ref}


def _with_nested_config(env: dict[str, str], nested: dict[str, Any]) -> dict[str, str]:
    from lithops.config.files import CONFIG_ENV

    job = json.loads(env.get(CONFIG_ENV) or "{}")
    merged = {**nested, **job}
    for section in set(nested) & set(job):
        merged[section] = {**nested[section], **job[section]}
    env[CONFIG_ENV] = json.dumps(merged)
    return env


def decode_event_response(response: dict[str, Any], storage: Any = None) -> list[dict[str, Any]]:
    """The records of a ``results`` response, as :func:`run_batch` emitted them.

    :param storage: a ``lithops.Storage`` to read (and delete) spilled records with.
    :raises WireVersionError: the response is not a compatible ``results`` message.
    """
    if response.get("t") != "results":
        raise WireVersionError(f"the function did not answer with lithops results: {response!r}")
    major = next(iter(response.get("wire") or (0,)))
    if major != wire.WIRE_VERSION[0]:
        raise WireVersionError(
            f"the function answered in wire format {major}.x, this client speaks "
            f"{wire.WIRE_VERSION[0]}.x; delete the function so that this client deploys its own "
            f"version"
        )
    ref = response.get("records_ref")
    if ref:
        if storage is None:
            raise WireVersionError("the function spilled its results but no storage was given")
        data = storage.get_object(ref["bucket"], ref["key"])
        storage.delete_object(ref["bucket"], ref["key"])
        records = list(wire.decode(data)["records"])
    else:
        records = from_json(response.get("records") or [])
    for record in records:
        record["key"] = tuple(record["key"])
    return records


class _CallTimer:
    """Per-call timeouts with ``SIGALRM``: only possible in the main thread; a no-op elsewhere."""

    def __init__(self, timeout: float | None) -> None:
        usable = threading.current_thread() is threading.main_thread()
        self._timeout = float(timeout) if timeout and usable else None
        self._key: Any = None
        self._previous: Any = None

    def __enter__(self) -> _CallTimer:
        if self._timeout:
            self._previous = signal.signal(signal.SIGALRM, self._expired)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous or signal.SIG_DFL)

    def start(self, key: Any, since: float) -> None:
        self._key = key
        if self._timeout:
            signal.setitimer(signal.ITIMER_REAL, self._timeout)

    def wrap_emit(self, emit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        def stop_then_emit(record: dict[str, Any]) -> None:
            if self._timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
            emit(record)

        return stop_then_emit

    def _expired(self, signum: int, frame: Any) -> None:
        job_key, call_id = self._key or ("", "")
        raise CallTimeoutError(
            f"call {job_key}/{call_id} ran past its timeout of {self._timeout:g} s and was "
            f"stopped; raise the map's timeout (or execution_timeout) if it needs longer",
            job_key,
            call_id,
        )
