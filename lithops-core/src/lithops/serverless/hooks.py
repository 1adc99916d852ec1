"""Dispatch of the handle hooks to :class:`~lithops.serverless.handle.ServerlessHandle`
objects, registered once by the core (entry point ``core_serverless``), so that a serverless
backend's plugin module implements only registration and provision."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeGuard

from lithops.plugins import hookimpl
from lithops.plugins.types import CallBatch, CallKey

if TYPE_CHECKING:
    from lithops.serverless.handle import ServerlessHandle

__all__ = ["lithops_cancel", "lithops_invoke", "lithops_release"]


def _serverless(handle: Any) -> TypeGuard[ServerlessHandle]:
    # No ServerlessHandle exists before its module is imported, and this check must not import
    # it: these hooks load with every client, most of which never touch a serverless backend.
    module = sys.modules.get("lithops.serverless.handle")
    return module is not None and isinstance(handle, module.ServerlessHandle)


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not _serverless(handle):
        return None
    handle.invoke(batch)
    return True


@hookimpl
def lithops_cancel(handle: Any, keys: list[CallKey]) -> bool | None:
    if not _serverless(handle):
        return None
    handle.cancel(keys)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    if not _serverless(handle):
        return None
    handle.release(dismantle)
    return True
