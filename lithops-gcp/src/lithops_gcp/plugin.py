"""The lithops-gcp plugin module: registers ``gcp_functions`` (serverless) and ``gcp_storage``.

The Google client libraries are imported only when one of these backends is used, so other
backends' cold starts do not pay for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    CallBatch,
    CallKey,
    ProvisionRequest,
    RegisterBackend,
)
from lithops_gcp.keys import FUNCTIONS_KEYS, STORAGE_KEYS

if TYPE_CHECKING:
    from lithops_gcp.functions_invoke import GcfHandle
    from lithops_gcp.storage import GcsStorageBackend

__all__ = [
    "lithops_cancel",
    "lithops_invoke",
    "lithops_provision",
    "lithops_register_backends",
    "lithops_release",
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
    from lithops_gcp.functions_invoke import GcfHandle
    from lithops_gcp.functions_service import connect

    service = connect(request.config, request.runtime_memory)
    runtime = service.deploy()
    config = request.config

    def storage() -> Any:
        from lithops.storage import Storage

        return Storage(config=config)

    return GcfHandle(
        service.client,
        service.caller(runtime.uri),
        runtime,
        service.settings,
        request.events,
        storage,
    )


def _mine(handle: Any) -> bool:
    return getattr(handle, "backend", None) == FUNCTIONS and hasattr(handle, "runtime")


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not _mine(handle):
        return None
    handle.invoke(batch)
    return True


@hookimpl
def lithops_cancel(handle: Any, keys: list[CallKey]) -> bool | None:
    if not _mine(handle):
        return None
    handle.cancel(keys)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    if not _mine(handle):
        return None
    handle.release()
    if dismantle:
        from lithops_gcp.functions_deploy import forget

        handle.client.delete_function(name=handle.runtime.name).result(timeout=300)
        forget(handle.runtime.name)
    return True
