"""Lithops on Google Cloud: the ``gcp_functions`` serverless backend and ``gcp_storage``.

Registered through the ``lithops`` entry point (``lithops_gcp.plugin``), exactly as a third
party's backend would be. Configuration sections: ``gcp`` (project, region and credentials,
shared by every service), ``gcp_functions`` and ``gcp_storage``.
"""

from __future__ import annotations

from lithops.version import __version__

__all__ = ["__version__"]
