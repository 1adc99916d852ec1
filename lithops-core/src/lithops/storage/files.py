"""Local files of ``Storage.upload_file``/``download_file``: the rules every storage backend
follows, written once (backends with their own transfer call these too)."""

from __future__ import annotations

import os

__all__ = ["download_path", "upload_key"]


def upload_key(file_name: str, key: str | None) -> str:
    """The key an upload of ``file_name`` goes to: ``key``, else the file's base name."""
    return key or os.path.basename(file_name)


def download_path(key: str, file_name: str | None) -> str:
    """Where a download of ``key`` is written: ``file_name``, else a path named like the
    key (relative to the working directory); its folder is made when missing."""
    dest = file_name or key
    if os.path.dirname(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
    return dest
