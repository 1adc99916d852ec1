"""Storage backends that ship with the core: only the filesystem (``localhost``) one.

Cloud storages (``aws_s3``, ``gcp_storage``) come from their own distributions through the
``lithops`` entry-point group; see :mod:`lithops.storage.backend` for the interface.
"""

from __future__ import annotations

__all__: list[str] = []
