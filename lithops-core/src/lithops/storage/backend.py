"""The interface a storage plugin implements, and small helpers every backend needs.

Writing a storage backend
-------------------------

A storage backend is a class with the methods of :class:`StorageBackend`. Announce it from your
plugin module and build it in ``lithops_storage_backend``::

    from lithops.plugins import hookimpl
    from lithops.plugins.types import BackendInfo, BackendKind

    @hookimpl
    def lithops_register_backends(register):
        register(BackendInfo(name="mystore", kind=BackendKind.STORAGE,
                             config_keys={"endpoint": "service URL", "secret_key": "password"}))

    @hookimpl
    def lithops_storage_backend(name, config):
        if name != "mystore":
            return None
        return MyStore(config)

``config`` is the backend's config section (``config["mystore"]``) plus ``storage_bucket``.

Rules the core relies on:

* A missing object or bucket raises :class:`~lithops.storage.utils.StorageNoSuchKeyError`
  (``get_object``, ``head_object``, ``head_bucket``); deleting a missing object is not an error.
* ``get_object(..., extra_get_args={"Range": "bytes=a-b"})`` returns bytes ``a..b`` inclusive
  (``b`` past the end is clamped); ``bytes=a-`` and ``bytes=-n`` work too. :func:`parse_range`
  parses them for you (:func:`range_bounds` when the size is not known yet). The partitioner
  reads object chunks this way.
* ``list_objects`` returns dicts with at least ``Key`` and ``Size`` (bytes), sorted by key;
  :func:`filter_listing` applies ``match_pattern`` and the order.
* Workers build the backend **without** the plugin host (no entry-point scan on a cold start):
  implement ``worker_descriptor()`` returning ``{"factory": "pkg.module:function",
  "settings": {...}}``. The worker calls ``function(settings)`` to get the backend. Put only
  non-secret settings there (endpoint, region, root directory); credentials come from where the
  platform provides them on the worker (environment, instance role). A backend without
  ``worker_descriptor`` may instead list its non-secret config keys in a ``public_settings``
  class attribute; its class is then called with those settings.
"""

from __future__ import annotations

import fnmatch
import io
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any, Protocol, runtime_checkable

from lithops.storage.utils import StorageError, StorageNoSuchKeyError

__all__ = [
    "Body",
    "StorageBackend",
    "body_bytes",
    "body_chunks",
    "body_reader",
    "bounded_reader",
    "buffered_reader",
    "ensure_bucket",
    "filter_listing",
    "parse_range",
    "range_bounds",
]

#: What ``put_object`` accepts: bytes-like, text (stored as UTF-8) or a readable file object.
Body = bytes | bytearray | memoryview | str | IO[bytes] | IO[str]


@runtime_checkable
class StorageBackend(Protocol):
    """The methods a storage backend provides. ``Storage`` forwards the public API to them.

    Optional methods, looked up with ``getattr`` by the core: ``create_bucket(bucket)``,
    ``upload_file(file_name, bucket, key, extra_args, config)``,
    ``download_file(bucket, key, file_name, extra_args, config)``, ``get_client()``,
    ``default_bucket() -> str`` (used when no ``storage_bucket`` is configured) and
    ``worker_descriptor() -> dict`` (see the module documentation).
    """

    def put_object(self, bucket: str, key: str, body: Body) -> None:
        """Store ``body`` under ``key``, replacing any object there."""

    def get_object(
        self,
        bucket: str,
        key: str,
        stream: bool = False,
        extra_get_args: Mapping[str, Any] | None = None,
    ) -> bytes | IO[bytes]:
        """The object's bytes, or a readable binary file object when ``stream`` is true.

        :param extra_get_args: backend arguments; ``{"Range": "bytes=a-b"}`` must be honoured.
        :raises StorageNoSuchKeyError: no such bucket or key.
        """

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """Metadata of an object: at least ``content-length`` (a string of the size in bytes,
        as S3 returns it); also ``ContentLength``, ``LastModified`` and ``ETag`` where known.

        :raises StorageNoSuchKeyError: no such bucket or key.
        """

    def delete_object(self, bucket: str, key: str) -> None:
        """Remove one object; a missing object is not an error."""

    def delete_objects(self, bucket: str, key_list: list[str]) -> None:
        """Remove several objects; missing ones are not an error."""

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        """Succeed when the bucket exists and is readable.

        :raises StorageNoSuchKeyError: no such bucket.
        """

    def list_objects(
        self, bucket: str, prefix: str | None = None, match_pattern: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects whose key starts with ``prefix``, sorted by key.

        :param match_pattern: optional shell-style pattern (``*``, ``?``) the whole key must
            match.
        :returns: dicts with at least ``Key`` and ``Size``.
        """

    def list_keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        """Keys starting with ``prefix``, sorted."""


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def range_bounds(value: str) -> tuple[int | None, int | None]:
    """Parse an HTTP/S3 ``Range`` value without knowing the object's size.

    :returns: ``(first, last)``, both inclusive: ``last`` is ``None`` for ``bytes=first-``;
        ``first`` is ``None`` for a suffix ``bytes=-n`` (``last`` is then ``n``, the length).
    :raises StorageError: the value is not a single ``bytes=`` range, or its last byte is
        before its first.
    """
    m = _RANGE.match(value)
    if not m or (not m.group(1) and not m.group(2)):
        raise StorageError(
            f"unsupported Range {value!r}: use one range of the form 'bytes=first-last', "
            f"'bytes=first-' or 'bytes=-suffix_length'"
        )
    first = int(m.group(1)) if m.group(1) else None
    last = int(m.group(2)) if m.group(2) else None
    if first is not None and last is not None and last < first:
        raise StorageError(f"invalid Range {value!r}: the last byte is before the first")
    return first, last


def parse_range(value: str, size: int) -> tuple[int, int]:
    """Parse an HTTP/S3 ``Range`` value against an object of ``size`` bytes.

    :returns: ``(start, stop)`` with ``stop`` exclusive, clamped to the object. A range that
        starts at or past the end gives an empty ``(size, size)`` rather than an error, so
        readers of chunks near the end need no special case.
    :raises StorageError: the value is not a single ``bytes=`` range.
    """
    first, last = range_bounds(value)
    if first is None:  # suffix: the last N bytes
        return max(0, size - (last or 0)), size
    stop = size if last is None else min(size, last + 1)
    start = min(first, size)
    return start, max(start, stop)


def filter_listing(
    objects: Iterable[dict[str, Any]], match_pattern: str | None = None
) -> list[dict[str, Any]]:
    """What ``list_objects`` returns of a backend's raw listing: the objects whose ``Key``
    matches ``match_pattern`` (shell-style, the whole key; every object when ``None``),
    sorted by key."""
    found = [
        item
        for item in objects
        if not match_pattern or fnmatch.fnmatchcase(item["Key"], match_pattern)
    ]
    found.sort(key=lambda item: item["Key"])
    return found


def ensure_bucket(backend: Any, bucket: str) -> None:
    """Make sure ``bucket`` exists: ``head_bucket``, and ``create_bucket`` when it is missing
    (how backends make the default bucket they name themselves)."""
    try:
        backend.head_bucket(bucket)
    except StorageNoSuchKeyError:
        backend.create_bucket(bucket)


def body_bytes(body: Body) -> bytes | None:
    """``body`` as bytes when it is bytes-like or text (text as UTF-8); ``None`` for a file
    object, which a backend reads with :func:`body_chunks` or :func:`body_reader`."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    return None


def body_chunks(body: Body, block: int = 1 << 20) -> Any:
    """Yield ``body`` as bytes blocks, whatever form ``put_object`` was given it in."""
    data = body_bytes(body)
    if data is not None:
        yield data
        return
    read = getattr(body, "read", None)
    if read is None:
        raise StorageError(
            f"cannot store a {type(body).__name__}: put_object takes bytes, str or a readable "
            f"file object (serialize other values first, e.g. with pickle)"
        )
    while True:
        data = read(block)
        if not data:
            return
        yield data.encode("utf-8") if isinstance(data, str) else bytes(data)


def body_reader(body: Body) -> io.BufferedReader:
    """A readable binary file object over ``body``, whatever form ``put_object`` was given it
    in (for SDK uploads that take a file object)."""
    from lithops.storage.chunks import ChunkStream  # lazily: not on a localhost client's path

    return io.BufferedReader(ChunkStream(body_chunks(body)))


class _Bounded(io.RawIOBase):
    """At most ``limit`` bytes of a stream (all of it when ``None``), from where it is
    positioned; closing closes it."""

    def __init__(self, stream: Any, limit: int | None) -> None:
        self._stream = stream
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left is not None and self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        want = len(view) if self._left is None else min(len(view), self._left)
        data = self._stream.read(want)
        n = len(data)
        view[:n] = data
        if self._left is not None:
            self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        super().close()


def bounded_reader(stream: IO[bytes], limit: int) -> io.BufferedReader:
    """A buffered file object giving the next ``limit`` bytes of ``stream`` and then EOF.

    Backends use it to answer a ranged ``get_object(stream=True)`` without reading the range
    into memory.
    """
    return io.BufferedReader(_Bounded(stream, limit))


def buffered_reader(stream: Any, buffer_size: int = io.DEFAULT_BUFFER_SIZE) -> io.BufferedReader:
    """A real buffered binary file (``readline``, iteration, ``close``) over any object with
    ``read(n)``, such as an SDK's streaming response body; closing it closes ``stream``."""
    return io.BufferedReader(_Bounded(stream, None), buffer_size=buffer_size)
