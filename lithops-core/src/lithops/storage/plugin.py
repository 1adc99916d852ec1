"""The core's storage plugin: registers the filesystem backend as ``localhost`` storage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind, RegisterBackend
from lithops.storage.backends.localhost import (
    DEFAULT_BUCKET,
    DEFAULT_STORAGE_ROOT,
    LocalhostStorageBackend,
)

__all__ = ["lithops_register_backends", "lithops_storage_backend"]

NAME = "localhost"


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=NAME,
            kind=BackendKind.STORAGE,
            capabilities=frozenset({"range", "stream"}),
            config_keys={
                "storage_root": f"directory holding the buckets (default {DEFAULT_STORAGE_ROOT})",
                "storage_bucket": f"default bucket (default {DEFAULT_BUCKET!r})",
            },
            description="objects as files on this machine's filesystem",
        )
    )


@hookimpl
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> LocalhostStorageBackend | None:
    if name != NAME:
        return None
    return LocalhostStorageBackend(config)
