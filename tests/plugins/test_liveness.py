"""The core ends every call exactly once, whatever the backend does (lithops.testing)."""

from __future__ import annotations

from lithops.testing.liveness import LivenessContract


class TestCoreLiveness(LivenessContract):
    pass
