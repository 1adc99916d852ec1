"""Warm-ups that backends start the moment a client imports the executor.

A distribution may register callables in the ``lithops.prestart`` entry-point group; importing
:mod:`lithops.executor` calls each once per process, before the rest of the client's imports,
configuration and plugin loading. The localhost backend starts its worker template there: an
interpreter start and the worker runtime's imports then overlap the client's own set-up
instead of delaying its first result. A warm-up must be cheap, must not block, and must be
harmless when its backend ends up unused (the template ends with the client). One that fails
is logged at debug level and skipped. ``LITHOPS_DISABLE_PLUGINS`` applies here too (by entry
point or distribution name), and ``LITHOPS_PRESTART=0`` turns warm-ups off.

Kept light on purpose: it runs before anything else of the core is imported.
"""

from __future__ import annotations

import os

from lithops.plugins.discovery import find_entry_points

__all__ = ["PRESTART_GROUP", "run_prestart"]

PRESTART_GROUP = "lithops.prestart"
_done = False


def run_prestart() -> None:
    """Call every installed warm-up once in this process."""
    global _done
    if _done or os.environ.get("LITHOPS_PRESTART", "1") == "0":
        return
    _done = True
    raw = os.environ.get("LITHOPS_DISABLE_PLUGINS", "")
    blocked = {part.strip() for part in raw.split(",") if part.strip()}
    for entry in find_entry_points(PRESTART_GROUP):
        if entry.name in blocked or entry.dist.name in blocked:
            continue
        try:
            entry.load()()
        except Exception as exc:  # a warm-up only saves time: never fail a client for it
            import logging

            logging.getLogger(__name__).debug(
                "warm-up %s from %s failed: %s: %s",
                entry.name,
                entry.dist.name,
                type(exc).__name__,
                exc,
            )


run_prestart()
