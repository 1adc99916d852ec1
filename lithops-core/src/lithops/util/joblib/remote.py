"""What a worker runs for the joblib backend: no joblib import needed to run plain tasks.

A batch travels as pickled bytes in which large values are references to storage objects
(pickle "persistent ids"); :func:`run_batch` loads it, reading each referenced object once.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from lithops.storage.storage import Storage
from lithops.storage.utils import CloudObject

__all__ = ["LARGE_REF", "run_batch"]

#: The tag of a persistent id naming a value stored as its own object.
LARGE_REF = "lithops.joblib.large"


class _BatchUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, storage: Storage | None) -> None:
        super().__init__(io.BytesIO(data))
        self._storage = storage
        self._loaded: dict[str, Any] = {}

    def persistent_load(self, pid: Any) -> Any:
        tag, backend, bucket, key = pid
        if tag != LARGE_REF or self._storage is None:
            raise pickle.UnpicklingError(f"unknown reference in a joblib batch: {pid!r}")
        if key not in self._loaded:
            blob = self._storage.get_cloudobject(CloudObject(backend, bucket, key))
            self._loaded[key] = pickle.loads(blob)  # type: ignore[arg-type]
        return self._loaded[key]


def _run_items(items: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    try:
        from joblib import parallel_config
    except ImportError:  # plain functions need no joblib on the worker
        return [func(*args, **kwargs) for func, args, kwargs in items]
    # Nested Parallel calls inside a task use the worker's threads, as joblib's own workers do.
    with parallel_config(backend="threading"):
        return [func(*args, **kwargs) for func, args, kwargs in items]


def run_batch(data: bytes, storage: Storage | None) -> list[Any]:
    """Run one batch: ``data`` pickles ``[(func, args, kwargs), ...]``; results in order."""
    items = _BatchUnpickler(data, storage).load()
    return _run_items(items)
