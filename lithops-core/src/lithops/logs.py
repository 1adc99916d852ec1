"""Function output on the client: recorded per job as it streams in, tailed by ``lithops logs``.

Every executor appends the lines its calls print to ``<logs dir>/<executor_id>/<job_id>.log``
(``LITHOPS_LOGS_DIR``, default ``~/.lithops/logs``), one ``tstamp<TAB>call_id<TAB>text`` per
line, flushed as they arrive, so ``lithops logs poll`` in another process shows them live.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lithops.plugins.types import CallKey, LogLine

__all__ = ["LogRecorder", "format_lines", "logs_dir", "read_logs", "tail_lines"]

#: How often ``poll`` looks for new lines.
POLL_INTERVAL = 0.1


def logs_dir() -> Path:
    return Path(os.environ.get("LITHOPS_LOGS_DIR") or Path.home() / ".lithops" / "logs")


class LogRecorder:
    """Appends the log lines of one executor's calls to per-job files."""

    def __init__(self, executor_id: str) -> None:
        self.executor_id = executor_id
        self._dir = logs_dir() / executor_id
        self._files: dict[str, IO[str]] = {}
        self._lock = threading.Lock()

    def write(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        job_key, call_id = key
        job_id = job_key.rsplit("/", 1)[-1]
        text = format_lines(call_id, lines)
        with self._lock:
            handle = self._files.get(job_id)
            if handle is None:
                self._dir.mkdir(parents=True, exist_ok=True)
                handle = self._files[job_id] = open(self._dir / f"{job_id}.log", "a")  # noqa: SIM115
            handle.write(text)
            handle.flush()

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()

    def remove(self) -> None:
        import shutil  # shutil brings bz2 and lzma: not on the cold path

        self.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def format_lines(call_id: str, lines: Sequence[tuple[float, str]]) -> str:
    """Log lines as recorded in a job's file: ``tstamp<TAB>call_id<TAB>text`` each."""
    return "".join(f"{t:.6f}\t{call_id}\t{line.replace(chr(10), ' ')}\n" for t, line in lines)


def tail_lines(
    find: Callable[[], Iterable[Path]],
    follow: bool = False,
    stop: Any = None,
    since: float | None = None,
) -> Iterator[LogLine]:
    """The lines of the job files ``find()`` lists (``.../<executor_id>/<job_id>.log``).

    With ``follow``, keep yielding new lines (from files that appear later too) until ``stop``
    (a ``threading.Event``) is set; only what is written from now on, unless ``since`` says
    otherwise. ``since`` skips files untouched since that time. Only complete lines are read.
    """
    offsets: dict[Path, int] = {}
    if follow and since is None:
        since = time.time()
    while True:
        for path in sorted(find()):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path not in offsets:
                offsets[path] = stat.st_size if (since and stat.st_mtime < since) else 0
            if stat.st_size <= offsets[path]:
                continue
            with open(path, "rb") as handle:
                handle.seek(offsets[path])
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            offsets[path] += len(complete)
            job_key = f"{path.parent.name}/{path.stem}"
            for raw in complete.decode(errors="replace").splitlines():
                parts = raw.split("\t", 2)
                if len(parts) == 3:
                    yield LogLine(float(parts[0]), job_key, parts[1], parts[2])
        if not follow or (stop is not None and stop.is_set()):
            return
        time.sleep(POLL_INTERVAL)


def read_logs(
    job_key: str | None = None, follow: bool = False, stop: Any = None, since: float | None = None
) -> Iterator[LogLine]:
    """Lines recorded for ``job_key`` (``executor_id/job_id``) or for every job.

    With ``follow``, keep yielding new lines (from files that appear later too) until ``stop``
    (a ``threading.Event``) is set. ``since`` skips files untouched since that time.
    """
    root = logs_dir()
    pattern = f"{job_key}.log" if job_key else "*/*.log"
    return tail_lines(lambda: root.glob(pattern), follow, stop, since)
