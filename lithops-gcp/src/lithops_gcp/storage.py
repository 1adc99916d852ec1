"""The ``gcp_storage`` backend: the whole ``lithops.Storage`` API on Google Cloud Storage.

Config (``gcp_storage`` section, with the ``gcp`` section's keys as defaults)::

    gcp_storage:
        storage_bucket: my-bucket   # default: lithops-<project>-<region>, created when missing
        region: us-east1            # where a created bucket lives (default: the gcp section's)
        api_endpoint: http://...    # default: STORAGE_EMULATOR_HOST, else Google's

Objects above 8 MiB, and every stream of unknown length, upload resumably in 8 MiB chunks;
``get_object`` honours ``Range`` and streams without reading the object into memory;
listings page through every result.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import threading
from collections.abc import Mapping
from typing import IO, Any

import google.api_core.exceptions as gexc
from google.cloud import storage as gcs  # type: ignore[attr-defined]

from lithops.storage.backend import (
    Body,
    body_bytes,
    body_chunks,
    bounded_reader,
    ensure_bucket,
    filter_listing,
    parse_range,
    range_bounds,
)
from lithops.storage.files import download_path, upload_key
from lithops.storage.utils import StorageError, StorageNoSuchKeyError
from lithops_gcp.auth import identity

__all__ = ["GcsStorageBackend", "from_settings", "storage_endpoint"]

NAME = "gcp_storage"
#: resumable uploads above this size, in chunks of this size (a multiple of 256 KiB)
RESUMABLE_CHUNK = 8 << 20
_DEFAULT_REGION = "us-east1"
_DELETE_THREADS = 16
_PAGE_SIZE = 1000


def storage_endpoint(settings: Mapping[str, Any]) -> str | None:
    """The overridden endpoint: ``api_endpoint``, else ``STORAGE_EMULATOR_HOST``, else None."""
    endpoint = str(settings.get("api_endpoint") or os.environ.get("STORAGE_EMULATOR_HOST") or "")
    if endpoint and "://" not in endpoint:
        endpoint = "http://" + endpoint  # the emulator variable is often given as host:port
    return endpoint.rstrip("/") or None


class GcsStorageBackend:
    """Objects in Cloud Storage buckets; see the module documentation."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(config or {})
        self.endpoint = storage_endpoint(self.settings)
        self.identity = identity(self.settings, NAME, self.endpoint)
        self.region = str(self.settings.get("region") or _DEFAULT_REGION)
        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        self.client = gcs.Client(
            project=self.identity.project or "lithops",
            credentials=self.identity.credentials,
            client_options=options,
        )
        self.bucket: str | None = self.settings.get("storage_bucket") or None
        self._default_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<GcsStorageBackend project={self.identity.project} endpoint={self._where()}>"

    def _where(self) -> str:
        return self.endpoint or "storage.googleapis.com"

    # -- descriptors ----------------------------------------------------------------------

    def default_bucket(self) -> str:
        """``storage_bucket``, else ``lithops-<project>-<region>``, created when missing."""
        with self._default_lock:
            if self.bucket:
                return self.bucket
            if not self.identity.project:
                raise StorageError(
                    "gcp_storage has no storage_bucket and no project to name one after: set "
                    "storage_bucket in the gcp_storage section (or project_name in the gcp "
                    "section)"
                )
            bucket = f"lithops-{self.identity.project}-{self.region}".lower()[:63]
            ensure_bucket(self, bucket)
            self.bucket = bucket
            return bucket

    def worker_descriptor(self) -> dict[str, Any]:
        # No credentials: functions use their service account. An explicit endpoint travels
        # (the worker's environment may not have STORAGE_EMULATOR_HOST).
        settings: dict[str, Any] = {"region": self.region}
        if self.identity.project:
            settings["project_name"] = self.identity.project
        if self.endpoint:
            settings["api_endpoint"] = self.endpoint
        return {"factory": f"{__name__}:from_settings", "settings": settings}

    def get_client(self) -> gcs.Client:
        return self.client

    # -- errors ---------------------------------------------------------------------------

    def _fail(self, exc: Exception, bucket: str, key: str = "", what: str = "") -> Exception:
        if isinstance(exc, gexc.NotFound):
            message = str(getattr(exc, "message", exc)).lower()
            return StorageNoSuchKeyError(
                bucket,
                key,
                where=f"Cloud Storage at {self._where()}",
                missing_bucket=not key or "bucket" in message,
            )
        return StorageError(
            f"Cloud Storage {what or 'request'} of {bucket}/{key} failed: {exc}. Check the "
            f"bucket name and that the credentials may use it (project {self.identity.project})"
        )

    def _blob(self, bucket: str, key: str, upload: bool = False) -> gcs.Blob:
        blob = self.client.bucket(bucket).blob(key)
        if upload:
            # Uploads above the chunk go resumable; downloads stay one request each.
            blob.chunk_size = RESUMABLE_CHUNK
        return blob

    # -- writes ---------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        try:
            self.client.create_bucket(bucket, location=self.region)
        except gexc.Conflict:
            self.head_bucket(bucket)  # someone else's bucket: fail unless we can read it
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, what="bucket creation") from exc

    def put_object(self, bucket: str, key: str, body: Body) -> None:
        blob = self._blob(bucket, key, upload=True)
        try:
            data = body_bytes(body)
            if data is not None:
                blob.upload_from_string(data, content_type="application/octet-stream")
            else:
                # A stream of unknown length: a resumable upload, one chunk at a time.
                with blob.open(
                    "wb", chunk_size=RESUMABLE_CHUNK, content_type="application/octet-stream"
                ) as writer:
                    for block in body_chunks(body):
                        writer.write(block)
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, key, "upload") from exc

    def upload_file(
        self,
        file_name: str,
        bucket: str,
        key: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        key = upload_key(file_name, key)
        blob = self._blob(bucket, key, upload=True)
        try:
            blob.upload_from_filename(file_name, **dict(extra_args or {}))
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, key, "upload") from exc
        return True

    def download_file(
        self,
        bucket: str,
        key: str,
        file_name: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        dest = download_path(key, file_name)
        try:
            self._blob(bucket, key).download_to_filename(dest, **dict(extra_args or {}))
        except gexc.GoogleAPIError as exc:
            if os.path.exists(dest) and not os.path.getsize(dest):
                os.unlink(dest)  # the library leaves an empty file behind
            raise self._fail(exc, bucket, key, "download") from exc
        return True

    # -- reads ----------------------------------------------------------------------------

    def get_object(
        self,
        bucket: str,
        key: str,
        stream: bool = False,
        extra_get_args: Mapping[str, Any] | None = None,
    ) -> bytes | IO[bytes]:
        args = dict(extra_get_args or {})
        value = args.pop("Range", None)
        try:
            if stream:
                return self._open(bucket, key, value)
            blob = self._blob(bucket, key)
            if value is None:
                return bytes(blob.download_as_bytes(**args))
            start, end = _range_arguments(value)
            try:
                return bytes(blob.download_as_bytes(start=start, end=end, **args))
            except gexc.RequestRangeNotSatisfiable:
                # A range starting at or past the end: empty, as the storage contract says.
                self.head_object(bucket, key)
                return b""
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, key, "download") from exc

    def _open(self, bucket: str, key: str, value: str | None) -> IO[bytes]:
        blob = self.client.bucket(bucket).get_blob(key)
        if blob is None:
            raise StorageNoSuchKeyError(bucket, key, where=f"Cloud Storage at {self._where()}")
        size = int(blob.size or 0)
        start, stop = parse_range(value, size) if value else (0, size)
        if start >= stop:
            return io.BytesIO(b"")
        # Read ahead no further than the range (a partition is often much smaller than 8 MiB).
        chunk = max(256 << 10, min(stop - start, RESUMABLE_CHUNK))
        reader = blob.open("rb", chunk_size=chunk)
        reader.seek(start)
        return bounded_reader(reader, stop - start)

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        try:
            blob = self.client.bucket(bucket).get_blob(key)
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, key, "metadata request") from exc
        if blob is None:
            raise StorageNoSuchKeyError(bucket, key, where=f"Cloud Storage at {self._where()}")
        size = int(blob.size or 0)
        return {
            "content-length": str(size),
            "content-type": blob.content_type or "",
            "etag": blob.etag or "",
            "ContentLength": size,
            "LastModified": blob.updated,
            "ETag": blob.etag,
            "ContentType": blob.content_type,
            "Metadata": dict(blob.metadata or {}),
            "generation": blob.generation,
        }

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        try:
            found = self.client.get_bucket(bucket)
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, what="bucket lookup") from exc
        return {
            "name": found.name,
            "location": found.location,
            "x-goog-project": found.project_number,
        }

    def list_objects(
        self, bucket: str, prefix: str | None = None, match_pattern: str | None = None
    ) -> list[dict[str, Any]]:
        try:
            blobs = self.client.list_blobs(bucket, prefix=prefix or None, page_size=_PAGE_SIZE)
            found = [
                {
                    "Key": blob.name,
                    "Size": int(blob.size or 0),
                    "LastModified": blob.updated,
                    "ETag": blob.etag,
                }
                for blob in blobs
            ]
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, what="listing") from exc
        return filter_listing(found, match_pattern)

    def list_keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        return [item["Key"] for item in self.list_objects(bucket, prefix)]

    # -- deletes --------------------------------------------------------------------------

    def delete_object(self, bucket: str, key: str) -> None:
        try:
            self.client.bucket(bucket).delete_blob(key)
        except gexc.NotFound:
            pass
        except gexc.GoogleAPIError as exc:
            raise self._fail(exc, bucket, key, "delete") from exc

    def delete_objects(self, bucket: str, key_list: list[str]) -> None:
        if len(key_list) <= 1:
            for key in key_list:
                self.delete_object(bucket, key)
            return
        with concurrent.futures.ThreadPoolExecutor(min(_DELETE_THREADS, len(key_list))) as pool:
            for done in pool.map(lambda key: self.delete_object(bucket, key), key_list):
                del done


def _range_arguments(value: str) -> tuple[int | None, int | None]:
    """``download_as_bytes``' ``start``/``end`` (inclusive, negative for a suffix)."""
    first, last = range_bounds(value)
    if first is None:
        return -(last or 0), None
    return first, last


def from_settings(settings: Mapping[str, Any]) -> GcsStorageBackend:
    """The worker factory named by :meth:`GcsStorageBackend.worker_descriptor`."""
    return GcsStorageBackend(settings)
