"""Finding the ``lithops`` entry points, with a cache that keeps cold starts short.

Scanning every installed distribution's metadata (and importing ``importlib.metadata``, which
brings ``email``, ``zipfile`` and ``csv``) costs tens of milliseconds at every client start. The
scan's result is kept in ``~/.lithops/cache/entry_points.json`` (one file per group) with what
it was read from: for each directory of ``sys.path``, its modification time and the
``entry_points.txt`` of every distribution in it (name and modification time). A directory
whose mtime is unchanged is trusted as is; one whose mtime changed (the working directory, say,
where scripts write files) is listed again, and the cache still holds if its distributions and
their entry points are the same. Installing, upgrading, reinstalling or removing a distribution
changes what is listed, and the next start scans. ``LITHOPS_PLUGIN_CACHE=0`` always scans.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["PluginEntry", "find_entry_points"]

CACHE_VERSION = 2
_METADATA_SUFFIXES = (".dist-info", ".egg-info")


class _Dist:
    """The distribution an entry point comes from (as much of it as the core uses)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class PluginEntry:
    """An entry point of a ``lithops`` group: ``name = module[:attr]`` from ``dist``.

    A plain class rather than a dataclass: this module is imported before a client's first
    warm-up hook runs (see :mod:`lithops.plugins.prestart`), and dataclasses bring ``inspect``.
    """

    __slots__ = ("dist", "name", "value")

    def __init__(self, name: str, value: str, dist: _Dist) -> None:
        self.name = name
        self.value = value
        self.dist = dist

    def __repr__(self) -> str:
        return f"PluginEntry({self.name!r}, {self.value!r}, dist={self.dist.name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PluginEntry):
            return NotImplemented
        return (self.name, self.value, self.dist.name) == (other.name, other.value, other.dist.name)

    def __hash__(self) -> int:
        return hash((self.name, self.value, self.dist.name))

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        module = import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            module = getattr(module, part)
        return module


def _search_path() -> list[str]:
    return list(dict.fromkeys(entry or os.getcwd() for entry in sys.path))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _distributions(path: str) -> list[list[Any]]:
    """``[name, mtime of its entry_points.txt]`` for each distribution in ``path``."""
    try:
        names = sorted(n for n in os.listdir(path) if n.endswith(_METADATA_SUFFIXES))
    except OSError:  # missing, or a zip file: its own mtime covers it
        return []
    return [[name, _mtime(os.path.join(path, name, "entry_points.txt"))] for name in names]


def _sources() -> dict[str, list[Any]]:
    """What a scan now would read: ``{path: [mtime, distributions]}``."""
    return {path: [_mtime(path), _distributions(path)] for path in _search_path()}


def _still_valid(cached: Any) -> bool:
    """Whether the cached sources match the import path now, listing only changed dirs."""
    if not isinstance(cached, dict):
        return False
    for path in _search_path():
        was = cached.get(path)
        if not isinstance(was, list) or len(was) != 2:
            if _distributions(path):  # a new directory on the path, with distributions
                return False
            continue
        if _mtime(path) != was[0] and _distributions(path) != was[1]:
            return False
    now = set(_search_path())
    # A directory that left the path took its distributions with it.
    return not any(dists for path, (_, dists) in cached.items() if path not in now)


def _cache_file(group: str) -> Path:
    name = "entry_points.json" if group == "lithops" else f"entry_points.{group}.json"
    return Path(os.path.expanduser("~")) / ".lithops" / "cache" / name


def _scan(group: str) -> list[PluginEntry]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        found.append(PluginEntry(ep.name, ep.value, _Dist(dist)))
    return found


def find_entry_points(group: str) -> list[PluginEntry]:
    """The entry points of ``group``, from the cache when no distribution changed."""
    if os.environ.get("LITHOPS_PLUGIN_CACHE", "1") == "0":
        return _scan(group)
    cache = _cache_file(group)
    try:
        data = json.loads(cache.read_text())
        current = data.get("version") == CACHE_VERSION and data.get("group") == group
        if current and _still_valid(data.get("sources")):
            return [PluginEntry(e["name"], e["value"], _Dist(e["dist"])) for e in data["entries"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sources = _sources()
    entries = _scan(group)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        payload = {
            "version": CACHE_VERSION,
            "group": group,
            "sources": sources,
            "entries": [{"name": e.name, "value": e.value, "dist": e.dist.name} for e in entries],
        }
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, cache)  # atomic: concurrent clients never read half a file
    except OSError:
        pass  # a read-only home only costs the scan next time
    return entries
