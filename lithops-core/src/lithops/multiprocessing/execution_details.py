"""``EXPORT_EXECUTION_DETAILS``: plots and stats of each finished map, apply and process."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from lithops.future import ResponseFuture
from lithops.multiprocessing import config as mp_config

__all__ = ["export_execution_details"]

logger = logging.getLogger(__name__)


def export_execution_details(executor: Any, futures: Sequence[ResponseFuture]) -> list[str]:
    """Into the ``EXPORT_EXECUTION_DETAILS`` folder (nothing when unset): the timeline and
    histogram of ``futures`` (``<executor_id>_<job_id>_timeline.png``, ``..._histogram.png``)
    and their stats by call id (``..._stats.json``); the paths written. A failure is logged,
    never raised: the results are the caller's, the details only a report on them."""
    folder = mp_config.get_parameter(mp_config.EXPORT_EXECUTION_DETAILS)
    if not folder or not futures:
        return []
    try:
        os.makedirs(folder, exist_ok=True)
        prefix = os.path.join(folder, f"{executor.executor_id}_{futures[0].job_id}")
        written = list(executor.plot(fs=list(futures), dst=prefix))
        stats = {f.call_id: f.stats for f in futures}
        with open(f"{prefix}_stats.json", "w") as out:
            json.dump(stats, out, indent=2, default=repr)
        written.append(f"{prefix}_stats.json")
        return written
    except Exception:
        logger.exception("EXPORT_EXECUTION_DETAILS: could not write the details to %s", folder)
        return []
