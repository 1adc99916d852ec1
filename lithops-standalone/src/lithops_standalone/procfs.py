"""Processes on a Linux host, from /proc: what ``lithops worker list`` shows."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

__all__ = ["child_processes"]


def child_processes(pid: int) -> list[dict[str, Any]]:
    """Descendants of ``pid`` from /proc (Linux): what ``lithops worker list`` shows."""
    children: dict[int, list[int]] = defaultdict(list)
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
        commands[int(entry)] = cmd
    out: list[dict[str, Any]] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append({"pid": child, "command": commands.get(child, "")[:120]})
        todo.extend(children.get(child, []))
    return sorted(out, key=lambda p: p["pid"])
