"""The lithops-gcp plugin module: registers ``gcp_functions`` (serverless) and ``gcp_storage``.

The Google client libraries are imported only when one of these backends is used, so other
backends' cold starts do not pay for them. The handle is a
:class:`lithops.serverless.ServerlessHandle`, whose invoke, cancel and release the core
dispatches itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    ProvisionRequest,
    RegisterBackend,
)
from lithops_gcp.keys import FUNCTIONS_KEYS, STORAGE_KEYS

if TYPE_CHECKING:
    from lithops_gcp.functions_invoke import GcfHandle
    from lithops_gcp.functions_runtimes import GcfRuntimeManager
    from lithops_gcp.storage import GcsStorageBackend

__all__ = [
    "lithops_provision",
    "lithops_register_backends",
    "lithops_runtime_manager",
    "lithops_storage_backend",
]

STORAGE = "gcp_storage"
FUNCTIONS = "gcp_functions"


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=STORAGE,
            kind=BackendKind.STORAGE,
            capabilities=frozenset({"range", "stream", "multipart"}),
            config_keys=STORAGE_KEYS,
            description="Google Cloud Storage (and its emulators through api_endpoint)",
        )
    )
    register(
        BackendInfo(
            name=FUNCTIONS,
            kind=BackendKind.COMPUTE,
            mode="serverless",
            # Not "worker_lost": Cloud Functions does not tell the exit code of a dead instance.
            # Not "timeout" either: a call past its timeout fails, but nothing can stop it there.
            capabilities=frozenset({"logs"}),
            config_keys=FUNCTIONS_KEYS,
            description="Google Cloud Functions (2nd gen): one HTTPS request per batch of calls",
        )
    )


@hookimpl
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> GcsStorageBackend | None:
    if name != STORAGE:
        return None
    from lithops_gcp.storage import GcsStorageBackend

    return GcsStorageBackend(config)


@hookimpl
def lithops_provision(request: ProvisionRequest) -> GcfHandle | None:
    if request.backend != FUNCTIONS:
        return None
    from lithops.serverless import storage_of
    from lithops_gcp.functions_invoke import GcfHandle
    from lithops_gcp.functions_service import connect

    service = connect(request.config, request.runtime_memory)
    runtime = service.deploy()
    return GcfHandle(
        service.client,
        service.caller(runtime.uri),
        runtime,
        service.settings,
        request.events,
        storage_of(request.config),
    )


@hookimpl
def lithops_runtime_manager(backend: str, config: Mapping[str, Any]) -> GcfRuntimeManager | None:
    if backend != FUNCTIONS:
        return None
    from lithops_gcp.functions_runtimes import GcfRuntimeManager

    return GcfRuntimeManager(config)
