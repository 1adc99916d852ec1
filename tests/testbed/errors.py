"""Errors raised when a testbed component cannot be provided."""

from __future__ import annotations

__all__ = ["TestbedUnavailable"]


class TestbedUnavailable(RuntimeError):
    """A component (engine, image, host) could not be started on this machine.

    The message says what failed and which command installs or starts it, so the
    fixtures can turn it into a skip (developer machine) or a failure (``CI=true``).
    """

    # pytest must not collect this as a test class despite the ``Test`` prefix.
    __test__ = False
