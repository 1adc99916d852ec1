"""Ship the client's own lithops code into a container, as a tar archive.

The Docker engine may be remote (in standalone mode the agent's docker socket can belong to
another machine), so a bind mount of a host path is not an option: the code travels through the
engine API instead (``put_archive``). The archive holds the package directories exactly as the
client has them installed, so the worker in the container runs the same lithops version as the
client, whatever the image has installed itself.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import tarfile
import time
from collections.abc import Iterator

from lithops.errors import BackendUnavailableError

__all__ = ["WORKER_PACKAGES", "code_archive", "package_paths"]

#: What ``python -m lithops.worker`` imports beyond the standard library.
WORKER_PACKAGES: tuple[str, ...] = ("lithops", "cloudpickle")

_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


def package_paths(name: str) -> list[str]:
    """Where the importable ``name`` lives: its package directories, or its single module file."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise BackendUnavailableError(
            f"cannot ship {name!r} into the container: it is not importable on this client; "
            f"install it (`pip install {name}`)"
        )
    if spec.submodule_search_locations:
        return [os.fspath(p) for p in spec.submodule_search_locations]
    if spec.origin and os.path.isfile(spec.origin):
        return [spec.origin]
    raise BackendUnavailableError(
        f"cannot ship {name!r} into the container: it is not loaded from files ({spec.origin})"
    )


@functools.lru_cache(maxsize=8)
def code_archive(prefix: str, packages: tuple[str, ...] = WORKER_PACKAGES) -> bytes:
    """A tar archive placing each of ``packages`` under ``prefix`` (e.g. ``opt/lithops-code``).

    ``packages`` are top-level import names. Built once per process and argument pair: every
    container of every launcher gets the same bytes. Entries are owned by root and
    world-readable, so an image with a non-root ``USER`` can import them.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        # Only the prefix's own directory: an entry for an existing parent (``opt``) would
        # reset that directory's mode in the container; the engine creates missing parents.
        tar.addfile(_dir_info(prefix.strip("/")))
        for name in packages:
            for path in package_paths(name):
                if os.path.isdir(path):
                    _add_tree(tar, path, f"{prefix}/{name}")
                else:
                    _add_file(tar, path, f"{prefix}/{os.path.basename(path)}")
    return buffer.getvalue()


def _add_tree(tar: tarfile.TarFile, root: str, arc_root: str) -> None:
    for dirpath, arcdir in _walk(root, arc_root):
        tar.addfile(_dir_info(arcdir))
        for entry in sorted(os.listdir(dirpath)):
            path = os.path.join(dirpath, entry)
            if os.path.isfile(path) and not entry.endswith(_SKIP_SUFFIXES):
                _add_file(tar, path, f"{arcdir}/{entry}")


def _walk(root: str, arc_root: str) -> Iterator[tuple[str, str]]:
    yield root, arc_root
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if entry not in _SKIP_DIRS and os.path.isdir(path):
            yield from _walk(path, f"{arc_root}/{entry}")


def _dir_info(arcname: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(time.time())  # not the epoch: tools warn about entries from 1970
    return info


def _add_file(tar: tarfile.TarFile, path: str, arcname: str) -> None:
    info = tar.gettarinfo(path, arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.mode & 0o111 else 0o644
    with open(path, "rb") as handle:
        tar.addfile(info, handle)
