"""Fixtures of the multiprocessing tests: the standalone helpers are shared with them."""

from __future__ import annotations

import sys
from pathlib import Path

_STANDALONE = str(Path(__file__).resolve().parent.parent / "standalone")
if _STANDALONE not in sys.path:
    sys.path.insert(0, _STANDALONE)
