"""Function output kept on the host, so ``lithops logs`` works without the client's records.

The agent appends every line a call prints to ``logs/<host>/<executor_id>/<job_id>.log`` in its
bootstrap directory, in the core's format (``tstamp<TAB>call_id<TAB>text``, see
:mod:`lithops.logs`). ``python3 -m lithops_standalone.logtail [--follow] [--job KEY]`` prints
the lines of every bootstrap directory on the host as JSON, following new ones when asked:
what the client's ``lithops_stream_logs`` reads over SSH. Writing and tailing are the core's
(:func:`lithops.logs.format_lines`, :func:`lithops.logs.tail_lines`), shipped in the bundle.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path

from lithops.logs import format_lines, tail_lines

__all__ = ["LOGS_DIR", "append_lines", "log_path", "main", "prune"]

LOGS_DIR = "logs"
#: Log files untouched for this long are removed when an agent starts.
KEEP_SECONDS = 3 * 24 * 3600


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
    text = format_lines(call_id, lines)
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
    pattern = f"*/{LOGS_DIR}/*/{job}.log" if job else f"*/{LOGS_DIR}/*/*/*.log"
    # Following: only what is new, as `lithops logs poll` does locally.
    for line in tail_lines(lambda: base.glob(pattern), follow=follow):
        print(json.dumps([f"{line.tstamp:.6f}", line.job_key, line.call_id, line.text]))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
