"""Object storage: the ``Storage`` API and the embedded filesystem backend.

``Storage()`` talks to the configured storage backend (``lithops.storage`` in the config,
``localhost`` by default: files under ``~/.lithops/storage``). Other backends are plugins; see
:mod:`lithops.storage.backend` for the interface they implement and
:mod:`lithops.storage.contract` for the test suite they run. :mod:`lithops.storage.partition`
splits objects into the chunks that functions with an ``obj`` parameter receive.
"""

from __future__ import annotations

from lithops.storage.storage import Storage
from lithops.storage.utils import CloudObject, StorageNoSuchKeyError

__all__ = ["CloudObject", "Storage", "StorageNoSuchKeyError"]
