"""The import path Lithops 3.x programs use (``from lithops.executors import ...``)."""

from __future__ import annotations

from lithops.executor import (
    FunctionExecutor,
    LocalhostExecutor,
    ServerlessExecutor,
    StandaloneExecutor,
)

__all__ = ["FunctionExecutor", "LocalhostExecutor", "ServerlessExecutor", "StandaloneExecutor"]
