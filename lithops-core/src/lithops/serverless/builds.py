"""Runtime builds kept in the storage bucket, for backends whose runtimes are source packages.

``lithops runtime build -f requirements.txt NAME -b BACKEND`` on a backend that deploys a zip
of code (not an image) makes the function's whole source (the worker package plus a
requirements file the platform installs at deploy) and keeps it in the configured storage
bucket under :func:`build_key`, so that a deploy on any machine with the same config finds it;
nothing deletes it but the user (or the next build of the same name, which replaces it)::

    from lithops.serverless.builds import load_build, read_requirements, store_build

    text = read_requirements(file)                       # -f, default ./requirements.txt
    where = store_build(config, "my_functions", name, archive)
    archive = load_build(config, "my_functions", name)   # RuntimeNotBuiltError if never built

Runtime names are what a cloud's labels accept (:func:`check_runtime_name`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from lithops.errors import ConfigError

__all__ = [
    "BUILDS_PREFIX",
    "RuntimeNotBuiltError",
    "build_key",
    "check_runtime_name",
    "load_build",
    "read_requirements",
    "store_build",
]

#: where builds live in the storage bucket: ``<prefix>/<backend>/<name>.zip``
BUILDS_PREFIX = "lithops.runtimes"
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


class RuntimeNotBuiltError(ConfigError):
    """A named runtime was asked for, but ``lithops runtime build`` never stored it."""


def build_key(backend: str, name: str) -> str:
    """The storage key of the build of runtime ``name`` for ``backend``."""
    return f"{BUILDS_PREFIX}/{backend}/{name}.zip"


def check_runtime_name(name: str, backend: str) -> str:
    """``name`` if it can name a runtime (lowercase letters, digits, ``_``, ``-``; starts with
    a letter; at most 40 characters: it becomes a label value and part of a storage key)."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{backend} runtime name {name!r}: use lowercase letters, digits, '_' and '-', "
            f"starting with a letter, at most 40 characters (e.g. my_runtime)"
        )
    return name


def read_requirements(file: str | None) -> str:
    """The text of the requirements file ``file`` (default ``./requirements.txt``)."""
    path = os.path.abspath(file or "requirements.txt")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"no requirements file at {path}; name one with -f/--file "
            f"(`lithops runtime build -f requirements.txt NAME -b BACKEND`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the requirements file {path}: {exc}") from exc


def _storage(config: Mapping[str, Any], backend: str) -> Any:
    from lithops.storage import Storage

    try:
        return Storage(config=dict(config))
    except Exception as exc:
        raise ConfigError(
            f"{backend} keeps built runtimes in the storage bucket, but no storage is usable "
            f"({exc}); configure lithops.storage and its bucket"
        ) from exc


def store_build(config: Mapping[str, Any], backend: str, name: str, archive: bytes) -> str:
    """Keep ``archive`` as the build of ``name``; returns ``bucket/key``."""
    storage = _storage(config, backend)
    key = build_key(backend, name)
    storage.put_object(storage.bucket, key, archive)
    return f"{storage.bucket}/{key}"


def load_build(config: Mapping[str, Any], backend: str, name: str) -> bytes:
    """The build of ``name``; :class:`RuntimeNotBuiltError` when there is none."""
    from lithops.storage import StorageNoSuchKeyError

    storage = _storage(config, backend)
    key = build_key(backend, name)
    try:
        data = storage.get_object(storage.bucket, key)
    except StorageNoSuchKeyError:
        raise RuntimeNotBuiltError(
            f"{backend} runtime {name!r} is not built (no {storage.bucket}/{key}): run "
            f"`lithops runtime build -f requirements.txt {name} -b {backend}` first, or remove "
            f"'runtime' from the {backend} section to use the default runtime"
        ) from None
    assert isinstance(data, bytes)
    return data
