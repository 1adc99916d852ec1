"""Lithops: run unmodified Python functions at scale, locally, on VMs or serverless.

The names below load on first use (PEP 562), so that a worker process importing
``lithops.worker`` pays for neither the client API nor the plugin machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lithops.lazy import lazy_getattr
from lithops.version import __version__

if TYPE_CHECKING:
    from lithops.errors import (
        BackendUnavailableError,
        CallTimeoutError,
        SerializationError,
        WorkerLostError,
    )
    from lithops.executor import (
        FunctionExecutor,
        LocalhostExecutor,
        ServerlessExecutor,
        StandaloneExecutor,
    )
    from lithops.retries import RetryingFunctionExecutor
    from lithops.storage import Storage
    from lithops.wait import get_result, wait

__all__ = [
    "BackendUnavailableError",
    "CallTimeoutError",
    "FunctionExecutor",
    "LocalhostExecutor",
    "RetryingFunctionExecutor",
    "SerializationError",
    "ServerlessExecutor",
    "StandaloneExecutor",
    "Storage",
    "WorkerLostError",
    "__version__",
    "get_result",
    "wait",
]

_LAZY = {
    "FunctionExecutor": "lithops.executor",
    "LocalhostExecutor": "lithops.executor",
    "ServerlessExecutor": "lithops.executor",
    "StandaloneExecutor": "lithops.executor",
    "RetryingFunctionExecutor": "lithops.retries",
    "Storage": "lithops.storage",
    "wait": "lithops.wait",
    "get_result": "lithops.wait",
    "WorkerLostError": "lithops.errors",
    "CallTimeoutError": "lithops.errors",
    "SerializationError": "lithops.errors",
    "BackendUnavailableError": "lithops.errors",
}


__getattr__ = lazy_getattr("lithops", _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
