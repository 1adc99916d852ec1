"""Lithops on AWS: the ``aws_lambda`` serverless backend and ``aws_s3`` storage.

Registered through the ``lithops`` entry point (``lithops_aws.plugin``), exactly as a third
party's backend would be. Configuration sections: ``aws`` (region and optional credentials,
shared by every service), ``aws_lambda`` and ``aws_s3``.
"""

from __future__ import annotations

from lithops.version import __version__

__all__ = ["__version__"]
