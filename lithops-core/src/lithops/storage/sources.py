"""Where the objects of an ``obj`` argument live: parse the spec, list and size the objects
(client side), and fetch byte ranges of one object (worker side).

Accepted specs (a string, or a Lithops ``CloudObject``/``CloudObjectUrl``/``CloudObjectLocal``):

* ``bucket``, ``bucket/``, ``bucket/prefix/``: every object under it;
* ``bucket/key``: one object (when no such key exists but ``key/`` is a folder, that folder);
* ``bucket/logs/*.csv``: the keys matching a shell pattern;
* any of those with a scheme, ``localhost://bucket/key`` or ``s3://bucket/key``, to read from
  another storage backend than the default (``s3`` -> ``aws_s3``, ``gcs``/``gs`` ->
  ``gcp_storage``, ``cos`` -> ``ibm_cos``, or any backend name or alias);
* ``/abs/path/file`` or ``file:///abs/path``: a local file; a directory means the files in it;
* ``http://...`` / ``https://...``: one object, split with ranged GETs when the server
  accepts ranges (``Accept-Ranges: bytes`` on HEAD), else one chunk.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from lithops.storage.backend import bounded_reader
from lithops.storage.utils import (
    CloudObject,
    CloudObjectLocal,
    CloudObjectUrl,
    StorageError,
    StorageNoSuchKeyError,
)

if TYPE_CHECKING:
    from lithops.storage.storage import Storage

__all__ = [
    "SCHEME_ALIASES",
    "FoundObject",
    "ObjectSpec",
    "find_many",
    "find_objects",
    "open_range",
    "parse_spec",
]

#: URL schemes that are not backend names (the names Lithops users write).
SCHEME_ALIASES = {"s3": "aws_s3", "gcs": "gcp_storage", "gs": "gcp_storage", "cos": "ibm_cos"}

_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_GLOB = re.compile(r"[*?\[]")
_HTTP_TIMEOUT = 60.0


@dataclass(frozen=True)
class ObjectSpec:
    """One parsed ``obj`` value. ``kind`` is ``storage``, ``path`` or ``url``."""

    kind: str
    backend: str | None = None  # storage: the scheme's backend, None for the default storage
    bucket: str = ""
    key: str = ""  # storage: a key, a prefix ending in '/', a pattern, or '' (whole bucket)
    path: str = ""
    url: str = ""


@dataclass(frozen=True)
class FoundObject:
    """One object to partition, with its size (``None`` when a server did not say)."""

    spec: ObjectSpec
    key: str  # storage key; the path or URL for other kinds
    size: int | None
    ranged: bool = True


def parse_spec(value: Any) -> ObjectSpec:
    """Parse one ``obj`` value; see the module documentation for the forms."""
    if isinstance(value, CloudObject):
        return ObjectSpec("storage", backend=value.backend, bucket=value.bucket, key=value.key)
    if isinstance(value, CloudObjectUrl):
        return ObjectSpec("url", url=value.url)
    if isinstance(value, CloudObjectLocal):
        return ObjectSpec("path", path=value.path)
    if isinstance(value, os.PathLike):
        return ObjectSpec("path", path=os.fspath(value))
    if not isinstance(value, str) or not value:
        raise TypeError(
            f"cannot read objects from obj={value!r}: give 'bucket/key', 'bucket/prefix/', "
            f"'backend://bucket/key', a local absolute path or an http(s) URL"
        )
    if value.startswith(("http://", "https://")):
        return ObjectSpec("url", url=value)
    if value.startswith("file://"):
        return ObjectSpec("path", path=value[len("file://") :])
    if value.startswith("/") or _WINDOWS_PATH.match(value):
        return ObjectSpec("path", path=value)
    backend = None
    if "://" in value:
        scheme, value = value.split("://", 1)
        backend = SCHEME_ALIASES.get(scheme, scheme)
    bucket, _, key = value.partition("/")
    if not bucket:
        raise ValueError(f"obj={value!r} names no bucket: write 'bucket/key' or 'bucket/prefix/'")
    return ObjectSpec("storage", backend=backend, bucket=bucket, key=key)


# -- client side: list and size ----------------------------------------------------------


def find_objects(spec: ObjectSpec, storage: Storage | None) -> list[FoundObject]:
    """The objects ``spec`` names, in key order. ``storage`` serves ``storage`` specs."""
    if spec.kind == "path":
        return _find_paths(spec)
    if spec.kind == "url":
        return [_head_url(spec)]
    assert storage is not None
    return _find_in_storage(spec, storage)


def _find_paths(spec: ObjectSpec) -> list[FoundObject]:
    path = os.path.abspath(os.path.expanduser(spec.path))
    if os.path.isdir(path):
        # Only the files directly inside, as Lithops does; sorted so parts are deterministic.
        names = sorted(os.listdir(path))
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
    elif os.path.isfile(path):
        files = [path]
    else:
        raise FileNotFoundError(f"obj={spec.path!r}: no such file or directory on this machine")
    return [FoundObject(spec, f, os.stat(f).st_size) for f in files]


def _find_in_storage(spec: ObjectSpec, storage: Storage) -> list[FoundObject]:
    bucket, key = spec.bucket, spec.key
    if key and not key.endswith("/") and not _GLOB.search(key):
        try:
            head = storage.head_object(bucket, key)
        except StorageNoSuchKeyError:
            # 'bucket/folder' where the user meant 'bucket/folder/'
            listed = storage.list_objects(bucket, key + "/")
            if not listed:
                raise
            return _listed(spec, listed)
        return [FoundObject(spec, key, _content_length(head, bucket, key))]
    pattern = None
    prefix = key
    glob = _GLOB.search(key)
    if glob is not None:
        pattern, prefix = key, key[: glob.start()]
    listed = storage.list_objects(bucket, prefix or None)
    if pattern is not None:
        listed = [o for o in listed if fnmatch.fnmatchcase(o["Key"], pattern)]
    return _listed(spec, listed)


def _listed(spec: ObjectSpec, listed: list[dict[str, Any]]) -> list[FoundObject]:
    # Keys ending in '/' are folder markers, not data.
    return [
        FoundObject(spec, o["Key"], int(o["Size"])) for o in listed if not o["Key"].endswith("/")
    ]


def _content_length(head: Mapping[str, Any], bucket: str, key: str) -> int:
    for name in ("content-length", "ContentLength", "Content-Length"):
        if head.get(name) is not None:
            return int(head[name])
    raise StorageError(
        f"the storage backend reported no size (content-length) for {key!r} in bucket "
        f"{bucket!r}, so it cannot be partitioned; report this to the backend's authors"
    )


def _open_url(request: urllib.request.Request) -> Any:
    try:
        return urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT)
    except (urllib.error.URLError, OSError) as exc:
        raise StorageError(
            f"cannot read {request.full_url} ({request.get_method()}): {exc}; check the URL "
            f"and that the server is reachable from here"
        ) from exc


def _head_url(spec: ObjectSpec) -> FoundObject:
    with _open_url(urllib.request.Request(spec.url, method="HEAD")) as resp:
        length = resp.headers.get("Content-Length")
        ranges = (resp.headers.get("Accept-Ranges") or "").lower()
    size = int(length) if length is not None else None
    return FoundObject(spec, spec.url, size, ranged=size is not None and "bytes" in ranges)


def find_many(
    specs: list[ObjectSpec], storages: Mapping[str | None, Storage]
) -> list[list[FoundObject]]:
    """:func:`find_objects` for several specs, concurrently (each may be a round trip)."""
    if len(specs) <= 1:
        return [find_objects(s, storages.get(s.backend)) for s in specs]
    with ThreadPoolExecutor(min(16, len(specs))) as pool:
        return list(pool.map(lambda s: find_objects(s, storages.get(s.backend)), specs))


# -- worker side: fetch a byte range -------------------------------------------------------


def open_range(
    kind: str, where: str, start: int, stop: int | None, storage: Storage | None, bucket: str = ""
) -> IO[bytes]:
    """A stream of bytes ``[start, stop)`` of one object (``stop=None``: to the end).

    :param where: the key (``storage``), path (``path``) or URL (``url``).
    """
    whole = start == 0 and stop is None
    if kind == "path":
        f = open(where, "rb")  # noqa: SIM115 - the caller closes the stream
        if whole:
            return f
        f.seek(start)
        return f if stop is None else bounded_reader(f, stop - start)
    if kind == "url":
        return _get_url(where, start, stop)
    assert storage is not None
    args = {} if whole else {"Range": f"bytes={start}-" + ("" if stop is None else str(stop - 1))}
    got = storage.get_object(bucket, where, stream=True, extra_get_args=args)
    if isinstance(got, (bytes, bytearray)):
        return io.BytesIO(got)
    return got


def _get_url(url: str, start: int, stop: int | None) -> IO[bytes]:
    headers = {}
    if start or stop is not None:
        headers["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))
    resp = _open_url(urllib.request.Request(url, headers=headers))
    if headers and resp.status != 206:
        # The server ignored the range and sends the whole object: skip to ours.
        left = start
        while left:
            skipped = resp.read(min(left, 1 << 20))
            if not skipped:
                break
            left -= len(skipped)
    if stop is None:
        return resp
    return bounded_reader(resp, stop - start)
