"""The ``lithops`` joblib backend (imports joblib: load it through :func:`register_lithops`)."""

from __future__ import annotations

import io
import logging
import os
import pickle
import sys
import sysconfig
import threading
from types import ModuleType
from typing import Any

import cloudpickle
from joblib.parallel import AutoBatchingMixin, ParallelBackendBase

from lithops.concurrent.futures import FunctionExecutor as PoolExecutor
from lithops.storage.utils import CloudObject
from lithops.util.joblib.remote import LARGE_REF, run_batch

__all__ = ["LithopsBackend"]

logger = logging.getLogger(__name__)

#: Values at least this large (bytes) travel through the storage instead of the payload.
LARGE_OBJECT_BYTES = 1 << 20


_LIBRARY_PATHS = tuple(
    {
        p
        for k, p in sysconfig.get_paths().items()
        if k in ("stdlib", "platstdlib", "purelib", "platlib")
    }
)
#: Serializes registering modules for pickling by value (a process-wide cloudpickle setting).
_BY_VALUE_LOCK = threading.Lock()


def _user_module(func: Any) -> ModuleType | None:
    """The home module of a task's function when it is the user's own code (not installed):
    it travels by value, so workers on other machines need not have it."""
    func = getattr(func, "function", func)  # scikit-learn's delayed wraps the function
    func = getattr(func, "func", func)  # functools.partial
    name = getattr(func, "__module__", None)
    module = sys.modules.get(name) if isinstance(name, str) else None
    path = getattr(module, "__file__", None)
    if module is None or not path or name == "__main__":
        return None
    if name.split(".")[0] in ("lithops", "joblib", "cloudpickle"):  # type: ignore[union-attr]
        return None
    return None if os.path.abspath(path).startswith(_LIBRARY_PATHS) else module


def _dump_batch(items: list[Any], backend: LithopsBackend) -> bytes:
    modules = {m.__name__: m for m in map(_user_module, (f for f, _, _ in items)) if m}
    buf = io.BytesIO()
    with _BY_VALUE_LOCK:
        already = set(cloudpickle.list_registry_pickle_by_value())
        added = [m for name, m in modules.items() if name not in already]
        for module in added:
            cloudpickle.register_pickle_by_value(module)
        try:
            _BatchPickler(buf, backend).dump(items)
        finally:
            for module in added:
                cloudpickle.unregister_pickle_by_value(module)
    return buf.getvalue()


def _nbytes(obj: Any) -> int:
    if isinstance(obj, (bytes, bytearray)):
        return len(obj)
    if type(obj).__module__ == "numpy" and type(obj).__name__ in ("ndarray", "memmap"):
        return int(obj.nbytes)
    return 0


class _BatchPickler(cloudpickle.CloudPickler):
    """Pickles a batch, replacing large values by references to objects of the storage."""

    def __init__(self, file: io.BytesIO, backend: LithopsBackend) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._backend = backend

    def persistent_id(self, obj: Any) -> Any:
        if not self._backend.shares_storage or _nbytes(obj) < self._backend.large_object_bytes:
            return None
        co = self._backend.stored(obj)
        return (LARGE_REF, co.backend, co.bucket, co.key)


class LithopsBackend(AutoBatchingMixin, ParallelBackendBase):
    """Runs each joblib batch as one lithops call; see :mod:`lithops.util.joblib`.

    :param large_object_bytes: values (numpy arrays, bytes) at least this large are uploaded
        once per ``Parallel`` call and read by the workers from the storage.
    :param executor_kwargs: :class:`lithops.FunctionExecutor` arguments (``config``,
        ``backend``, ``storage``, ``runtime``...).
    """

    supports_retrieve_callback = True
    supports_timeout = True
    default_n_jobs = -1
    # A lithops call costs more than a local process hand-off: aim for longer batches.
    MIN_IDEAL_BATCH_DURATION = 1.0
    MAX_IDEAL_BATCH_DURATION = 10.0

    def __init__(
        self,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        large_object_bytes: int = LARGE_OBJECT_BYTES,
        **executor_kwargs: Any,
    ) -> None:
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.large_object_bytes = large_object_bytes
        self.executor_kwargs = executor_kwargs
        #: lithops calls made, values stored and payload bytes sent (for the curious and tests)
        self.calls_submitted = 0
        self.objects_stored = 0
        self.payload_bytes = 0
        self._pool: PoolExecutor | None = None
        self._pool_jobs: int | None = None
        self._lock = threading.Lock()
        self._uploads: dict[int, tuple[Any, CloudObject]] = {}
        self._outstanding: set[Any] = set()
        self._default_workers: int | None = None
        #: whether large values go through the storage (set when the backend is configured)
        self.shares_storage = True

    # -- sizing ----------------------------------------------------------------------------

    def _configured_workers(self) -> int:
        if self._default_workers is None:
            from lithops.executor import FunctionExecutor

            probe = FunctionExecutor(**self.executor_kwargs)
            try:
                key = "worker_processes" if probe.mode == "localhost" else "max_workers"
                value = probe.config.get(probe.backend, {}).get(key)
            finally:
                probe.close()
            self._default_workers = int(value) if value else (os.cpu_count() or 1)
        return self._default_workers

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        if n_jobs < 0:
            return max(self._configured_workers() + 1 + n_jobs, 1)
        return n_jobs

    def configure(
        self,
        n_jobs: int = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        **backend_kwargs: Any,
    ) -> int:
        n = self.effective_n_jobs(n_jobs)
        self.parallel = parallel
        with self._lock:
            if self._pool is None or self._pool_jobs != n:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                # The most calls at once is n: the backend's workers are sized to it.
                self._pool = PoolExecutor(max_workers=n, **self.executor_kwargs)
                self._pool_jobs = n
                inner = self._pool.lithops_executor
                # The localhost storage is files of this machine: a remote backend's workers
                # cannot read it, so large values then travel in the payload.
                self.shares_storage = not (
                    inner.storage.backend == "localhost" and inner.mode != "localhost"
                )
        return n

    # -- running ---------------------------------------------------------------------------

    def stored(self, obj: Any) -> CloudObject:
        """The storage object holding ``obj`` (uploaded at its first use in this call)."""
        with self._lock:
            hit = self._uploads.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        storage = self._get_pool().lithops_executor.storage
        co = storage.put_cloudobject(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        with self._lock:
            self._uploads[id(obj)] = (obj, co)  # keeps obj alive, so its id stays its own
            self.objects_stored += 1
        return co

    def _get_pool(self) -> PoolExecutor:
        if self._pool is None:
            self.configure(n_jobs=self.default_n_jobs)
        assert self._pool is not None
        return self._pool

    def submit(self, func: Any, callback: Any = None) -> Any:
        pool = self._get_pool()
        items = getattr(func, "items", None)
        if items is None:  # a plain callable rather than joblib's BatchedCalls
            items = [(func, (), {})]
        data = _dump_batch(list(items), self)
        storage = pool.lithops_executor.storage if self._uploads else None
        future = pool.submit(run_batch, data, storage)
        self.calls_submitted += 1
        self.payload_bytes += len(data)
        with self._lock:
            self._outstanding.add(future)
        future.add_done_callback(self._forget)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def _forget(self, future: Any) -> None:
        with self._lock:
            self._outstanding.discard(future)

    def retrieve_result_callback(self, out: Any) -> Any:
        return out.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        with self._lock:
            outstanding = list(self._outstanding)
        for future in outstanding:
            future.cancel()
        if not ensure_ready:
            self._close()

    def terminate(self) -> None:
        self._close()
        self.reset_batch_stats()

    def _close(self) -> None:
        with self._lock:
            pool, self._pool, self._pool_jobs = self._pool, None, None
            uploads = [co for _, co in self._uploads.values()]
            self._uploads.clear()
        if pool is None:
            return
        if uploads:
            try:
                pool.lithops_executor.storage.delete_cloudobjects(uploads)
            except Exception as exc:  # cleanup must not hide the call's outcome
                logger.warning("could not delete joblib's stored arguments: %s", exc)
        pool.shutdown(wait=False, cancel_futures=True)
