"""Deploying the default runtime: a zip function of the client's own code, once per
(runtime, memory, our version).

The function's code is the core's worker package (:func:`lithops.packaging.worker_package`)
plus this distribution (the S3 storage factory workers use), and its handler is
:func:`lithops.worker.serverless.handler`. The package's content digest is in the function's
name, so a client of another version (or a patched checkout) deploys its own function beside
the old one and an unchanged client finds its function already there. Before any job is
sent, a metadata invocation checks the function's Python minor and wire version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from typing import Any

import botocore.exceptions

from lithops.errors import BackendUnavailableError, ConfigError
from lithops.packaging import WorkerPackage, worker_package
from lithops.serverless.deploy import DeployCache, check_hello, wait_ready
from lithops.serverless.runtimes import DEFAULT_RUNTIME
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.session import make_client, make_session

__all__ = [
    "DEFAULT_RUNTIME",
    "FUNCTION_PREFIX",
    "HANDLER",
    "LambdaRuntime",
    "deploy",
    "forget",
    "function_name",
    "lambda_client",
    "replace_code",
    "runtime_tags",
]

logger = logging.getLogger(__name__)

HANDLER = "lithops.worker.serverless.handler"
FUNCTION_PREFIX = "lithops-w"
_ACTIVE_TIMEOUT_S = 300.0
#: functions this process deployed and checked
_deployed: DeployCache[LambdaRuntime] = DeployCache()


def lambda_client(settings: LambdaSettings) -> Any:
    """A Lambda client for ``settings``: a synchronous invoke waits for the whole call, and
    retries are the handle's own (throttling is retried there, with backoff)."""
    return make_client(
        make_session(settings.boto),
        "lambda",
        settings.boto,
        read_timeout=settings.timeout + 60,
        connect_timeout=10,
        retries={"total_max_attempts": 1},
        max_pool_connections=min(settings.pool_threads, settings.max_workers) + 4,
    )


#: Shipped beside the worker runtime so that a call can open its own executor (nested): the
#: plugin host needs pluggy, and finds aws_lambda/aws_s3 through the entry points below.
NESTED_PACKAGES = ("lithops_aws", "pluggy")
#: Distributions whose ``lithops`` entry points the function's code carries (as dist-info).
_PLUGIN_DISTRIBUTIONS = ("lithops-core", "lithops-aws")


def runtime_package() -> WorkerPackage:
    return worker_package(extra=NESTED_PACKAGES)


def plugin_metadata() -> dict[str, bytes]:
    """``*.dist-info`` with the ``lithops`` entry points of the core and this distribution,
    so that the function's own plugin host (a nested executor) finds aws_lambda and aws_s3.

    Only the entry points: the code itself is in the worker package.
    """
    import importlib.metadata

    files: dict[str, bytes] = {}
    for dist_name in _PLUGIN_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(dist_name)
        points = sorted((ep.name, ep.value) for ep in dist.entry_points if ep.group == "lithops")
        folder = f"{dist_name.replace('-', '_')}-{dist.version}.dist-info"
        files[f"{folder}/METADATA"] = (
            f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {dist.version}\n".encode()
        )
        files[f"{folder}/entry_points.txt"] = (
            "[lithops]\n" + "".join(f"{name} = {value}\n" for name, value in points)
        ).encode()
    return files


def function_code() -> bytes:
    """The zip a function's code is: the worker package and the plugins' metadata."""
    return runtime_package().zip(extra_files=plugin_metadata())


def python_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def function_name(package: WorkerPackage, settings: LambdaSettings) -> str:
    """``lithops-w[-<namespace>]-<version>-<digest>[-i<image hash>]-<memory>mb``, at most 64
    characters; an image runtime's name also hashes its URI."""
    version = package.tag.replace(".", "-")
    namespace = re.sub(r"[^A-Za-z0-9-]", "-", settings.namespace)[:16]
    image = (
        "i" + hashlib.sha256(settings.runtime.encode()).hexdigest()[:8] if settings.runtime else ""
    )
    parts = [FUNCTION_PREFIX, namespace, version, image, f"{settings.memory}mb"]
    if settings.architecture != "x86_64":
        parts.append(settings.architecture)
    return "-".join(p for p in parts if p)[:64]


class LambdaRuntime:
    """A deployed, checked function: ``name`` is what to invoke."""

    def __init__(self, name: str, arn: str, memory: int, timeout: int, hello: dict[str, Any]):
        self.name = name
        self.arn = arn
        self.memory = memory
        self.timeout = timeout
        self.hello = hello


def deploy(client: Any, settings: LambdaSettings) -> LambdaRuntime:
    """Find or create the function for ``settings``, wait until it is active, check it."""
    package = runtime_package()
    name = function_name(package, settings)
    env = json.dumps(settings.env_vars, sort_keys=True)
    key = (str(client.meta.endpoint_url), name, str(settings.timeout), env)

    def find_or_create() -> LambdaRuntime:
        config = _get_function(client, name)
        if config is None:
            config = _create(client, name, package, settings)
        config = _wait_active(client, name, config)
        config = _update_settings(client, name, config, settings)
        hello = _check(client, name)
        return LambdaRuntime(
            name, config["FunctionArn"], settings.memory, int(config.get("Timeout") or 0), hello
        )

    return _deployed.get_or_deploy(key, find_or_create)


def forget(client: Any, name: str) -> None:
    """Drop a function from the process's cache (after it was deleted)."""
    _deployed.forget(name, str(client.meta.endpoint_url))


def _get_function(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(client.get_function(FunctionName=name)["Configuration"])
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise BackendUnavailableError(f"cannot look up Lambda function {name}: {exc}") from exc


def _create(
    client: Any, name: str, package: WorkerPackage, settings: LambdaSettings
) -> dict[str, Any]:
    if not settings.execution_role:
        raise ConfigError(
            "the aws_lambda section has no 'execution_role': set it to the ARN of an IAM role "
            "the functions may assume (it needs S3 access to the storage bucket), e.g. "
            "arn:aws:iam::<account>:role/lithops-execution-role"
        )
    logger.info("deploying Lambda function %s (%d KiB of code)", name, package.size >> 10)
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "Role": settings.execution_role,
        **_code(settings),
        "Description": f"lithops {package.tag} worker runtime",
        "MemorySize": settings.memory,
        "Timeout": settings.timeout,
        "Architectures": [settings.architecture],
        "EphemeralStorage": {"Size": settings.ephemeral_storage},
        "Environment": {"Variables": {**settings.env_vars, "PYTHONDONTWRITEBYTECODE": "1"}},
        "Tags": {**settings.user_tags, **runtime_tags(package, settings)},
    }
    if settings.vpc:
        kwargs["VpcConfig"] = {
            "SubnetIds": list(settings.vpc.get("subnets") or []),
            "SecurityGroupIds": list(settings.vpc.get("security_groups") or []),
        }
    if settings.efs:
        kwargs["FileSystemConfigs"] = [
            {"Arn": fs["access_point"], "LocalMountPath": fs["mount_path"]} for fs in settings.efs
        ]
    try:
        return dict(client.create_function(**kwargs))
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceConflictException":
            found = _get_function(client, name)  # another client deployed it meanwhile
            if found is not None:
                return found
        raise BackendUnavailableError(
            f"cannot create Lambda function {name}: {exc}. Check that execution_role "
            f"({settings.execution_role}) exists and may be passed to Lambda"
        ) from exc


def _code(settings: LambdaSettings) -> dict[str, Any]:
    if settings.runtime:  # an image built by `lithops runtime build` (worker layer inside)
        return {"PackageType": "Image", "Code": {"ImageUri": settings.runtime}}
    return {
        "PackageType": "Zip",
        "Runtime": python_runtime(),
        "Handler": HANDLER,
        "Code": {"ZipFile": function_code()},
    }


def runtime_tags(package: WorkerPackage, settings: LambdaSettings) -> dict[str, str]:
    """The tags that make a function one of ours, and say what it runs."""
    return {
        "lithops": "runtime",
        "lithops-version": package.tag,
        "lithops-runtime": settings.runtime or DEFAULT_RUNTIME,
        "lithops-namespace": settings.namespace,
    }


def replace_code(client: Any, name: str, settings: LambdaSettings) -> LambdaRuntime:
    """Put this client's code into the deployed function ``name`` (``lithops runtime update``),
    wait until it is active again and check it answers as this client expects."""
    package = runtime_package()
    config = _wait_active(client, name, _get_function(client, name) or {})
    try:
        code = _code(settings)["Code"]
        config = dict(client.update_function_code(FunctionName=name, Publish=False, **code))
    except botocore.exceptions.ClientError as exc:
        raise BackendUnavailableError(f"cannot update the code of {name}: {exc}") from exc
    config = _wait_active(client, name, config)
    client.tag_resource(Resource=config["FunctionArn"], Tags=runtime_tags(package, settings))
    forget(client, name)
    hello = _check(client, name)
    return LambdaRuntime(
        name, config["FunctionArn"], int(config.get("MemorySize") or 0),
        int(config.get("Timeout") or 0), hello,
    )  # fmt: skip


def _wait_active(client: Any, name: str, config: dict[str, Any]) -> dict[str, Any]:
    def state(config: dict[str, Any]) -> tuple[bool, str | None]:
        status = config.get("State") or "Active"
        update = config.get("LastUpdateStatus") or "Successful"
        if status == "Failed" or update == "Failed":
            return False, str(config.get("StateReason"))
        return status == "Active" and update != "InProgress", None

    return wait_ready(
        config,
        lambda: _get_function(client, name) or config,
        state,
        what=f"Lambda function {name}",
        timeout_s=_ACTIVE_TIMEOUT_S,
        hint=_delete_hint(name),
    )


def _update_settings(
    client: Any, name: str, config: dict[str, Any], settings: LambdaSettings
) -> dict[str, Any]:
    """Apply a changed ``runtime_timeout`` or ``env_vars`` to a function found deployed."""
    wanted = {**settings.env_vars, "PYTHONDONTWRITEBYTECODE": "1"}
    current = dict((config.get("Environment") or {}).get("Variables") or {})
    if int(config.get("Timeout") or 0) == settings.timeout and current == wanted:
        return config
    logger.info("updating Lambda function %s: timeout %d s", name, settings.timeout)
    try:
        updated = client.update_function_configuration(
            FunctionName=name, Timeout=settings.timeout, Environment={"Variables": wanted}
        )
    except botocore.exceptions.ClientError as exc:
        raise BackendUnavailableError(f"cannot update Lambda function {name}: {exc}") from exc
    return _wait_active(client, name, dict(updated))


def _delete_hint(name: str) -> str:
    return f"`aws lambda delete-function --function-name {name}`"


def _check(client: Any, name: str) -> dict[str, Any]:
    """The function's wire hello; raises when its Python or wire version cannot serve us."""
    try:
        response = client.invoke(FunctionName=name, Payload=json.dumps({"t": "metadata"}))
    except botocore.exceptions.ClientError as exc:
        raise BackendUnavailableError(f"cannot invoke Lambda function {name}: {exc}") from exc
    body = response["Payload"].read()
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    return check_hello(
        answer,
        bool(response.get("FunctionError")),
        what=f"Lambda function {name}",
        detail=repr(body[:500]),
        hint=_delete_hint(name),
    )
