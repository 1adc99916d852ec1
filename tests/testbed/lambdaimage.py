"""The testbed's Lambda image: what moto runs each invocation of a zip function in.

``lithops-test/lambda-python:3.11`` is the plain python3 image plus what AWS's own Python
runtime has: boto3 and its pure-Python dependencies in ``/var/runtime`` (copied from the
test run's own environment, so no registry is needed) and an entrypoint that imports the
handler, calls it with a context object, enforces the function's ``Timeout`` and prints the
JSON result last (``recipes/lambda/lambda-entrypoint.py``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import os
import tarfile
import time
from pathlib import Path

from docker.errors import BuildError, DockerException, ImageNotFound

from .engine import DockerEngine
from .errors import TestbedUnavailable
from .images import ensure_python_image, python_image_tag
from .scratch import file_lock, log

__all__ = ["LAMBDA_IMAGE", "RUNTIME_PACKAGES", "ensure_lambda_image"]

LAMBDA_IMAGE = "lithops-test/lambda-python:3.11"
#: What AWS's Python runtime provides besides the standard library (import name, distribution).
RUNTIME_PACKAGES = (
    ("boto3", "boto3"),
    ("botocore", "botocore"),
    ("s3transfer", "s3transfer"),
    ("jmespath", "jmespath"),
    ("dateutil", "python-dateutil"),
    ("six", "six"),
    ("urllib3", "urllib3"),
)
_ENTRYPOINT = Path(__file__).parent / "recipes" / "lambda" / "lambda-entrypoint.py"
_LABEL = "lithops-testbed.recipe"
_SKIP_DIRS = {"__pycache__"}

_DOCKERFILE = b"""\
ARG BASE
FROM ${BASE}
COPY runtime/ /var/runtime/
COPY lambda-entrypoint.py /lambda-entrypoint.py
ENV PYTHONDONTWRITEBYTECODE=1
WORKDIR /var/task
ENTRYPOINT ["python3", "/lambda-entrypoint.py"]
"""


def _package_files(name: str) -> list[tuple[str, Path]]:
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise TestbedUnavailable(
            f"{name} is not installed in the test environment; run `./dev setup` (boto3)"
        )
    if not spec.submodule_search_locations:
        assert spec.origin is not None
        return [(os.path.basename(spec.origin), Path(spec.origin))]
    root = Path(next(iter(spec.submodule_search_locations)))
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for filename in sorted(filenames):
            if not filename.endswith((".pyc", ".so")):
                path = Path(dirpath, filename)
                files.append((f"{name}/{path.relative_to(root).as_posix()}", path))
    return files


def _versions() -> list[str]:
    return [f"{dist}=={importlib.metadata.version(dist)}" for _, dist in RUNTIME_PACKAGES]


def _recipe(base_id: str) -> str:
    digest = hashlib.sha256()
    digest.update(base_id.encode())
    digest.update(_DOCKERFILE)
    digest.update(_ENTRYPOINT.read_bytes())
    digest.update("\n".join(_versions()).encode())
    return digest.hexdigest()[:16]


def _context() -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for arcname, content in (("Dockerfile", _DOCKERFILE),):
            info = tarfile.TarInfo(arcname)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        tar.add(_ENTRYPOINT, arcname="lambda-entrypoint.py")
        for name, _ in RUNTIME_PACKAGES:
            for arcname, path in _package_files(name):
                tar.add(path, arcname=f"runtime/{arcname}", recursive=False)
    buffer.seek(0)
    return buffer


def ensure_lambda_image(engine: DockerEngine) -> str:
    """Return the tag of the Lambda image, building it (and its base) if missing or stale."""
    base = ensure_python_image(engine, "bookworm")
    client = engine.client()
    recipe = _recipe(client.images.get(base).id)

    def current() -> bool:
        try:
            labels = client.images.get(LAMBDA_IMAGE).attrs.get("Config", {}).get("Labels") or {}
        except ImageNotFound:
            return False
        return labels.get(_LABEL) == recipe

    if current():
        return LAMBDA_IMAGE
    with file_lock("image-lambda"):
        if current():
            return LAMBDA_IMAGE
        log(f"building {LAMBDA_IMAGE} ({', '.join(_versions())})")
        began = time.monotonic()
        try:
            client.images.build(
                fileobj=_context(),
                custom_context=True,
                tag=LAMBDA_IMAGE,
                buildargs={"BASE": python_image_tag("bookworm")},
                labels={_LABEL: recipe},
                network_mode="none",
                rm=True,
                forcerm=True,
            )
        except (BuildError, DockerException) as exc:
            raise TestbedUnavailable(f"building {LAMBDA_IMAGE} failed: {exc}") from exc
        log(f"built {LAMBDA_IMAGE} in {time.monotonic() - began:.0f}s")
    return LAMBDA_IMAGE
