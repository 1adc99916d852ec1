"""The ``concurrent.futures`` interface of lithops: see :mod:`lithops.concurrent.futures`."""

from __future__ import annotations

from lithops.concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    BrokenExecutor,
    CancelledError,
    Executor,
    FunctionExecutor,
    Future,
    InvalidStateError,
    LocalhostExecutor,
    ProcessPoolExecutor,
    ServerlessExecutor,
    StandaloneExecutor,
    ThreadPoolExecutor,
    TimeoutError,
    as_completed,
    wait,
)

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "BrokenExecutor",
    "CancelledError",
    "Executor",
    "FunctionExecutor",
    "Future",
    "InvalidStateError",
    "LocalhostExecutor",
    "ProcessPoolExecutor",
    "ServerlessExecutor",
    "StandaloneExecutor",
    "ThreadPoolExecutor",
    "TimeoutError",
    "as_completed",
    "wait",
]
