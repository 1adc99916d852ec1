"""The worker package: the client's own installed code, ready to ship to where calls run.

A worker elsewhere (a serverless function, a VM with only ``python3``, a container) must run
the same lithops the client runs, whatever is installed there. So the client ships the code it
imports itself: the packages named, read from where they are installed (editable checkouts
included), compiled extensions and byte code left out (the other side may have another CPU,
libc or Python patch level; every package shipped this way must work without its extensions).

The content digest names the package: a client of another version, or a patched checkout,
gets another name, and an unchanged client never ships twice::

    from lithops.packaging import worker_package

    package = worker_package(extra=("lithops_aws",))
    package.tag           # '0.1.0-3f2a9c0d1e4b'
    package.zip()         # deterministic bytes: same files, same archive

Every backend ships workers through this one helper: the serverless backends upload
``zip()`` as the function's code, standalone's bootstrap uploads ``tar()`` and names the host
directory by ``tag``, and localhost's Docker environment copies ``tar(prefix, compress=False)``
into each container through the engine API.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lithops.errors import BackendUnavailableError
from lithops.version import __version__

__all__ = [
    "LIBRARY_PACKAGES",
    "WORKER_PACKAGES",
    "WorkerPackage",
    "package_files",
    "worker_package",
]

#: What the worker runtime (``lithops.worker``) imports beyond the standard library.
WORKER_PACKAGES: tuple[str, ...] = ("lithops", "cloudpickle")
#: Shipped in every worker package when installed on the client: what objects of lithops'
#: library APIs need inside calls (``lithops.multiprocessing``'s Redis client; async_timeout:
#: redis needs it on Python < 3.11.3).
LIBRARY_PACKAGES: tuple[str, ...] = ("redis", "async_timeout")

_SKIP_DIRS = frozenset({"__pycache__", "tests"})
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")
# A fixed timestamp keeps archives of the same files byte-identical (zip needs >= 1980; tar
# tools warn about entries from the epoch).
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_TAR_MTIME = 1577836800  # the same moment, 2020-01-01T00:00:00Z


@dataclass(frozen=True)
class WorkerPackage:
    """The files of the packages to ship and their content digest."""

    #: ``(path inside the archive, content)``, sorted; read once, so an archive is exactly
    #: what the digest names even if a checkout changes meanwhile
    files: tuple[tuple[str, bytes], ...]
    #: sha256 hex digest over every path and content
    digest: str
    #: the top-level import names found and shipped
    packages: tuple[str, ...]

    @property
    def tag(self) -> str:
        """``<lithops version>-<12 hex digits of the digest>``: names a runtime or directory."""
        return f"{__version__}-{self.digest[:12]}"

    @property
    def size(self) -> int:
        """Uncompressed size of every file, in bytes."""
        return sum(len(content) for _, content in self.files)

    def zip(self, extra_files: Mapping[str, bytes] | None = None) -> bytes:
        """A deflated zip with the packages at its root (a serverless function's code).

        :param extra_files: more ``{path: content}`` to add (a handler module, say).
        """
        buffer = io.BytesIO()
        entries = list(self.files) + sorted((extra_files or {}).items())
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for arcname, content in entries:
                info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, content, compresslevel=6)
        return buffer.getvalue()

    def tar(self, prefix: str = "", compress: bool = True) -> bytes:
        """A tar of the packages (gzip'd, fast level, when ``compress``), under ``prefix``.

        Every directory has its own entry (mode 0755) and every entry is owned by root and
        world-readable, so a container whose image runs as another user can import the code.
        Parents of ``prefix`` get no entry: extracting one over an existing directory (say
        ``opt``) would reset that directory's mode.
        """
        buffer = io.BytesIO()
        mode = "w:gz" if compress else "w"
        kwargs = {"compresslevel": 1} if compress else {}
        root = prefix.strip("/")
        with tarfile.open(fileobj=buffer, mode=mode, **kwargs) as tar:  # type: ignore[call-overload]
            made: set[str] = set()
            if root:
                tar.addfile(_tar_info(root, directory=True))
            for arcname, content in self.files:
                parts = arcname.split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    directory = "/".join(parts[:depth])
                    if directory not in made:
                        made.add(directory)
                        path = f"{root}/{directory}" if root else directory
                        tar.addfile(_tar_info(path, directory=True))
                info = _tar_info(f"{root}/{arcname}" if root else arcname)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()


def _tar_info(name: str, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    if directory:
        info.type = tarfile.DIRTYPE
    info.mode = 0o755 if directory else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = _TAR_MTIME
    return info


_cache: dict[tuple[tuple[str, ...], tuple[str, ...]], WorkerPackage] = {}
_cache_lock = threading.Lock()


def worker_package(extra: Iterable[str] = (), optional: Iterable[str] = ()) -> WorkerPackage:
    """The package of the worker runtime plus ``extra`` (computed once per process).

    :param extra: more top-level import names that must be shipped (a backend's own package).
    :param optional: import names shipped when installed, skipped otherwise (besides
        :data:`LIBRARY_PACKAGES`, always optional).
    :raises BackendUnavailableError: a required package is not importable on this client.
    """
    required = tuple(dict.fromkeys((*WORKER_PACKAGES, *extra)))
    maybe = tuple(n for n in dict.fromkeys((*optional, *LIBRARY_PACKAGES)) if n not in required)
    key = (required, maybe)
    with _cache_lock:
        package = _cache.get(key)
        if package is None:
            package = _cache[key] = _build(required, maybe)
        return package


def _build(required: tuple[str, ...], optional: tuple[str, ...]) -> WorkerPackage:
    files: list[tuple[str, bytes]] = []
    found: list[str] = []
    for name in required + optional:
        try:
            found_files = package_files(name)
        except BackendUnavailableError:
            if name in required:
                raise
            continue
        found.append(name)
        files.extend(found_files)
    files.sort()
    digest = hashlib.sha256()
    for arcname, content in files:
        digest.update(arcname.encode() + b"\0")
        digest.update(content)
        digest.update(b"\0")
    return WorkerPackage(files=tuple(files), digest=digest.hexdigest(), packages=tuple(found))


def package_files(name: str) -> list[tuple[str, bytes]]:
    """``(path inside an archive, content)`` of the importable ``name``: a package directory
    (every directory of a namespace package) or a single module file.

    :raises BackendUnavailableError: ``name`` is not importable here, or not from files.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise BackendUnavailableError(
            f"cannot ship {name!r} to the workers: it is not importable on this client; "
            f"install it (`pip install {name}`)"
        )
    if spec.submodule_search_locations:
        out: list[tuple[str, bytes]] = []
        for location in spec.submodule_search_locations:
            out.extend(_tree_files(name, Path(location)))
        return out
    if spec.origin and os.path.isfile(spec.origin) and spec.origin.endswith(".py"):
        return [(os.path.basename(spec.origin), Path(spec.origin).read_bytes())]
    raise BackendUnavailableError(
        f"cannot ship {name!r} to the workers: it is not loaded from Python source files "
        f"({spec.origin}); only pure-Python packages can be shipped"
    )


def _tree_files(name: str, root: Path) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        for filename in sorted(filenames):
            if filename.endswith(_SKIP_SUFFIXES) or filename.startswith("."):
                continue
            arcname = (Path(name) / rel_dir / filename).as_posix()
            out.append((arcname, Path(dirpath, filename).read_bytes()))
    return out
