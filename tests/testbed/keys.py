"""The client key pair that every SSH test host accepts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .scratch import file_lock, scratch_dir

__all__ = ["ClientKey", "ensure_client_key"]


@dataclass(frozen=True)
class ClientKey:
    """:ivar private_path: OpenSSH private key file (mode 0600), for ``key_filename``."""

    private_path: Path
    public_line: str


def ensure_client_key() -> ClientKey:
    """Return the testbed's ed25519 key pair, generating it on first use."""
    directory = scratch_dir("ssh")
    private_path = directory / "id_ed25519"
    public_path = directory / "id_ed25519.pub"
    with file_lock("client-key"):
        if not (private_path.exists() and public_path.exists()):
            key = Ed25519PrivateKey.generate()
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            public = key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            )
            # Write-then-rename so a reader never sees half a key.
            for path, data, mode in (
                (private_path, private, 0o600),
                (public_path, public + b" lithops-testbed\n", 0o644),
            ):
                tmp = path.with_name(path.name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
    return ClientKey(private_path=private_path, public_line=public_path.read_text().strip())
