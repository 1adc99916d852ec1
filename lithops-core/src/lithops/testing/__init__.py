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

For tests below the executor, :mod:`lithops.testing.kit` has a recording event sink
(:class:`RecordingSink`), a batch builder (:func:`build_batch`) and a fake installed
distribution (:func:`installed_distribution`, also the ``make_distribution`` fixture).
``pytest_plugins = ["lithops.testing"]`` in a root ``conftest.py`` also gives the
``lithops_home`` fixture (an isolated ``~/.lithops``).

The suite's names load on first use, so workers can unpickle :mod:`lithops.testing.tasks`
without pytest installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lithops.lazy import lazy_getattr

if TYPE_CHECKING:
    from lithops.storage.contract import StorageContract
    from lithops.testing.contract import BackendContract, lithops_home, make_distribution
    from lithops.testing.kit import (
        RecordingSink,
        build_batch,
        installed_distribution,
        write_distribution,
    )

__all__ = [
    "BackendContract",
    "RecordingSink",
    "StorageContract",
    "build_batch",
    "installed_distribution",
    "lithops_home",
    "make_distribution",
    "write_distribution",
]

_LAZY = {
    "BackendContract": "lithops.testing.contract",
    "lithops_home": "lithops.testing.contract",
    "make_distribution": "lithops.testing.contract",
    "RecordingSink": "lithops.testing.kit",
    "build_batch": "lithops.testing.kit",
    "installed_distribution": "lithops.testing.kit",
    "write_distribution": "lithops.testing.kit",
    "StorageContract": "lithops.storage.contract",
}


__getattr__ = lazy_getattr("lithops.testing", _LAZY)


def __dir__() -> list[str]:
    # pytest finds a plugin's fixtures (``lithops_home``) by listing the module
    return sorted(set(globals()) | set(__all__))
