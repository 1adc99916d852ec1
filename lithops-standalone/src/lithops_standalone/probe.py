"""Host side of ``lithops worker list``/``job list``/``standalone clean``: ask every agent.

``python3 -m lithops_standalone.probe status|stop`` visits each bootstrap directory under
``~/.lithops/standalone`` (every client version), talks to its agent over its unix socket when
one runs, and prints one JSON object per directory. Never starts an agent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from lithops import wire
from lithops_standalone.relay import PID_NAME, SOCKET_NAME

__all__ = ["main"]

_ROOT = Path.home() / ".lithops" / "standalone"


def _ask(directory: Path, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    here = os.getcwd()
    try:
        os.chdir(directory)  # relative socket path: see relay.py
        sock.connect(SOCKET_NAME)
    except OSError:
        sock.close()
        return None
    finally:
        os.chdir(here)
    try:
        with sock, sock.makefile("rb") as reader:
            payload = wire.encode(message)
            sock.sendall(len(payload).to_bytes(4, "big") + payload)
            frame = wire.read_frame(reader)
            return wire.decode(frame) if frame else None
    except (OSError, EOFError):
        return None


def _pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_NAME).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(directory: Path) -> dict[str, Any]:
    pid = _pid(directory)
    answer = _ask(directory, {"t": "stop"})
    if pid is None or not _alive(pid):
        return {"stopped": answer is not None}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # it did not dismantle: at least free the host
        return {"stopped": True, "killed": pid}
    return {"stopped": True}


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "status"
    if not _ROOT.is_dir():
        return 0
    for directory in sorted(p for p in _ROOT.iterdir() if p.is_dir()):
        if ".partial-" in directory.name:
            continue  # an upload in progress (or interrupted): no agent there
        report: dict[str, Any] = {"tag": directory.name, "directory": str(directory)}
        if action == "stop":
            report.update(_stop(directory))
        else:
            report["agent"] = _ask(directory, {"t": "status"})
        print(json.dumps(report, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
