"""Fixtures shared by the Lithops API tests: one isolated home and executor per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``~/.lithops``, logs and the working directory in a fresh dir, no config file."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("LITHOPS_LOGS_DIR", str(home / "logs"))
        for var in ("LITHOPS_CONFIG_FILE", "LITHOPS_CONFIG"):
            mp.delenv(var, raising=False)
        mp.chdir(home)
        yield home


@pytest.fixture(scope="module")
def fexec(home: Path) -> Iterator[lithops.FunctionExecutor]:
    """A zero-config executor shared by a module's tests (the localhost pool stays warm)."""
    with lithops.FunctionExecutor() as executor:
        yield executor
