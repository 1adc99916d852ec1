"""What the serverless backends' tests share: the real ``lithops`` console script, its tables,
and a config written where the script reads it.

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

__all__ = ["LITHOPS", "cli", "rows", "sleep_for", "write_config"]

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


def sleep_for(seconds: float) -> float:
    """A call that takes ``seconds`` (for billed-duration tests)."""
    import time

    time.sleep(seconds)
    return seconds
