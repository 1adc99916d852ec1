"""The ``concurrent.futures`` interface of lithops: see :mod:`lithops.concurrent.futures`."""

from __future__ import annotations

from lithops.concurrent import futures
from lithops.concurrent.futures import *  # noqa: F403 - the package is its one module's names

__all__ = list(futures.__all__)
