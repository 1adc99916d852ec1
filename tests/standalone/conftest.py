"""Fixtures of the standalone tests (helpers live in standalone_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def fresh_host(ssh_host_factory: Callable[..., Any], lithops_home: Any) -> Iterator[Any]:
    """A pristine bookworm host (nothing bootstrapped yet), removed after the test."""
    yield ssh_host_factory("bookworm")
