"""The ``aws_s3`` storage backend: the whole ``lithops.Storage`` API on S3.

Config (``aws_s3`` section, with the ``aws`` section's keys as defaults)::

    aws_s3:
        storage_bucket: my-bucket   # default: lithops-<account>-<region>, created when missing
        region: eu-west-1           # default: the aws section's, else boto3's
        endpoint: http://...        # default: AWS_ENDPOINT_URL(_S3), else AWS

Uploads larger than ``multipart_threshold`` (8 MiB) go in parallel parts; ``get_object`` honours
``Range``; listings page through every result.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from typing import IO, Any

import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from lithops.storage.backend import (
    Body,
    body_bytes,
    body_reader,
    buffered_reader,
    ensure_bucket,
    filter_listing,
)
from lithops.storage.files import download_path, upload_key
from lithops.storage.utils import StorageError, StorageNoSuchKeyError
from lithops_aws.session import make_client, make_session, region_of

__all__ = ["NAME", "S3StorageBackend", "from_settings"]

NAME = "aws_s3"
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_DELETE_BATCH = 1000
MULTIPART_THRESHOLD = 8 << 20
MULTIPART_CHUNK = 8 << 20


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3StorageBackend:
    """Objects in S3 buckets; see the module documentation."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(config or {})
        self.session = make_session(self.settings)
        self.region = region_of(self.session)
        self.client = make_client(
            self.session,
            "s3",
            self.settings,
            max_pool_connections=64,
            retries={"mode": "standard", "max_attempts": 5},
        )
        self.bucket: str | None = self.settings.get("storage_bucket") or None
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK
        )
        self._default_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<S3StorageBackend region={self.region} endpoint={self.client.meta.endpoint_url}>"

    # -- descriptors ----------------------------------------------------------------------

    def default_bucket(self) -> str:
        """``storage_bucket``, else ``lithops-<account>-<region>``, created when missing."""
        with self._default_lock:
            if self.bucket:
                return self.bucket
            account = make_client(self.session, "sts", self.settings).get_caller_identity()
            bucket = f"lithops-{account['Account']}-{self.region}".lower()
            ensure_bucket(self, bucket)
            self.bucket = bucket
            return bucket

    def worker_descriptor(self) -> dict[str, Any]:
        # Region and an explicit endpoint only: workers use their own credentials (the
        # function's execution role) and their own environment's endpoint settings.
        settings: dict[str, Any] = {"region": self.region}
        if self.settings.get("endpoint"):
            settings["endpoint"] = self.settings["endpoint"]
        return {"factory": f"{__name__}:from_settings", "settings": settings}

    def get_client(self) -> Any:
        return self.client

    # -- errors ---------------------------------------------------------------------------

    def _fail(self, exc: botocore.exceptions.ClientError, bucket: str, key: str = "") -> Exception:
        code = _code(exc)
        if code in _MISSING:
            return StorageNoSuchKeyError(
                bucket,
                key,
                where=f"S3 at {self.client.meta.endpoint_url}",
                missing_bucket=code == "NoSuchBucket" or not key,
            )
        return StorageError(
            f"S3 {exc.operation_name} of {bucket}/{key} failed: {code or exc}: {exc}. Check the "
            f"bucket's region ({self.region} here) and the credentials' permissions"
        )

    # -- writes ---------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._fail(exc, bucket) from exc
            if _code(exc) == "BucketAlreadyExists":
                self.head_bucket(bucket)  # someone else's bucket: fail unless we can read it

    def put_object(self, bucket: str, key: str, body: Body) -> None:
        try:
            data = body_bytes(body)
            if data is not None and len(data) < MULTIPART_THRESHOLD:
                self.client.put_object(Bucket=bucket, Key=key, Body=data)
                return
            stream: IO[bytes] = io.BytesIO(data) if data is not None else body_reader(body)
            self.client.upload_fileobj(stream, bucket, key, Config=self.transfer)
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket, key) from exc
        except Exception as exc:  # s3transfer wraps ClientError in its own failures
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, botocore.exceptions.ClientError):
                raise self._fail(cause, bucket, key) from exc
            raise

    def upload_file(
        self,
        file_name: str,
        bucket: str,
        key: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        key = upload_key(file_name, key)
        try:
            self.client.upload_file(
                file_name,
                bucket,
                key,
                ExtraArgs=dict(extra_args or {}) or None,
                Config=config or self.transfer,
            )
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket, key) from exc
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
            self.client.download_file(
                bucket,
                key,
                dest,
                ExtraArgs=dict(extra_args or {}) or None,
                Config=config or self.transfer,
            )
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket, key) from exc
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
        try:
            response = self.client.get_object(Bucket=bucket, Key=key, **args)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "InvalidRange":
                # A range starting at or past the end: empty, as the storage contract says.
                self.head_object(bucket, key)
                return io.BytesIO(b"") if stream else b""
            raise self._fail(exc, bucket, key) from exc
        if stream:
            return buffered_reader(response["Body"], buffer_size=1 << 16)
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket, key) from exc
        headers = dict(response.get("ResponseMetadata", {}).get("HTTPHeaders") or {})
        headers.setdefault("content-length", str(response["ContentLength"]))
        for name in ("ContentLength", "LastModified", "ETag", "ContentType", "Metadata"):
            if name in response:
                headers[name] = response[name]
        return headers

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        try:
            response = self.client.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket) from exc
        return dict(response.get("ResponseMetadata", {}).get("HTTPHeaders") or {})

    def list_objects(
        self, bucket: str, prefix: str | None = None, match_pattern: str | None = None
    ) -> list[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix or ""):
                found.extend(page.get("Contents") or ())
        except botocore.exceptions.ClientError as exc:
            raise self._fail(exc, bucket) from exc
        return filter_listing(found, match_pattern)

    def list_keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        return [item["Key"] for item in self.list_objects(bucket, prefix)]

    # -- deletes --------------------------------------------------------------------------

    def delete_object(self, bucket: str, key: str) -> None:
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in _MISSING:
                raise self._fail(exc, bucket, key) from exc

    def delete_objects(self, bucket: str, key_list: list[str]) -> None:
        for start in range(0, len(key_list), _DELETE_BATCH):
            batch = key_list[start : start + _DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except botocore.exceptions.ClientError as exc:
                raise self._fail(exc, bucket) from exc
            errors = [e for e in response.get("Errors") or () if e.get("Code") not in _MISSING]
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 could not delete {len(errors)} object(s) of bucket {bucket!r}, e.g. "
                    f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )


def from_settings(settings: Mapping[str, Any]) -> S3StorageBackend:
    """The worker factory named by :meth:`S3StorageBackend.worker_descriptor`."""
    return S3StorageBackend(settings)
