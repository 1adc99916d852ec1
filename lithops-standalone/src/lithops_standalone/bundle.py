"""What a host needs to run our agent: the client's own installed packages, as one archive.

The host has only ``python3``: no pip, no internet. So the client ships the exact code it runs
itself: the lithops packages and their pure-Python dependencies, read from where they are
installed (editable checkouts included), compiled extensions left out (a host may have another
CPU or libc; every package listed has a pure-Python fallback). The archive's content hash names
the host directory, so a client of another version (or a patched checkout) installs beside the
old one and an unchanged client never uploads twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lithops.version import __version__

__all__ = ["DOCKER_PACKAGES", "REQUIRED_PACKAGES", "Bundle", "current_bundle"]

#: Imported by the agent and the worker runtime on every host.
REQUIRED_PACKAGES = ("lithops", "lithops_localhost", "lithops_standalone", "cloudpickle", "pluggy")
#: Needed on hosts whose runtime is a Docker image (the agent drives the host's Docker engine).
DOCKER_PACKAGES = ("docker", "requests", "urllib3", "idna", "certifi", "charset_normalizer")

#: Shipped when installed on the client: lithops.multiprocessing's Redis client.
OPTIONAL_PACKAGES = ("redis", "async_timeout")

_SKIP_DIRS = {"__pycache__", "tests"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")


@dataclass(frozen=True)
class Bundle:
    """The file list of the packages to ship and its content hash."""

    #: ``(path inside the archive, content)``, sorted; read once, so the archive is exactly
    #: what the digest names even if a checkout changes meanwhile
    files: tuple[tuple[str, bytes], ...]
    digest: str
    packages: tuple[str, ...]

    @property
    def tag(self) -> str:
        """The host directory name: ``<version>-<12 hex digits of the content hash>``."""
        return f"{__version__}-{self.digest[:12]}"

    def archive(self) -> bytes:
        """A gzip'd tar of the packages (fast compression: the upload is on a LAN, usually)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
            for arcname, content in self.files:
                info = tarfile.TarInfo(arcname)
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()


_cache: dict[tuple[str, ...], Bundle] = {}
_cache_lock = threading.Lock()


def current_bundle(with_docker: bool = True) -> Bundle:
    """The bundle of this client's installed packages (computed once per process)."""
    names = REQUIRED_PACKAGES + OPTIONAL_PACKAGES + (DOCKER_PACKAGES if with_docker else ())
    with _cache_lock:
        bundle = _cache.get(names)
        if bundle is None:
            bundle = _build(names)
            _cache[names] = bundle
        return bundle


def _build(names: tuple[str, ...]) -> Bundle:
    files: list[tuple[str, bytes]] = []
    found: list[str] = []
    for name in names:
        root = _package_root(name)
        if root is None:
            if name in REQUIRED_PACKAGES:
                raise ModuleNotFoundError(
                    f"{name} is not installed on this client, so it cannot be sent to the hosts; "
                    f"reinstall lithops-standalone (`pip install lithops-standalone`)"
                )
            continue
        found.append(name)
        files.extend(_package_files(name, root))
    files.sort()
    digest = hashlib.sha256()
    for arcname, content in files:
        digest.update(arcname.encode() + b"\0")
        digest.update(content)
        digest.update(b"\0")
    return Bundle(files=tuple(files), digest=digest.hexdigest(), packages=tuple(found))


def _package_root(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_files(name: str, root: Path) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        for filename in filenames:
            if filename.endswith(_SKIP_SUFFIXES) or filename.startswith("."):
                continue
            arcname = (Path(name) / rel_dir / filename).as_posix()
            out.append((arcname, Path(dirpath, filename).read_bytes()))
    return out
