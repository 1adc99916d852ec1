"""Function output kept on the host, so ``lithops logs`` works without the client's records.

The agent appends every line a call prints to ``logs/<host>/<executor_id>/<job_id>.log`` in its
bootstrap directory, in the core's format (``tstamp<TAB>call_id<TAB>text``, see
:mod:`lithops.logs`). ``python3 -m lithops_standalone.logtail [--follow] [--job KEY]`` prints
the lines of every bootstrap directory on the host as JSON, following new ones when asked:
what the client's ``lithops_stream_logs`` reads over SSH. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path

__all__ = ["LOGS_DIR", "append_lines", "log_path", "main", "prune"]

LOGS_DIR = "logs"
#: Log files untouched for this long are removed when an agent starts.
KEEP_SECONDS = 3 * 24 * 3600
_POLL = 0.1


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"


def log_path(root: Path, job_key: str) -> Path:
    """``root/logs/<host>/<executor_id>/<job_id>.log`` (path separators in keys neutralised).

    Per host: hosts sharing a home directory over NFS never append to the same file.
    """
    executor_id, _, job_id = job_key.rpartition("/")
    parts = [p.replace(os.sep, "_").replace("..", "_") or "_" for p in (executor_id, job_id)]
    return root / LOGS_DIR / _host() / parts[0] / f"{parts[1]}.log"


def append_lines(root: Path, job_key: str, call_id: str, lines: list[tuple[float, str]]) -> None:
    path = log_path(root, job_key)
    text = "".join(f"{t:.6f}\t{call_id}\t{line.replace(chr(10), ' ')}\n" for t, line in lines)
    try:
        with open(path, "a") as fh:
            fh.write(text)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fh.write(text)


def prune(root: Path, keep: float = KEEP_SECONDS) -> None:
    """Remove old log files (and emptied executor directories)."""
    cutoff = time.time() - keep
    for path in (root / LOGS_DIR / _host()).glob("*/*.log"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                if not any(path.parent.iterdir()):
                    path.parent.rmdir()
        except OSError:
            pass


def main(argv: list[str]) -> int:
    follow = "--follow" in argv
    job = argv[argv.index("--job") + 1] if "--job" in argv else None
    base = Path.home() / ".lithops" / "standalone"
    offsets: dict[Path, int] = {}
    start = time.time()
    while True:
        pattern = f"*/{LOGS_DIR}/*/{job}.log" if job else f"*/{LOGS_DIR}/*/*/*.log"
        for path in sorted(base.glob(pattern)):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path not in offsets:
                # Following: only what is new, as `lithops logs poll` does locally.
                offsets[path] = stat.st_size if follow and stat.st_mtime < start else 0
            if stat.st_size <= offsets[path]:
                continue
            with open(path, "rb") as fh:
                fh.seek(offsets[path])
                data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]
            offsets[path] += len(complete)
            job_key = f"{path.parent.name}/{path.stem}"
            for raw in complete.decode(errors="replace").splitlines():
                parts = raw.split("\t", 2)
                if len(parts) == 3:
                    print(json.dumps([parts[0], job_key, parts[1], parts[2]]))
            sys.stdout.flush()
        if not follow:
            return 0
        time.sleep(_POLL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
