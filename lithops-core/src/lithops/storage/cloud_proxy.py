"""The configured storage backend as a file system: ``os``-like functions and ``open``.

::

    from lithops.storage.cloud_proxy import open, os

    with open("results/run1.txt", "w") as f:
        f.write("done")
    print(os.listdir("results"), os.path.getsize("results/run1.txt"))

Paths are keys of the storage's bucket (``storage_bucket`` of the backend's config section); a
leading ``/`` is optional and ``/`` separates directories. Object storage has no directories of
its own: a directory exists while some object lies under it, so :meth:`CloudFileProxy.makedirs`
only checks that no file is in the way.

The module-level ``os`` and ``open`` use the default config (config file, environment) and
build their :class:`CloudStorage` at their first use, not at import. For another config::

    proxy = CloudFileProxy(CloudStorage(config))
    with proxy.open("data.bin", "rb") as f: ...
"""

from __future__ import annotations

import errno
import io
import posixpath
import tempfile
import threading
from collections.abc import Iterator, Mapping
from typing import IO, Any

from lithops.storage.backend import buffered_reader
from lithops.storage.storage import Storage
from lithops.storage.utils import StorageNoSuchKeyError

__all__ = ["CloudFileProxy", "CloudStorage", "open", "os"]

#: Writes are kept in memory up to this size, then in a local temporary file until ``close``.
SPOOL_LIMIT = 8 << 20


class CloudStorage(Storage):
    """A :class:`~lithops.storage.Storage` built from a lithops config dict (the default
    config when ``None``)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config=config)


def _key(path: str) -> str:
    """The object key of ``path``; ``''`` for the root."""
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, not {type(path).__name__}")
    norm = posixpath.normpath("/" + path).lstrip("/")
    return "" if norm == "." else norm


def _list_keys(storage: Storage, prefix: str) -> list[str]:
    try:
        return storage.list_keys(storage.bucket, prefix or None)
    except StorageNoSuchKeyError:  # no bucket yet: nothing written
        return []


def _not_found(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory in cloud storage", path)


class _UploadOnClose(io.RawIOBase):
    """Collects written bytes in a spool and stores them as one object when closed."""

    def __init__(self, storage: Storage, bucket: str, key: str, initial: bytes = b"") -> None:
        super().__init__()
        self._storage, self._bucket, self._key = storage, bucket, key
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT)  # noqa: SIM115
        self._spool.write(initial)

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        return self._spool.write(bytes(b))

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._spool.seek(0)
            self._storage.put_object(self._bucket, self._key, self._spool)
        finally:
            self._spool.close()
            super().close()


class _Path:
    """``os.path`` of a :class:`CloudFileProxy`."""

    def __init__(self, proxy: CloudFileProxy) -> None:
        self._proxy = proxy

    join = staticmethod(posixpath.join)
    basename = staticmethod(posixpath.basename)
    dirname = staticmethod(posixpath.dirname)
    split = staticmethod(posixpath.split)
    splitext = staticmethod(posixpath.splitext)

    def isfile(self, path: str) -> bool:
        key = _key(path)
        if not key:
            return False
        storage = self._proxy.storage
        try:
            storage.head_object(storage.bucket, key)
        except StorageNoSuchKeyError:
            return False
        return True

    def isdir(self, path: str) -> bool:
        key = _key(path)
        if not key:
            return True
        storage = self._proxy.storage
        return bool(_list_keys(storage, key + "/"))

    def exists(self, path: str) -> bool:
        return self.isfile(path) or self.isdir(path)

    def getsize(self, path: str) -> int:
        key = _key(path)
        storage = self._proxy.storage
        try:
            head = storage.head_object(storage.bucket, key) if key else None
        except StorageNoSuchKeyError:
            head = None
        if head is None:
            if self.isdir(path):
                return 0
            raise _not_found(path)
        return int(head.get("content-length", head.get("ContentLength", 0)))


class CloudFileProxy:
    """``os``-like functions and ``open`` over one storage's bucket.

    :param cloud_storage: the storage to use; a :class:`CloudStorage` of the default config,
        made at first use, when ``None``.
    """

    def __init__(self, cloud_storage: Storage | None = None) -> None:
        self._storage = cloud_storage
        self._lock = threading.Lock()
        self.path = _Path(self)

    @property
    def storage(self) -> Storage:
        """The storage files live in."""
        with self._lock:
            if self._storage is None:
                self._storage = CloudStorage()
            return self._storage

    def __getstate__(self) -> dict[str, Any]:
        return {"storage": self._storage}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["storage"])  # type: ignore[misc]

    # -- directories ---------------------------------------------------------------------

    def _keys_under(self, path: str) -> tuple[str, list[str]]:
        key = _key(path)
        prefix = key + "/" if key else ""
        storage = self.storage
        return prefix, _list_keys(storage, prefix)

    def listdir(self, path: str = "") -> list[str]:
        """Names of the files and directories directly in ``path``, sorted.

        :raises FileNotFoundError: nothing lies under ``path``.
        :raises NotADirectoryError: ``path`` is a file.
        """
        prefix, keys = self._keys_under(path)
        if not keys and prefix:
            if self.path.isfile(path):
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
            raise _not_found(path)
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in keys})

    def walk(
        self, top: str = "", topdown: bool = True, onerror: Any = None, followlinks: bool = False
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """``(dirpath, dirnames, filenames)`` for ``top`` and every directory below it, from
        one listing; with ``topdown`` false, children come before their parent."""
        prefix, keys = self._keys_under(top)
        if not keys:
            if onerror is not None:
                onerror(_not_found(top))
            return
        tree: dict[str, tuple[set[str], list[str]]] = {"": (set(), [])}
        for k in keys:
            parts = k[len(prefix) :].split("/")
            for depth in range(len(parts) - 1):
                parent, child = "/".join(parts[:depth]), "/".join(parts[: depth + 1])
                tree.setdefault(parent, (set(), []))[0].add(parts[depth])
                tree.setdefault(child, (set(), []))
            tree["/".join(parts[:-1])][1].append(parts[-1])
        yield from self._walk_from(top, "", tree, topdown)

    def _walk_from(
        self, top: str, rel: str, tree: dict[str, tuple[set[str], list[str]]], topdown: bool
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        dirs, files = sorted(tree[rel][0]), sorted(tree[rel][1])
        here = posixpath.join(top, rel) if rel else top
        if topdown:
            yield here, dirs, files  # the caller may prune ``dirs`` in place, as with os.walk
        for name in dirs:
            yield from self._walk_from(top, f"{rel}/{name}" if rel else name, tree, topdown)
        if not topdown:
            yield here, dirs, files

    def makedirs(self, name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
        """Nothing to create in object storage; fails as ``os.makedirs`` does when a file is
        in the way, or when the directory exists and ``exist_ok`` is false."""
        if self.path.isfile(name):
            raise FileExistsError(errno.EEXIST, "A file exists at this path", name)
        if not exist_ok and _key(name) and self.path.isdir(name):
            raise FileExistsError(errno.EEXIST, "Directory exists", name)

    mkdir = makedirs

    def remove(self, path: str) -> None:
        """Delete the file at ``path``.

        :raises IsADirectoryError: ``path`` is a directory.
        :raises FileNotFoundError: no such file.
        """
        if not self.path.isfile(path):
            if self.path.isdir(path):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            raise _not_found(path)
        storage = self.storage
        storage.delete_object(storage.bucket, _key(path))

    unlink = remove

    # -- files ---------------------------------------------------------------------------

    def open(
        self,
        file: str,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IO[Any]:
        """Open the object at ``file`` like the built-in ``open``: modes ``r``, ``w``, ``a``
        and ``x``, each text (default) or binary (``b``). Reads stream from the storage;
        writes become the object when the file is closed (at the end of a ``with`` block)."""
        kinds = set(mode) - {"b", "t"}
        if len(kinds) != 1 or not kinds <= {"r", "w", "a", "x"} or {"b", "t"} <= set(mode):
            raise ValueError(f"invalid mode: {mode!r} (cloud files support r, w, a, x, b, t)")
        binary = "b" in mode
        if binary and (encoding or errors or newline is not None):
            raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
        key = _key(file)
        if not key or ("r" not in kinds and self.path.isdir(file) and not self.path.isfile(file)):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", file)
        storage = self.storage
        size = buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE
        stream: io.BufferedIOBase
        if "r" in kinds:
            try:
                body = storage.get_object(storage.bucket, key, stream=True)
            except StorageNoSuchKeyError:
                if self.path.isdir(file):
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", file)
                raise _not_found(file)
            if isinstance(body, bytes):
                body = io.BytesIO(body)
            stream = (
                body
                if isinstance(body, io.BufferedIOBase)
                else buffered_reader(body, buffer_size=size)
            )
        else:
            initial = b""
            if "x" in kinds and self.path.isfile(file):
                raise FileExistsError(errno.EEXIST, "File exists", file)
            if "a" in kinds:
                try:
                    initial = bytes(storage.get_object(storage.bucket, key))  # type: ignore[arg-type]
                except StorageNoSuchKeyError:
                    pass
            stream = io.BufferedWriter(
                _UploadOnClose(storage, storage.bucket, key, initial), buffer_size=size
            )
        if binary:
            return stream
        return io.TextIOWrapper(
            stream, encoding=encoding or "utf-8", errors=errors, newline=newline
        )


_default = CloudFileProxy()

#: ``os``-like functions over the default config's storage (``os.path`` included).
os = _default
#: ``open`` over the default config's storage.
open = _default.open
