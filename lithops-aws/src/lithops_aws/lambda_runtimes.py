"""``lithops runtime ... -b aws_lambda`` and ``lithops clean -b aws_lambda``.

A deployment is one function per (runtime, memory, lithops version), tagged ``lithops:
runtime`` with the version, the runtime (``default`` for the zip of the client's own code, else
the image URI) and the namespace, so listing finds ours and nothing else. ``update`` replaces
the code of the current version's function for every memory deployed (creating it when only
older versions exist) and then deletes the older versions' functions of that runtime: after
it, each memory runs exactly this client's code. ``clean`` deletes our functions (of this
namespace; ``--all``: every namespace) and the transport objects invocations left in storage
(``lithops.jobs/*/batches/`` and ``*/spill/``). aws_lambda keeps no local cache: a deployed
function is found again by its name.
"""

from __future__ import annotations

import builtins
import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import botocore.exceptions

from lithops.errors import BackendUnavailableError
from lithops.plugins.types import RuntimeInfo
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

logger = logging.getLogger(__name__)

NAME = "aws_lambda"
#: Where invocations put what did not fit in an event or a response (see lambda_invoke).
TRANSPORT_PARTS = ("/batches/", "/spill/")


class _Deployment:
    def __init__(self, config: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        self.name = str(config["FunctionName"])
        self.memory = int(config.get("MemorySize") or 0)
        self.timeout = int(config.get("Timeout") or 0)
        self.architecture = str((config.get("Architectures") or ["x86_64"])[0])
        self.runtime = tags.get("lithops-runtime", DEFAULT_RUNTIME)
        self.version = tags.get("lithops-version", "?")
        self.namespace = tags.get("lithops-namespace", "")

    def info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name=self.runtime,
            memory=self.memory,
            version=self.version,
            deployed_as=self.name,
            details={"timeout": f"{self.timeout} s", "architecture": self.architecture},
        )


class LambdaRuntimeManager:
    """The runtimes of the ``aws_lambda`` section of ``config``."""

    backend = NAME

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.settings = LambdaSettings.from_config(self.config, None)
        self.client = lambda_client(self.settings)

    # -- helpers --------------------------------------------------------------------------

    def _settings(
        self, name: str | None, memory: int | None = None, timeout: int | None = None
    ) -> LambdaSettings:
        config = copy.deepcopy(self.config)
        section = config.setdefault("aws_lambda", {})
        if name is not None:
            section["runtime"] = "" if name == DEFAULT_RUNTIME else name
        if timeout is not None:
            section["runtime_timeout"] = timeout
        return LambdaSettings.from_config(config, memory)

    def _runtime_of(self, name: str | None) -> str:
        return self._settings(name).runtime or DEFAULT_RUNTIME

    def _deployments(self, everywhere: bool = False) -> list[_Deployment]:
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
                    deployment = _Deployment(config, tags)
                    if everywhere or deployment.namespace == self.settings.namespace:
                        found.append(deployment)
        except botocore.exceptions.ClientError as exc:
            raise BackendUnavailableError(f"cannot list Lambda functions: {exc}") from exc
        found.sort(key=lambda d: (d.runtime, d.memory, d.version))
        return found

    def _delete(self, deployment: _Deployment) -> None:
        logger.info("deleting Lambda function %s", deployment.name)
        try:
            self.client.delete_function(FunctionName=deployment.name)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise BackendUnavailableError(
                    f"cannot delete Lambda function {deployment.name}: {exc}"
                ) from exc
        forget(self.client, deployment.name)

    # -- the RuntimeManager methods -------------------------------------------------------

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        from lithops_aws.lambda_image import build_and_push

        return build_and_push(self.settings, name, file, extra_args)

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

    def list(self, name: str | None) -> Sequence[RuntimeInfo]:
        wanted = self._runtime_of(name) if name is not None else None
        return [d.info() for d in self._deployments() if wanted in (None, d.runtime)]

    def update(self, name: str | None) -> Sequence[RuntimeInfo]:
        runtime = self._runtime_of(name)
        current = runtime_package().tag
        mine = [d for d in self._deployments() if d.runtime == runtime]
        updated = []
        for memory in sorted({d.memory for d in mine}):
            same = [d for d in mine if d.memory == memory]
            now = next((d for d in same if d.version == current), None)
            settings = self._settings(name, memory, now.timeout if now else None)
            if now is not None:
                replace_code(self.client, now.name, settings)
            else:
                deploy(self.client, settings)
            for old in same:
                if old.version != current:
                    self._delete(old)
        for deployment in self._deployments():
            if deployment.runtime == runtime and deployment.version == current:
                updated.append(deployment.info())
        return updated

    def delete(
        self, name: str | None, memory: int | None, version: str | None
    ) -> Sequence[RuntimeInfo]:
        runtime = self._runtime_of(name)
        deleted = []
        for deployment in self._deployments():
            if deployment.runtime != runtime:
                continue
            if memory is not None and deployment.memory != memory:
                continue
            if version is not None and not deployment.version.startswith(version):
                continue
            self._delete(deployment)
            deleted.append(deployment.info())
        return deleted

    def clean(self, everything: bool) -> Sequence[str]:
        removed: builtins.list[str] = []
        for deployment in self._deployments(everywhere=everything):
            self._delete(deployment)
            removed.append(f"Lambda function {deployment.name}")
        removed.extend(self._clean_storage())
        return removed

    def _clean_storage(self) -> Sequence[str]:
        from lithops.storage import Storage

        try:
            storage = Storage(config=self.config)
            keys = storage.list_keys(storage.bucket, "lithops.jobs/")
        except Exception as exc:  # no storage configured, or no bucket yet: nothing was put
            logger.debug("no storage to clean: %s", exc)
            return []
        transport = [k for k in keys if any(part in k for part in TRANSPORT_PARTS)]
        if not transport:
            return []
        storage.delete_objects(storage.bucket, transport)
        return [f"{storage.bucket}/lithops.jobs/ ({len(transport)} invocation transport objects)"]
