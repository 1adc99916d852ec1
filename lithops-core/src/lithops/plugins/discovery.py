"""Finding the ``lithops`` entry points, with a cache that keeps cold starts short.

Scanning every installed distribution's metadata (and importing ``importlib.metadata``) costs
tens of milliseconds at every client start. The scan's result is kept in
``~/.lithops/cache/entry_points.json`` under a fingerprint of the import path: the directories of
``sys.path`` and their modification times. Installing, upgrading or removing a distribution
adds or removes a ``*.dist-info`` directory, which changes its parent's mtime and so the
fingerprint. ``LITHOPS_PLUGIN_CACHE=0`` always scans.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["PluginEntry", "find_entry_points"]

CACHE_VERSION = 1


@dataclass(frozen=True)
class _Dist:
    name: str


@dataclass(frozen=True)
class PluginEntry:
    """An entry point of the ``lithops`` group: ``name = module[:attr]`` from ``dist``."""

    name: str
    value: str
    dist: _Dist

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        module = import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            module = getattr(module, part)
        return module


def _fingerprint() -> str:
    parts = []
    for entry in sys.path:
        path = entry or os.getcwd()
        try:
            parts.append(f"{path}:{os.stat(path).st_mtime_ns}")
        except OSError:
            parts.append(f"{path}:-")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _cache_file() -> Path:
    return Path(os.path.expanduser("~")) / ".lithops" / "cache" / "entry_points.json"


def _scan(group: str) -> list[PluginEntry]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        found.append(PluginEntry(ep.name, ep.value, _Dist(dist)))
    return found


def find_entry_points(group: str) -> list[PluginEntry]:
    """The entry points of ``group``, from the cache when the import path has not changed."""
    if os.environ.get("LITHOPS_PLUGIN_CACHE", "1") == "0":
        return _scan(group)
    key = f"{CACHE_VERSION}:{group}:{_fingerprint()}"
    cache = _cache_file()
    try:
        data = json.loads(cache.read_text())
        if data.get("key") == key:
            return [PluginEntry(e["name"], e["value"], _Dist(e["dist"])) for e in data["entries"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    entries = _scan(group)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        payload = {
            "key": key,
            "entries": [{"name": e.name, "value": e.value, "dist": e.dist.name} for e in entries],
        }
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, cache)  # atomic: concurrent clients never read half a file
    except OSError:
        pass  # a read-only home only costs the scan next time
    return entries
