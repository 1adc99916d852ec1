"""Dispatch of the handle hooks to :class:`~lithops.serverless.handle.ServerlessHandle`
objects, registered once by the core (entry point ``core_serverless``), so that a serverless
backend's plugin module implements only registration and provision."""

from __future__ import annotations

from typing import Any

from lithops.plugins import hookimpl
from lithops.plugins.types import CallBatch, CallKey
from lithops.serverless.handle import ServerlessHandle

__all__ = ["lithops_cancel", "lithops_invoke", "lithops_release"]


@hookimpl
def lithops_invoke(handle: Any, batch: CallBatch) -> bool | None:
    if not isinstance(handle, ServerlessHandle):
        return None
    handle.invoke(batch)
    return True


@hookimpl
def lithops_cancel(handle: Any, keys: list[CallKey]) -> bool | None:
    if not isinstance(handle, ServerlessHandle):
        return None
    handle.cancel(keys)
    return True


@hookimpl
def lithops_release(handle: Any, dismantle: bool) -> bool | None:
    if not isinstance(handle, ServerlessHandle):
        return None
    handle.release(dismantle)
    return True
