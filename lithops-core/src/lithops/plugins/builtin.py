"""The core's own plugin: local log streaming and the timing wrapper around every invoke."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from lithops.plugins import hookimpl
from lithops.plugins.types import CallBatch, LogLine, LogRequest

__all__ = ["lithops_invoke", "lithops_stream_logs"]

logger = logging.getLogger("lithops.invoke")


@hookimpl(trylast=True)
def lithops_stream_logs(request: LogRequest) -> Iterator[LogLine] | None:
    """Every backend's default: the lines executors on this machine recorded as they ran."""
    from lithops.logs import read_logs

    return read_logs(request.job_key, follow=request.follow, stop=request.stop)


@hookimpl(wrapper=True)
def lithops_invoke(handle: Any, batch: CallBatch) -> Any:
    """Stamp and time every dispatch, whichever backend takes it."""
    batch.extra["host_submit_tstamp"] = start = time.time()
    try:
        return (yield)
    finally:
        elapsed = time.time() - start
        batch.extra["host_invoke_time"] = elapsed
        logger.debug(
            "%s: %d calls handed to %s in %.4f s",
            batch.job_key,
            len(batch.calls),
            getattr(handle, "backend", "?"),
            elapsed,
        )
