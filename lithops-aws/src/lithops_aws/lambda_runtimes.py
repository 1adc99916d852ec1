"""``lithops runtime ... -b aws_lambda`` and ``lithops clean -b aws_lambda``.

A deployment is one function per (runtime, memory, lithops version), tagged ``lithops:
runtime`` with the version, the runtime (``default`` for the zip of the client's own code, else
the image URI) and the namespace, so listing finds ours and nothing else. What ``list``,
``update``, ``delete`` and ``clean`` do is the core's
(:class:`lithops.serverless.runtimes.ServerlessRuntimeManager`); this module finds, deploys,
updates and deletes Lambda functions, and builds images. aws_lambda keeps no local cache: a
deployed function is found again by its name.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import botocore.exceptions

from lithops.errors import BackendUnavailableError
from lithops.plugins.types import RuntimeInfo
from lithops.serverless.runtimes import Deployment, ServerlessRuntimeManager
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.lambda_deploy import (
    DEFAULT_RUNTIME,
    FUNCTION_PREFIX,
    deploy,
    forget,
    lambda_client,
    replace_code,
    runtime_package,
)

__all__ = ["LambdaRuntimeManager"]

NAME = "aws_lambda"


def _deployment(config: Mapping[str, Any], tags: Mapping[str, str]) -> Deployment:
    return Deployment(
        name=str(config["FunctionName"]),
        runtime=tags.get("lithops-runtime", DEFAULT_RUNTIME),
        memory=int(config.get("MemorySize") or 0),
        version=tags.get("lithops-version", "?"),
        namespace=tags.get("lithops-namespace", ""),
        timeout=int(config.get("Timeout") or 0),
        details={"architecture": str((config.get("Architectures") or ["x86_64"])[0])},
    )


class LambdaRuntimeManager(ServerlessRuntimeManager):
    """The runtimes of the ``aws_lambda`` section of ``config``."""

    backend = NAME
    kind = "Lambda function"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.settings = LambdaSettings.from_config(self.config, None)
        self.client = lambda_client(self.settings)

    def _settings(
        self, name: str | None, memory: int | None = None, timeout: int | None = None
    ) -> LambdaSettings:
        return LambdaSettings.from_config(self.config_for(name, timeout), memory)

    # -- the platform operations ----------------------------------------------------------

    def current_version(self) -> str:
        return runtime_package().tag

    def runtime_of(self, name: str | None) -> str:
        return self._settings(name).runtime or DEFAULT_RUNTIME

    def find(self, everywhere: bool = False) -> builtins.list[Deployment]:
        found = []
        paginator = self.client.get_paginator("list_functions")
        try:
            for page in paginator.paginate():
                for config in page.get("Functions") or ():
                    if not str(config["FunctionName"]).startswith(FUNCTION_PREFIX + "-"):
                        continue
                    tags = self.client.list_tags(Resource=config["FunctionArn"]).get("Tags") or {}
                    if tags.get("lithops") != "runtime":
                        continue
                    deployment = _deployment(config, tags)
                    if everywhere or deployment.namespace == self.settings.namespace:
                        found.append(deployment)
        except botocore.exceptions.ClientError as exc:
            raise BackendUnavailableError(f"cannot list Lambda functions: {exc}") from exc
        return found

    def deploy(self, name: str | None, memory: int | None, timeout: int | None) -> RuntimeInfo:
        settings = self._settings(name, memory, timeout)
        runtime = deploy(self.client, settings)
        return RuntimeInfo(
            name=settings.runtime or DEFAULT_RUNTIME,
            memory=runtime.memory,
            version=runtime_package().tag,
            deployed_as=runtime.name,
            details={"timeout": f"{runtime.timeout} s", "architecture": settings.architecture},
        )

    def replace_code(self, deployment: Deployment, name: str | None) -> None:
        settings = self._settings(name, deployment.memory, deployment.timeout)
        replace_code(self.client, deployment.name, settings)

    def remove(self, deployment: Deployment) -> None:
        try:
            self.client.delete_function(FunctionName=deployment.name)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise BackendUnavailableError(
                    f"cannot delete Lambda function {deployment.name}: {exc}"
                ) from exc
        forget(self.client, deployment.name)

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        from lithops_aws.lambda_image import build_and_push

        return build_and_push(self.settings, name, file, extra_args)
