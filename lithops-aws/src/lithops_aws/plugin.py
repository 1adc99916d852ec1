"""The lithops-aws plugin module: registers ``aws_lambda`` and ``aws_s3``."""

from __future__ import annotations

__all__: list[str] = []
