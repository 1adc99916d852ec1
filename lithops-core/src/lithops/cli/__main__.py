"""``python -m lithops.cli``: the ``lithops`` command without the console script."""

from __future__ import annotations

from lithops.cli import main

main()
