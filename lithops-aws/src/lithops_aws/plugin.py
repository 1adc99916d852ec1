"""The lithops-aws plugin module: registers ``aws_lambda`` (serverless) and ``aws_s3`` (storage).

The handle is a :class:`lithops.serverless.ServerlessHandle`, whose invoke, cancel and
release the core dispatches itself: this module only registers, provisions and hands out
the storage backend and the runtime manager.

boto3 is imported only when one of these backends is used, so other backends' cold starts do
not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    KeySpec,
    ProvisionRequest,
    RegisterBackend,
)
from lithops_aws.lambda_config import LAMBDA_KEYS

if TYPE_CHECKING:
    from lithops_aws.lambda_invoke import LambdaHandle
    from lithops_aws.lambda_runtimes import LambdaRuntimeManager
    from lithops_aws.s3 import S3StorageBackend

__all__ = [
    "lithops_provision",
    "lithops_register_backends",
    "lithops_runtime_manager",
    "lithops_storage_backend",
]

S3 = "aws_s3"
LAMBDA = "aws_lambda"

S3_KEYS: Mapping[str, KeySpec] = {
    "storage_bucket": KeySpec(
        (str,), "bucket for lithops' data (default lithops-<account>-<region>, created)"
    ),
    "region": KeySpec((str,), "the bucket's region (default: the aws section's)"),
    "endpoint": KeySpec(
        (str,), "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS)"
    ),
    "access_key_id": KeySpec((str,), "access key (default: the aws section's, else boto3's)"),
    "secret_access_key": KeySpec((str,), "secret of the access key"),
    "session_token": KeySpec((str,), "session token of temporary credentials"),
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
    register(
        BackendInfo(
            name=LAMBDA,
            kind=BackendKind.COMPUTE,
            mode="serverless",
            capabilities=frozenset({"timeout", "worker_lost", "logs", "function_once"}),
            config_keys=LAMBDA_KEYS,
            description="AWS Lambda: one synchronous invocation per batch of calls",
        )
    )


@hookimpl
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> S3StorageBackend | None:
    if name != S3:
        return None
    from lithops_aws.s3 import S3StorageBackend

    return S3StorageBackend(config)


@hookimpl
def lithops_provision(request: ProvisionRequest) -> LambdaHandle | None:
    if request.backend != LAMBDA:
        return None
    from lithops.serverless import storage_of
    from lithops_aws.lambda_config import LambdaSettings
    from lithops_aws.lambda_deploy import deploy, lambda_client
    from lithops_aws.lambda_invoke import LambdaHandle

    settings = LambdaSettings.from_config(request.config, request.runtime_memory)
    client = lambda_client(settings)
    runtime = deploy(client, settings)
    return LambdaHandle(client, runtime, settings, request.events, storage_of(request.config))


@hookimpl
def lithops_runtime_manager(backend: str, config: Mapping[str, Any]) -> LambdaRuntimeManager | None:
    if backend != LAMBDA:
        return None
    from lithops_aws.lambda_runtimes import LambdaRuntimeManager

    return LambdaRuntimeManager(config)
