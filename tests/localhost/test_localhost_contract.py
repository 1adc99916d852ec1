"""lithops-localhost passes the backend contract suite, in the default python3 environment."""

from __future__ import annotations

from lithops.testing import BackendContract


class TestLocalhostContract(BackendContract):
    backend = "localhost"
