"""The lithops-gcp plugin module: registers ``gcp_functions`` (serverless) and ``gcp_storage``.

The Google client libraries are imported only when one of these backends is used, so other
backends' cold starts do not pay for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind, RegisterBackend
from lithops_gcp.keys import STORAGE_KEYS

if TYPE_CHECKING:
    from lithops_gcp.storage import GcsStorageBackend

__all__ = ["lithops_register_backends", "lithops_storage_backend"]

STORAGE = "gcp_storage"


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


@hookimpl
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> GcsStorageBackend | None:
    if name != STORAGE:
        return None
    from lithops_gcp.storage import GcsStorageBackend

    return GcsStorageBackend(config)
