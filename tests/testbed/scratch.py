"""Where the testbed keeps its state, and a lock to share it between concurrent runs.

State lives outside the repository (``/var/tmp/lithops-testbed`` unless
``LITHOPS_TESTBED_DIR`` says otherwise) so that the engine's data root, and with it the
built images, survives across checkouts and runs.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["file_lock", "log", "scratch_dir"]


def scratch_dir(*parts: str) -> Path:
    """Return (and create) a directory under the testbed's scratch root."""
    root = Path(os.environ.get("LITHOPS_TESTBED_DIR", "/var/tmp/lithops-testbed"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def file_lock(name: str, machine_wide: bool = False) -> Iterator[None]:
    """Hold an exclusive lock shared by every process using the same scratch root.

    Several developers run pytest at once on one machine; the lock keeps two runs from
    starting two engines or building the same image twice. ``machine_wide`` locks are
    shared across scratch roots too: host routes (test subnets) belong to the machine.
    """
    directory = Path("/var/tmp") if machine_wide else scratch_dir("locks")
    prefix = "lithops-testbed-" if machine_wide else ""
    with open(directory / f"{prefix}{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log(message: str) -> None:
    """Say what the testbed is doing; builds take minutes and should not look hung."""
    print(f"[testbed] {message}", file=sys.stderr, flush=True)
