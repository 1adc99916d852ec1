"""The lithops-aws plugin module: registers ``aws_lambda`` (serverless) and ``aws_s3`` (storage).

boto3 is imported only when one of these backends is used, so other backends' cold starts do
not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind, RegisterBackend

if TYPE_CHECKING:
    from lithops_aws.s3 import S3StorageBackend

__all__ = ["lithops_register_backends", "lithops_storage_backend"]

S3 = "aws_s3"

S3_KEYS: Mapping[str, str] = {
    "storage_bucket": "bucket for lithops' data (default lithops-<account>-<region>, created)",
    "region": "the bucket's region (default: the aws section's)",
    "endpoint": "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS)",
    "access_key_id": "access key (default: the aws section's, else boto3's chain)",
    "secret_access_key": "secret of the access key",
    "session_token": "session token of temporary credentials",
}


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=S3,
            kind=BackendKind.STORAGE,
            capabilities=frozenset({"range", "stream", "multipart"}),
            config_keys=S3_KEYS,
            description="Amazon S3 (and S3-compatible stores through `endpoint`)",
        )
    )


@hookimpl
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> S3StorageBackend | None:
    if name != S3:
        return None
    from lithops_aws.s3 import S3StorageBackend

    return S3StorageBackend(config)
