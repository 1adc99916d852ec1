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
  parses them for you. The partitioner reads object chunks this way.
* ``list_objects`` returns dicts with at least ``Key`` and ``Size`` (bytes), sorted by key.
* Workers build the backend **without** the plugin host (no entry-point scan on a cold start):
  implement ``worker_descriptor()`` returning ``{"factory": "pkg.module:function",
  "settings": {...}}``. The worker calls ``function(settings)`` to get the backend. Put only
  non-secret settings there (endpoint, region, root directory); credentials come from where the
  platform provides them on the worker (environment, instance role). A backend without
  ``worker_descriptor`` may instead list its non-secret config keys in a ``public_settings``
  class attribute; its class is then called with those settings.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import IO, Any, Protocol, runtime_checkable

from lithops.storage.utils import StorageError

__all__ = ["Body", "StorageBackend", "body_chunks", "bounded_reader", "parse_range"]

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


def parse_range(value: str, size: int) -> tuple[int, int]:
    """Parse an HTTP/S3 ``Range`` value against an object of ``size`` bytes.

    :returns: ``(start, stop)`` with ``stop`` exclusive, clamped to the object. A range that
        starts at or past the end gives an empty ``(size, size)`` rather than an error, so
        readers of chunks near the end need no special case.
    :raises StorageError: the value is not a single ``bytes=`` range.
    """
    m = _RANGE.match(value)
    if not m or (not m.group(1) and not m.group(2)):
        raise StorageError(
            f"unsupported Range {value!r}: use one range of the form 'bytes=first-last', "
            f"'bytes=first-' or 'bytes=-suffix_length'"
        )
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        return max(0, size - n), size
    start = int(first)
    stop = size if not last else min(size, int(last) + 1)
    if last and int(last) < start:
        raise StorageError(f"invalid Range {value!r}: the last byte is before the first")
    start = min(start, size)
    return start, max(start, stop)


def body_chunks(body: Body, block: int = 1 << 20) -> Any:
    """Yield ``body`` as bytes blocks, whatever form ``put_object`` was given it in."""
    if isinstance(body, str):
        yield body.encode("utf-8")
        return
    if isinstance(body, (bytes, bytearray, memoryview)):
        yield bytes(body)
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


class _Bounded(io.RawIOBase):
    """At most ``limit`` bytes of a stream, from where it is positioned; closing closes it."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        data = self._stream.read(min(len(view), self._left))
        n = len(data)
        view[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def bounded_reader(stream: IO[bytes], limit: int) -> io.BufferedReader:
    """A buffered file object giving the next ``limit`` bytes of ``stream`` and then EOF.

    Backends use it to answer a ranged ``get_object(stream=True)`` without reading the range
    into memory.
    """
    return io.BufferedReader(_Bounded(stream, limit))
