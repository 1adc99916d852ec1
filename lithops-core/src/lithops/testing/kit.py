"""Tools for testing a backend without an executor: a recording event sink, a batch builder, a
fake installed distribution.

::

    from lithops.testing.kit import RecordingSink, build_batch, installed_distribution

    sink = RecordingSink()
    handle = host.provision(ProvisionRequest("mybackend", config, None, None, events=sink))
    batch = build_batch(abs, [-1, -2])
    host.invoke(handle, batch)
    records = sink.wait_for(batch.calls, timeout=30)   # one result record per call
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cloudpickle

from lithops import wire
from lithops.job import Job, build_calls, reserved_params, serialize_function
from lithops.plugins import manager
from lithops.plugins.types import CallBatch, CallKey
from lithops.scheduler import encode_batch

__all__ = ["RecordingSink", "build_batch", "installed_distribution", "write_distribution"]


class RecordingSink:
    """An :class:`~lithops.plugins.types.EventSink` that keeps everything a backend pushes.

    ``records`` (result records by call key, the first one of each call), ``duplicates``
    (records of a call that already had one), ``started`` (``running`` reports), ``losses``
    (key -> error), ``requeued`` and ``logs`` (key -> lines). :meth:`wait_for` waits for calls
    to end.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.records: dict[CallKey, dict[str, Any]] = {}
        self.duplicates: list[dict[str, Any]] = []
        self.started: list[tuple[CallKey, float, str]] = []
        self.losses: dict[CallKey, BaseException] = {}
        self.requeued: list[CallKey] = []
        self.logs: dict[CallKey, list[tuple[float, str]]] = {}

    # -- EventSink ---------------------------------------------------------------------------

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        with self._cond:
            for record in records:
                key = _key(record["key"])
                if key in self.records or key in self.losses:
                    self.duplicates.append(record)
                else:
                    self.records[key] = record
            self._cond.notify_all()

    def running(self, key: CallKey, since: float, where: str) -> None:
        with self._cond:
            self.started.append((_key(key), since, where))

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        with self._cond:
            for key in keys:
                self.losses.setdefault(_key(key), error)
            self._cond.notify_all()

    def requeue(self, keys: Sequence[CallKey]) -> None:
        with self._cond:
            self.requeued.extend(_key(k) for k in keys)
            self._cond.notify_all()

    def log(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        with self._cond:
            self.logs.setdefault(_key(key), []).extend(lines)

    # -- for the test ------------------------------------------------------------------------

    def ended(self, key: CallKey) -> bool:
        """The call has a result record or was reported lost."""
        key = _key(key)
        return key in self.records or key in self.losses

    def wait_for(self, keys: Iterable[CallKey], timeout: float) -> list[dict[str, Any]]:
        """Wait until every call of ``keys`` has a result record or was reported lost;
        returns their records in order (a lost call has none: see :attr:`losses`).

        :raises TimeoutError: naming the calls that did not end within ``timeout`` seconds.
        """
        wanted = [_key(k) for k in keys]
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                missing = [k for k in wanted if k not in self.records and k not in self.losses]
                if not missing:
                    return [self.records[k] for k in wanted if k in self.records]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(missing)} of {len(wanted)} calls did not end within {timeout} s "
                        f"(first: {missing[0]}); requeued: {len(self.requeued)}"
                    )
                self._cond.wait(left)


def _key(key: Any) -> CallKey:
    return (str(key[0]), str(key[1]))


def build_batch(
    func: Callable[..., Any],
    inputs: Iterable[Any],
    *,
    job_key: str = "testing-0/M000",
    timeout: float | None = 60.0,
    runtime_memory: int | None = None,
    env: dict[str, str] | None = None,
    function_once: bool = False,
    wire_version: tuple[int, int] = wire.WIRE_VERSION,
) -> CallBatch:
    """A :class:`CallBatch` of one call of ``func`` per element of ``inputs`` (bound as
    ``map`` binds them), encoded exactly as the core encodes its batches.

    :param function_once: the message leaves the function out (``CallBatch.function``), as
        for a backend with the ``"function_once"`` capability.
    :param wire_version: the version the batch claims (to test version skew).
    """
    executor_id, _, job_id = job_key.rpartition("/")
    inject = reserved_params(func)
    calls = build_calls(func, list(inputs), None, inject)
    func_key, payload = serialize_function(func)
    job = Job(
        executor_id=executor_id,
        job_id=job_id,
        function_name=getattr(func, "__name__", "f"),
        func_key=func_key,
        func_payload=payload,
        arguments=calls,
        inject=inject,
        timeout=timeout,
        extra_env=dict(env or {}),
        runtime_memory=runtime_memory,
    )
    return encode_batch(
        job,
        [f"{i:05d}" for i in range(len(calls))],
        cloudpickle.dumps(calls),
        function_once=function_once,
        wire_version=wire_version,
    )


def write_distribution(root: Path, dist: str, module: str, source: str) -> Path:
    """Write, under ``root``, a plugin module and the ``dist-info`` of a distribution ``dist``
    whose ``lithops`` entry point names it: what ``pip install`` would leave in
    site-packages. Returns ``root`` (put it on ``sys.path`` to install it)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[lithops]\n{module} = {module}\n")
    return root


@contextlib.contextmanager
def installed_distribution(root: Path, dist: str, module: str, source: str) -> Iterator[Path]:
    """Within the block, the plugin ``module`` (its ``source``) is installed as distribution
    ``dist`` on ``sys.path``, and lithops loads plugins afresh (before and after)."""
    write_distribution(root, dist, module, source)
    sys.path.insert(0, str(root))
    sys.modules.pop(module, None)
    manager.reset_plugin_host()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module, None)
        manager.reset_plugin_host()
