"""``lithops runtime build|deploy|list|update|delete -b gcp_functions`` and ``lithops clean -b
gcp_functions``.

A deployment is one function per (runtime, memory, lithops version), labelled ``lithops:
runtime`` with the version, the runtime (``default``: the zip of the client's own code, else
the name of a runtime built with ``lithops runtime build``, see
:mod:`lithops_gcp.functions_build`) and the namespace, so listing finds ours and nothing else.
What ``list``, ``update``, ``delete`` and ``clean`` do is the core's
(:class:`lithops.serverless.runtimes.ServerlessRuntimeManager`); this module finds, deploys,
updates and deletes Cloud Functions, and builds runtimes. gcp_functions keeps no local cache:
a deployed function is found again by its name, a built runtime in the storage bucket.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import google.api_core.exceptions as gexc

from lithops.errors import BackendUnavailableError
from lithops.plugins.types import RuntimeInfo
from lithops.serverless.runtimes import DEFAULT_RUNTIME, Deployment, ServerlessRuntimeManager
from lithops_gcp.functions_config import SECTION
from lithops_gcp.functions_deploy import (
    forget,
    memory_mb,
    replace_code,
    runtime_package,
    version_from_label,
)
from lithops_gcp.functions_service import FunctionsService, connect

__all__ = ["GcfRuntimeManager"]


class GcfRuntimeManager(ServerlessRuntimeManager):
    """The runtimes of the ``gcp_functions`` section of ``config``."""

    backend = SECTION
    kind = "Cloud Function"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.service = connect(self.config)

    def _service(
        self, name: str | None, memory: int | None = None, timeout: int | None = None
    ) -> FunctionsService:
        return connect(self.config_for(name, timeout), memory)

    def _full_name(self, deployment: Deployment) -> str:
        return f"{self.service.settings.parent}/functions/{deployment.name}"

    # -- the platform operations ----------------------------------------------------------

    def current_version(self) -> str:
        return runtime_package().tag

    def runtime_of(self, name: str | None) -> str:
        return self._service(name).settings.runtime or DEFAULT_RUNTIME

    def find(self, everywhere: bool = False) -> builtins.list[Deployment]:
        namespace = self.service.settings.namespace.lower()
        found = []
        try:
            functions = self.service.list()
        except gexc.GoogleAPIError as exc:
            raise BackendUnavailableError(f"cannot list Cloud Functions: {exc}") from exc
        for function in functions:
            labels = dict(function.labels)
            if labels.get("lithops") != "runtime":
                continue
            deployment = Deployment(
                name=function.name.rsplit("/", 1)[-1],
                runtime=labels.get("lithops-runtime", DEFAULT_RUNTIME),
                memory=memory_mb(function.service_config.available_memory),
                version=version_from_label(labels.get("lithops-version", "?")),
                namespace=labels.get("lithops-namespace", ""),
                timeout=int(function.service_config.timeout_seconds or 0),
            )
            if everywhere or deployment.namespace == namespace:
                found.append(deployment)
        return found

    def deploy(self, name: str | None, memory: int | None, timeout: int | None) -> RuntimeInfo:
        service = self._service(name, memory, timeout)
        runtime = service.deploy()
        return RuntimeInfo(
            name=service.settings.runtime or DEFAULT_RUNTIME,
            memory=runtime.memory,
            version=runtime_package().tag,
            deployed_as=runtime.function_id,
            details={"timeout": f"{runtime.timeout} s"},
        )

    def replace_code(self, deployment: Deployment, name: str | None) -> None:
        # The runtime the function is labelled with (the one update was asked for).
        service = self._service(deployment.runtime, deployment.memory, deployment.timeout)
        replace_code(
            service.client,
            self._full_name(deployment),
            service.settings,
            service.caller,
            service.source(),
        )

    def remove(self, deployment: Deployment) -> None:
        name = self._full_name(deployment)
        try:
            self.service.client.delete_function(name=name).result(timeout=300)
        except gexc.NotFound:
            pass
        except gexc.GoogleAPIError as exc:
            raise BackendUnavailableError(f"cannot delete Cloud Function {name}: {exc}") from exc
        forget(name)

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        from lithops_gcp.functions_build import build_runtime

        return build_runtime(self.config, name, file, extra_args)
