"""The filesystem storage backend (``localhost``): the embedded default.

Objects are files under a root directory, buckets are its top-level directories and a key's
``/`` separators are subdirectories::

    <storage_root>/<bucket>/<key>

Config, in the ``localhost`` section::

    localhost:
        storage_root: ~/.lithops/storage   # default; ~ is expanded on the client
        storage_bucket: storage            # default bucket, the name Lithops uses

The root lives under ``~/.lithops`` rather than the system temp dir so that data a user stores
survives a reboot and a temp cleaner. Writes are atomic: a new object is written to
``<storage_root>/.tmp`` (same filesystem) and renamed into place, so a reader sees the old
object or the new one, never half of one, and listings never see the temporary file.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from typing import IO, Any

from lithops.storage.backend import Body, body_chunks, bounded_reader, parse_range
from lithops.storage.files import download_path
from lithops.storage.utils import StorageError, StorageNoSuchKeyError

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_STORAGE_ROOT",
    "LocalhostStorageBackend",
    "from_settings",
]

DEFAULT_STORAGE_ROOT = "~/.lithops/storage"
DEFAULT_BUCKET = "storage"
_TMP_DIR = ".tmp"
_BLOCK = 1 << 20


class LocalhostStorageBackend:
    """Objects as files under ``storage_root``; see the module documentation."""

    #: config keys safe to send to workers (there are no secrets in this backend)
    public_settings = ("storage_root",)

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = config or {}
        root = config.get("storage_root") or DEFAULT_STORAGE_ROOT
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.bucket = config.get("storage_bucket") or DEFAULT_BUCKET

    # -- descriptors ----------------------------------------------------------------------

    def default_bucket(self) -> str:
        return self.bucket

    def worker_descriptor(self) -> dict[str, Any]:
        return {"factory": f"{__name__}:from_settings", "settings": {"storage_root": self.root}}

    def get_client(self) -> LocalhostStorageBackend:
        # There is no SDK client behind a directory; the backend itself is the closest thing.
        return self

    # -- paths ----------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> str:
        if not bucket or "/" in bucket or "\\" in bucket or bucket.startswith("."):
            raise StorageError(
                f"invalid bucket name {bucket!r}: a bucket is one directory name under "
                f"{self.root} and must not be empty, contain '/' or start with '.'"
            )
        return os.path.join(self.root, bucket)

    def _path(self, bucket: str, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in (".", "..") for p in parts):
            raise StorageError(
                f"invalid key {key!r}: keys are relative paths inside the bucket and must not "
                f"be empty, start with '/' or contain '.' or '..' components"
            )
        return os.path.join(self._bucket_dir(bucket), *parts)

    def _file(self, bucket: str, key: str) -> str:
        path = self._path(bucket, key)
        if not os.path.isfile(path):
            raise StorageNoSuchKeyError(
                bucket,
                key,
                where=f"localhost storage at {self.root}",
                missing_bucket=not os.path.isdir(self._bucket_dir(bucket)),
            )
        return path

    # -- writes ---------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        os.makedirs(self._bucket_dir(bucket), exist_ok=True)

    def put_object(self, bucket: str, key: str, body: Body) -> None:
        if key.endswith("/"):
            # An S3 "folder marker": a directory here, with nothing to store in it.
            if any(body_chunks(body)):
                raise StorageError(
                    f"key {key!r} ends with '/', which names a folder in localhost storage; "
                    f"it cannot hold data. Drop the trailing '/'"
                )
            os.makedirs(self._path(bucket, key.rstrip("/")), exist_ok=True)
            return
        path = self._path(bucket, key)
        tmp_dir = os.path.join(self.root, _TMP_DIR)
        os.makedirs(tmp_dir, exist_ok=True)
        import tempfile  # lazily, like shutil below: not on a client's cold path

        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        try:
            with os.fdopen(fd, "wb") as out:
                for block in body_chunks(body):
                    out.write(block)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(tmp, path)
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
                raise StorageError(
                    f"cannot store key {key!r} in bucket {bucket!r}: localhost storage keeps "
                    f"keys as files, and a file and a folder of the same name clash ({exc})"
                ) from exc
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def delete_object(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key.rstrip("/") or key)
        try:
            if os.path.isdir(path):
                os.rmdir(path)  # a folder marker; only when empty, as on S3
            else:
                os.unlink(path)
        except (FileNotFoundError, OSError):
            pass
        self._prune(bucket, os.path.dirname(path))

    def _prune(self, bucket: str, directory: str) -> None:
        # Folders exist only to hold keys: drop the ones a delete left empty, not the bucket.
        top = self._bucket_dir(bucket)
        while directory.startswith(top + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def delete_objects(self, bucket: str, key_list: list[str]) -> None:
        for key in key_list:
            self.delete_object(bucket, key)

    # -- reads ----------------------------------------------------------------------------

    def get_object(
        self,
        bucket: str,
        key: str,
        stream: bool = False,
        extra_get_args: Mapping[str, Any] | None = None,
    ) -> bytes | IO[bytes]:
        path = self._file(bucket, key)
        rng = (extra_get_args or {}).get("Range")
        try:
            f = open(path, "rb")  # noqa: SIM115 - returned open when streaming
        except FileNotFoundError:  # deleted between the check and the open
            raise StorageNoSuchKeyError(bucket, key, where=f"localhost storage at {self.root}")
        if rng is None:
            if stream:
                return f
            with f:
                return f.read()
        size = os.fstat(f.fileno()).st_size
        start, stop = parse_range(str(rng), size)
        f.seek(start)
        if not stream:
            with f:
                return f.read(stop - start)
        return bounded_reader(f, stop - start)

    def download_file(
        self,
        bucket: str,
        key: str,
        file_name: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        src = self._file(bucket, key)
        import shutil  # lazily: shutil brings bz2 and lzma, not on a client's cold path

        shutil.copyfile(src, download_path(key, file_name))
        return True

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        import datetime as _dt
        import email.utils  # email is a package of 15 modules: not on a client's cold path

        st = os.stat(self._file(bucket, key))
        modified = _dt.datetime.fromtimestamp(st.st_mtime, tz=_dt.timezone.utc)
        # Not a content hash (that would read the whole file): changes when the file does.
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
        return {
            "content-length": str(st.st_size),
            "last-modified": email.utils.format_datetime(modified, usegmt=True),
            "etag": etag,
            "ContentLength": st.st_size,
            "LastModified": modified,
            "ETag": etag,
        }

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        if not os.path.isdir(self._bucket_dir(bucket)):
            raise StorageNoSuchKeyError(bucket, where=f"localhost storage at {self.root}")
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def list_objects(
        self, bucket: str, prefix: str | None = None, match_pattern: str | None = None
    ) -> list[dict[str, Any]]:
        import datetime as _dt

        found = []
        for key, path in self._walk(bucket, prefix or ""):
            if match_pattern is not None and not fnmatch.fnmatchcase(key, match_pattern):
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:  # deleted while listing
                continue
            found.append(
                {
                    "Key": key,
                    "Size": st.st_size,
                    "LastModified": _dt.datetime.fromtimestamp(st.st_mtime, tz=_dt.timezone.utc),
                    "ETag": f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
                }
            )
        return found

    def list_keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        return [key for key, _ in self._walk(bucket, prefix or "")]

    def _walk(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        top = self._bucket_dir(bucket)
        if not os.path.isdir(top):
            raise StorageNoSuchKeyError(bucket, where=f"localhost storage at {self.root}")
        # Only descend into the folder the prefix names, not the whole bucket.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(top, *base.split("/")) if base else top
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel = os.path.relpath(dirpath, top)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in filenames:
                key = rel + name
                if key.startswith(prefix):
                    found.append((key, os.path.join(dirpath, name)))
        found.sort()
        return found


def from_settings(settings: Mapping[str, Any]) -> LocalhostStorageBackend:
    """The worker-side factory named in :meth:`LocalhostStorageBackend.worker_descriptor`."""
    return LocalhostStorageBackend(settings)
