"""What the serverless backends' tests share: the real ``lithops`` console script, its tables,
a config written where the script reads it, and the task functions the backends run.

Imported by name (``from serverless_helpers import cli``): tests/conftest.py puts this
directory on ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LITHOPS",
    "Unusual",
    "blob_size",
    "cli",
    "count_lines",
    "double",
    "make_blob",
    "raise_unusual",
    "read_object",
    "rows",
    "sleep_for",
    "total",
    "transport_leftovers",
    "write_config",
]

#: The console script installed beside this Python (a fresh machine has none on PATH).
LITHOPS = Path(sys.executable).with_name("lithops")
CLI_DEADLINE = 240


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``lithops ARGS`` in this test's environment; with ``ok``, it must exit 0."""
    assert LITHOPS.exists(), f"no lithops console script beside {sys.executable}"
    done = subprocess.run(
        [str(LITHOPS), *args],
        capture_output=True,
        text=True,
        timeout=CLI_DEADLINE,
        env=os.environ.copy(),
    )
    if ok:
        assert done.returncode == 0, f"lithops {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def rows(output: str) -> list[list[str]]:
    """The data rows of a ``lithops runtime list`` table (after the header and its rule)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("RUNTIME")) + 2
    return [line.split() for line in lines[start:] if line.strip() and not line[0].isdigit()]


def write_config(config: dict[str, Any], path: Path) -> str:
    """``config`` as a YAML file at ``path`` (for ``lithops -c``); returns the path."""
    path.write_text(yaml.safe_dump(config))
    return str(path)


def transport_leftovers(storage: Any) -> list[str]:
    """Keys of spilled payloads and batches still in the bucket (none once a job is done)."""
    return [
        k
        for k in storage.list_keys(storage.bucket, "lithops.jobs/")
        if "/spill/" in k or "/batches/" in k
    ]


def sleep_for(seconds: float) -> float:
    """A call that takes ``seconds`` (for billed-duration tests)."""
    import time

    time.sleep(seconds)
    return seconds


# -- task functions: what the backends run in their functions --------------------------


def double(x: int) -> int:
    return 2 * x


def total(results: list[int]) -> int:
    return sum(results)


class Unusual(Exception):
    def __init__(self, code: int, why: str) -> None:
        super().__init__(f"{why} ({code})")
        self.code = code


def raise_unusual(code: int) -> None:
    raise Unusual(code, "custom failure")


def blob_size(blob: bytes) -> int:
    return len(blob)


def make_blob(size: int) -> bytes:
    return os.urandom(size)


def count_lines(obj: Any) -> int:
    return obj.data_stream.read().count(b"\n")


def read_object(key: str, storage: Any) -> bytes:
    return storage.get_object(storage.bucket, key)
