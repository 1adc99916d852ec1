"""The backend contract suite: what every lithops compute backend must do.

A backend's test module subclasses :class:`BackendContract` and names its backend::

    from lithops.testing import BackendContract

    class TestMyBackend(BackendContract):
        backend = "mybackend"

        @pytest.fixture
        def executor_config(self):          # optional: how to reach it in tests
            return {"lithops": {"backend": "mybackend"}, "mybackend": {...}}

Tests of optional behaviour are skipped, with the reason, unless the backend declares the
capability in its ``BackendInfo``: ``timeout``, ``worker_lost``, ``cancel``, ``logs``.
Storage backends subclass :class:`StorageContract` the same way.
``pytest_plugins = ["lithops.testing"]`` in a root ``conftest.py`` also gives the
``lithops_home`` fixture (an isolated ``~/.lithops``).
"""

from __future__ import annotations

from lithops.storage.contract import StorageContract
from lithops.testing.contract import BackendContract, lithops_home

__all__ = ["BackendContract", "StorageContract", "lithops_home"]
