"""Object partitioning: a function with an ``obj`` parameter gets one call per object chunk.

Client side, the job builder calls :func:`expand_obj_calls` on the calls' keyword arguments: each
``obj`` spec (see :mod:`lithops.storage.sources`) is listed and sized, each object is split
into chunks (``obj_chunk_size`` bytes, or ``obj_chunk_number`` chunks, or one), and each chunk
becomes one call whose ``obj`` is an :class:`ObjectPartition`: a small picklable descriptor with
no data in it.

Worker side, :func:`open_partition` turns the descriptor into the ``obj`` Lithops functions
expect (:class:`DataObject`): ``obj.bucket``, ``obj.key``, ``obj.part``, ``obj.data_byte_range``,
``obj.chunk_size``, ``obj.data_stream`` ... Nothing is read until the function reads
``obj.data_stream``. With ``obj_newline`` set (``'\\n'`` by default, as in Lithops) every line
of an object is in exactly one chunk, whole (see :mod:`lithops.storage.chunks`).
"""

from __future__ import annotations

import io
import os.path
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from lithops.errors import LithopsError
from lithops.storage.chunks import ChunkStream, iter_chunk, nominal_ranges
from lithops.storage.sources import ObjectSpec, find_many, open_range, parse_spec
from lithops.storage.storage import Storage

__all__ = [
    "DataObject",
    "NoObjectsFoundError",
    "ObjectPartition",
    "expand_obj_calls",
    "group_key",
    "open_partition",
    "parts_per_object",
]


class NoObjectsFoundError(LithopsError, ValueError):
    """The ``obj`` specs of a map matched no object at all."""


@dataclass(frozen=True)
class ObjectPartition:
    """One chunk of one object, as it travels to a worker (no data, no credentials).

    :param source: ``storage``, ``path`` or ``url``.
    :param backend: the storage backend (``storage`` only).
    :param bucket: the bucket (``storage`` only).
    :param key: the object key (``storage``), else ``""``.
    :param path: the local file (``path`` only).
    :param url: the URL (``url`` only).
    :param part: this chunk's number, from 1 (as Lithops numbers them).
    :param total_parts: how many chunks the object was split into.
    :param start: the chunk's nominal first byte.
    :param stop: the chunk's nominal end (exclusive); ``None`` when the object is read whole
        without ranges (its size is unknown, or its server does not accept ranges).
    :param size: the object's size when the job was built (``None``: unknown).
    :param newline: the line separator chunk boundaries align to, or ``None`` for raw bytes.
    :param storage: :meth:`Storage.worker_descriptor` of the storage to read from.
    """

    source: str
    backend: str | None
    bucket: str | None
    key: str
    path: str | None
    url: str | None
    part: int
    total_parts: int
    start: int
    stop: int | None
    size: int | None
    newline: str | None
    # Not part of equality/hash: a dict, and the same object whatever storage reads it.
    storage: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def location(self) -> str:
        """Names the object: ``backend://bucket/key``, the path or the URL."""
        if self.source == "storage":
            return f"{self.backend}://{self.bucket}/{self.key}"
        return str(self.path if self.source == "path" else self.url)

    @property
    def chunk_size(self) -> int | None:
        return self.size if self.stop is None else self.stop - self.start

    @property
    def data_byte_range(self) -> tuple[int, int] | None:
        """The nominal range, both ends inclusive, as Lithops reports it."""
        if self.stop is None:
            return None if self.size is None else (0, self.size - 1)
        return (self.start, self.stop - 1)


def group_key(desc: ObjectPartition) -> str:
    """The object a partition belongs to: one reducer per key for ``obj_reduce_by_key``."""
    return desc.location


def parts_per_object(items: Sequence[Mapping[str, Any]]) -> list[int]:
    """How many consecutive calls of ``expand_obj_calls``' output each object got."""
    counts: list[int] = []
    last = None
    for item in items:
        key = group_key(item["obj"])
        if key != last:
            counts.append(0)
            last = key
        counts[-1] += 1
    return counts


# -- client side ---------------------------------------------------------------------------


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive number of bytes/chunks, got {value!r}")


def _storages(specs: list[ObjectSpec], storage: Storage | None) -> dict[str | None, Storage]:
    """The storage serving each backend named by the specs (``None``: the default one)."""
    names = {s.backend for s in specs if s.kind == "storage"}
    if not names:
        return {}
    default = storage if storage is not None else Storage()
    found: dict[str | None, Storage] = {None: default, default.backend: default}
    for name in names - found.keys():
        other = Storage(config=default.full_config, backend=name)
        found[name] = default if other.backend == default.backend else other
    return found


def expand_obj_calls(
    items: Sequence[Mapping[str, Any]],
    storage: Storage | None,
    obj_chunk_size: int | None,
    obj_chunk_number: int | None,
    obj_newline: str | None = "\n",
) -> list[dict[str, Any]]:
    """Turn calls whose ``obj`` names objects into one call per object chunk.

    :param items: the keyword arguments of each call; each has an ``obj`` spec.
    :param storage: serves specs without a scheme (and with its backend's scheme); the default
        ``Storage()`` when ``None`` and needed.
    :param obj_chunk_size: bytes per chunk; ``obj_chunk_number`` wins when both are set.
    :param obj_chunk_number: chunks per object.
    :param obj_newline: chunk boundaries align to this separator; ``None`` splits at exact
        byte offsets.
    :returns: the calls' keyword arguments, in order: for each item, for each of its objects
        (in key order), for each chunk, a copy of the item whose ``obj`` is an
        :class:`ObjectPartition`.
    :raises NoObjectsFoundError: no spec matched any object.
    :raises StorageNoSuchKeyError: a ``bucket/key`` spec names a missing object.
    """
    _check_positive("obj_chunk_size", obj_chunk_size)
    _check_positive("obj_chunk_number", obj_chunk_number)
    if obj_newline is not None and (not isinstance(obj_newline, str) or not obj_newline):
        raise ValueError(f"obj_newline must be a non-empty string or None, got {obj_newline!r}")
    specs = []
    for n, item in enumerate(items):
        if "obj" not in item:
            raise TypeError(
                f"call {n} has no 'obj' argument, but the function takes 'obj': pass the "
                f"objects to read as iterdata (a 'bucket/key', prefix, path or URL)"
            )
        specs.append(parse_spec(item["obj"]))
    storages = _storages(specs, storage)
    descriptors = {id(s): s.worker_descriptor() for s in storages.values()}
    found = find_many(specs, storages)
    if not any(found):
        shown = ", ".join(repr(item["obj"]) for item in list(items)[:5])
        raise NoObjectsFoundError(
            f"no objects found for obj={shown}{' ...' if len(items) > 5 else ''}; check the "
            f"bucket and prefix (a prefix needs its trailing '/'), path or URL"
        )
    calls: list[dict[str, Any]] = []
    for item, objects in zip(items, found, strict=True):
        for obj in objects:
            spec = obj.spec
            st = storages.get(spec.backend) if spec.kind == "storage" else None
            if obj.size is None or not obj.ranged:
                ranges: list[tuple[int, int | None]] = [(0, None)]  # read whole, no ranges
            else:
                ranges = list(nominal_ranges(obj.size, obj_chunk_size, obj_chunk_number))
            for part, (lo, hi) in enumerate(ranges, start=1):
                desc = ObjectPartition(
                    source=spec.kind,
                    backend=st.backend if st is not None else None,
                    bucket=spec.bucket if st is not None else None,
                    key=obj.key if st is not None else "",
                    path=obj.key if spec.kind == "path" else None,
                    url=obj.key if spec.kind == "url" else None,
                    part=part,
                    total_parts=len(ranges),
                    start=lo,
                    stop=hi,
                    size=obj.size,
                    newline=obj_newline,
                    storage=descriptors[id(st)] if st is not None else None,
                )
                calls.append({**item, "obj": desc})
    return calls


# -- worker side ---------------------------------------------------------------------------


class DataObject:
    """What a function's ``obj`` parameter receives: one chunk of one object.

    Lithops attributes: ``backend``, ``bucket``, ``key`` (storage objects; for local files the
    directory and file name), ``path`` (local files), ``url`` (URLs), ``part``,
    ``total_parts``, ``chunk_size``, ``data_byte_range`` (nominal, inclusive), ``newline`` and
    ``data_stream``: a binary file object with ``read()``, ``readline()`` and line iteration.
    """

    def __init__(self, desc: ObjectPartition, data_stream: IO[bytes]) -> None:
        self.partition = desc
        self.backend = desc.backend
        self.bucket = desc.bucket
        self.key: str | None = desc.key or None
        self.path = desc.path
        self.url = desc.url
        if desc.path is not None:
            self.bucket, self.key = os.path.dirname(desc.path), os.path.basename(desc.path)
        self.part = desc.part
        self.total_parts = desc.total_parts
        self.size = desc.size
        self.newline = desc.newline
        self.chunk_size = desc.chunk_size
        self.data_byte_range = desc.data_byte_range
        self.data_stream = data_stream

    def __repr__(self) -> str:
        return f"<DataObject {self.partition.location} part {self.part}/{self.total_parts}>"


_storage_cache: dict[str, Storage] = {}
_storage_lock = threading.Lock()


def _worker_storage(desc: Mapping[str, Any] | None) -> Storage:
    # Warm workers run many calls: build each storage (and its client) once per process.
    token = repr(sorted((desc or {}).items()))
    with _storage_lock:
        storage = _storage_cache.get(token)
        if storage is None:
            storage = _storage_cache[token] = Storage.from_descriptor(desc)
    return storage


def open_partition(desc: Any) -> DataObject | Any:
    """The ``obj`` for a call, from its :class:`ObjectPartition`; other values pass through.

    Nothing is fetched until ``obj.data_stream`` is read.
    """
    if not isinstance(desc, ObjectPartition):
        return desc
    storage = _worker_storage(desc.storage) if desc.source == "storage" else None
    where = {"storage": desc.key, "path": desc.path, "url": desc.url}[desc.source] or ""
    bucket = desc.bucket or ""

    def fetch(start: int, stop: int) -> IO[bytes]:
        return open_range(desc.source, where, start, stop, storage, bucket)

    if desc.stop is None or desc.size is None:
        # Size unknown or no ranges: the object is one chunk, read as it comes.
        opener = lambda: open_range(desc.source, where, 0, None, storage, bucket)  # noqa: E731
        stream: IO[bytes] = io.BufferedReader(_LazyStream(opener), buffer_size=1 << 16)
    else:
        newline = desc.newline.encode("utf-8") if desc.newline and desc.total_parts > 1 else None
        blocks = iter_chunk(fetch, desc.start, desc.stop, desc.size, newline)
        stream = io.BufferedReader(ChunkStream(blocks), buffer_size=1 << 16)
    return DataObject(desc, stream)


class _LazyStream(io.RawIOBase):
    """Opens the underlying stream on first read."""

    def __init__(self, opener: Any) -> None:
        self._opener = opener
        self._stream: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._stream is None:
            self._stream = self._opener()
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        super().close()
