"""Build the testbed's images without any registry, once, cached by tag.

- ``lithops-test/python3:<suite>``: a Debian minbase root with python3 only (debootstrap,
  then ``docker import``). ``bookworm`` is the plain python3 image of the Docker runtime
  environment tests.
- ``lithops-test/sshhost:<suite>``: that base plus openssh-server (``recipes/sshhost``).
- ``busybox:latest``: busybox-static in a 2 MB image; moto's Lambda runner wants it.

Each image carries a ``lithops-testbed.recipe`` label, a hash of what built it, so a
changed recipe rebuilds instead of silently reusing a stale image.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
from docker.errors import BuildError, DockerException, ImageNotFound

from .engine import DockerEngine
from .errors import TestbedUnavailable
from .mirror import debian_mirror
from .scratch import file_lock, log, scratch_dir

__all__ = [
    "BUSYBOX_IMAGE",
    "PYTHON_IMAGE",
    "SUITES",
    "ensure_all_images",
    "ensure_busybox_image",
    "ensure_python_image",
    "ensure_sshhost_image",
    "python_image_tag",
    "sshhost_image_tag",
]

# Debian suite -> the python3 minor it ships; the bullseye host exists to test a mismatch.
SUITES = {"bookworm": (3, 11), "bullseye": (3, 9)}
BUSYBOX_IMAGE = "busybox:latest"
_LABEL = "lithops-testbed.recipe"
_RECIPES = Path(__file__).parent / "recipes"
# Bump when the debootstrap command line changes meaning.
_BASE_RECIPE_VERSION = "1"


def python_image_tag(suite: str = "bookworm") -> str:
    return f"lithops-test/python3:{suite}"


def sshhost_image_tag(suite: str = "bookworm") -> str:
    return f"lithops-test/sshhost:{suite}"


PYTHON_IMAGE = python_image_tag("bookworm")


def _recipe_of(client: docker.DockerClient, tag: str) -> str | None:
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return None
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return labels.get(_LABEL)


def _base_recipe(suite: str) -> str:
    text = json.dumps(["debootstrap", "minbase", "python3", suite, _BASE_RECIPE_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_suite(suite: str) -> None:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; the testbed builds {sorted(SUITES)}")


def _debootstrap(suite: str) -> Path:
    """Create a minbase root with python3 for ``suite``; return its directory."""
    if shutil.which("debootstrap") is None:
        raise TestbedUnavailable(
            "debootstrap is not installed; run `./dev setup` (apt-get install debootstrap)"
        )
    mirror = debian_mirror()
    root = scratch_dir("build") / f"{suite}-root"
    log_path = scratch_dir("build") / f"debootstrap-{suite}.log"
    # A root left by an interrupted run would make debootstrap resume a broken tree.
    shutil.rmtree(root, ignore_errors=True)
    log(f"debootstrap {suite} from {mirror} (log: {log_path}); takes 1-2 minutes")
    began = time.monotonic()
    with open(log_path, "wb") as log_file:
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3", suite, str(root), mirror],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise TestbedUnavailable(
            f"debootstrap {suite} failed (exit {result.returncode}); see {log_path}. "
            f"Set LITHOPS_TESTBED_MIRROR if {mirror} is not reachable."
        )
    log(f"debootstrap {suite} done in {time.monotonic() - began:.0f}s")
    return root


def _import_root(engine: DockerEngine, root: Path, tag: str, recipe: str) -> None:
    began = time.monotonic()
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        # Streams the tar into the engine; the SDK would need the whole root in memory.
        result = engine.client().api.import_image_from_stream(
            tar.stdout,
            repository=tag.split(":")[0],
            tag=tag.split(":")[1],
            changes=[f"LABEL {_LABEL}={recipe}", 'CMD ["python3"]'],
        )
    finally:
        tar.stdout.close()
        tar.wait()
    if tar.returncode != 0:
        raise TestbedUnavailable(f"tar of {root} failed (exit {tar.returncode})")
    log(f"imported {tag} in {time.monotonic() - began:.0f}s ({str(result).strip()[:80]})")


def ensure_python_image(engine: DockerEngine, suite: str = "bookworm") -> str:
    """Return the tag of the python3-only image of ``suite``, building it if missing.

    :raises TestbedUnavailable: debootstrap is missing or fails.
    """
    _check_suite(suite)
    tag = python_image_tag(suite)
    recipe = _base_recipe(suite)
    client = engine.client()
    if _recipe_of(client, tag) == recipe:
        return tag
    with file_lock(f"image-python3-{suite}"):
        if _recipe_of(client, tag) == recipe:
            return tag
        root = _debootstrap(suite)
        try:
            _import_root(engine, root, tag, recipe)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return tag


def _sshhost_recipe(client: docker.DockerClient, suite: str) -> str:
    digest = hashlib.sha256()
    digest.update(client.images.get(python_image_tag(suite)).id.encode())
    for path in sorted((_RECIPES / "sshhost").iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_sshhost_image(engine: DockerEngine, suite: str = "bookworm") -> str:
    """Return the tag of the SSH host image of ``suite``, building it (and its base) if missing.

    The build runs ``apt-get install openssh-server`` with the host's network, from the
    mirror debootstrap wrote into the base image.
    """
    ensure_python_image(engine, suite)
    tag = sshhost_image_tag(suite)
    client = engine.client()
    recipe = _sshhost_recipe(client, suite)
    if _recipe_of(client, tag) == recipe:
        return tag
    with file_lock(f"image-sshhost-{suite}"):
        if _recipe_of(client, tag) == recipe:
            return tag
        log(f"building {tag}")
        began = time.monotonic()
        try:
            client.images.build(
                path=str(_RECIPES / "sshhost"),
                tag=tag,
                buildargs={"BASE": python_image_tag(suite)},
                labels={_LABEL: recipe},
                network_mode="host",
                rm=True,
                forcerm=True,
            )
        except (BuildError, DockerException) as exc:
            raise TestbedUnavailable(f"building {tag} failed: {exc}") from exc
        log(f"built {tag} in {time.monotonic() - began:.0f}s")
    return tag


def _busybox_tar() -> bytes:
    """A root holding the static busybox and one symlink per applet."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise TestbedUnavailable(
            "busybox is not installed; run `./dev setup` (apt-get install busybox-static)"
        )
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def ensure_busybox_image(engine: DockerEngine) -> str:
    """Return ``busybox:latest``, importing the host's busybox-static if the tag is missing."""
    client = engine.client()
    recipe = "busybox-static-1"
    if _recipe_of(client, BUSYBOX_IMAGE) == recipe:
        return BUSYBOX_IMAGE
    with file_lock("image-busybox"):
        if _recipe_of(client, BUSYBOX_IMAGE) == recipe:
            return BUSYBOX_IMAGE
        began = time.monotonic()
        client.api.import_image_from_data(
            _busybox_tar(),
            repository="busybox",
            tag="latest",
            changes=[f"LABEL {_LABEL}={recipe}", "ENV PATH=/bin", 'CMD ["sh"]'],
        )
        log(f"imported {BUSYBOX_IMAGE} in {time.monotonic() - began:.1f}s")
    return BUSYBOX_IMAGE


def ensure_all_images(engine: DockerEngine) -> list[str]:
    """Build every testbed image that is missing; the two debootstraps run in parallel."""
    ensure_busybox_image(engine)
    with ThreadPoolExecutor(max_workers=len(SUITES)) as pool:
        tags = list(pool.map(lambda suite: ensure_sshhost_image(engine, suite), SUITES))
    return [BUSYBOX_IMAGE, *(python_image_tag(s) for s in SUITES), *tags]
