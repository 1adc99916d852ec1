"""Import paths Lithops 3.x programs use (``from lithops.utils import FuturesList``)."""

from __future__ import annotations

from lithops.futures_list import FuturesList

__all__ = ["FuturesList"]
