"""The test run's real components: a Docker engine, registry-free images, SSH test hosts, moto.

Used by ``tests/conftest.py`` (fixtures) and by ``./dev`` through ``python -m testbed``.
"""

from __future__ import annotations

from .engine import DockerEngine, ensure_engine, stop_engine
from .errors import TestbedUnavailable
from .images import (
    BUSYBOX_IMAGE,
    PYTHON_IMAGE,
    ensure_all_images,
    ensure_busybox_image,
    ensure_python_image,
    ensure_sshhost_image,
    python_image_tag,
    sshhost_image_tag,
)
from .keys import ClientKey, ensure_client_key
from .lambdaimage import LAMBDA_IMAGE, ensure_lambda_image
from .moto import MotoServer, start_moto
from .sshhosts import SESSION_LABEL, SshHost, SshHostFactory

__all__ = [
    "BUSYBOX_IMAGE",
    "LAMBDA_IMAGE",
    "PYTHON_IMAGE",
    "SESSION_LABEL",
    "ClientKey",
    "DockerEngine",
    "MotoServer",
    "SshHost",
    "SshHostFactory",
    "TestbedUnavailable",
    "ensure_all_images",
    "ensure_busybox_image",
    "ensure_client_key",
    "ensure_engine",
    "ensure_lambda_image",
    "ensure_python_image",
    "ensure_sshhost_image",
    "python_image_tag",
    "sshhost_image_tag",
    "start_moto",
    "stop_engine",
]
