"""The SSH key a VM provider's instances accept: the user's, or one made once for them.

A provider (:mod:`lithops.vm`) gives its instances the public half of ``ssh_key_filename`` (in
instance metadata, an imported key pair...), and standalone logs in with the private half.
Users who name no key get one made on first use under ``~/.lithops/<provider>/``::

    from lithops.vm_keys import ensure_default_key, public_key_of

    path = settings.ssh_key_filename or str(ensure_default_key("my_cloud"))
    public = public_key_of(path, "my_cloud.ssh_key_filename")   # 'ssh-ed25519 AAAA...'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lithops.errors import ConfigError

__all__ = ["default_key_path", "ensure_default_key", "public_key_of"]


def default_key_path(provider: str) -> Path:
    """The key made for users who name none: ``~/.lithops/<provider>/id_ed25519``."""
    return Path(os.path.expanduser("~")) / ".lithops" / provider / "id_ed25519"


def ensure_default_key(provider: str) -> Path:
    """Create ``provider``'s default key files on first use (private key mode 0600, the
    ``.pub`` beside it); the private key's path."""
    path = default_key_path(provider)
    if path.exists() and path.with_name(path.name + ".pub").exists():
        return path
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for target, data, mode in (
        (path, private, 0o600),
        (path.with_name(path.name + ".pub"), public + b" lithops\n", 0o644),
    ):
        # Written aside and renamed: two clients starting at once never read half a key.
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    return path


def public_key_of(private_path: str | Path, setting: str, hint: str = "") -> str:
    """The OpenSSH public key (``type base64``) of a private key file.

    Read from ``<file>.pub`` when it exists, else computed from the (unencrypted) private key.

    :param setting: the config key that named the file, for messages
        (``aws_ec2.ssh_key_filename``).
    :param hint: what else fixes an unreadable key, appended to that message.
    :raises ConfigError: the file is missing, or encrypted without a ``.pub`` beside it.
    """
    path = Path(private_path)
    pub = path.with_name(path.name + ".pub")
    if pub.exists():
        line = pub.read_text().strip()
    elif not path.exists():
        raise ConfigError(f"{setting} {str(path)!r} does not exist")
    else:
        line = _derive_public(path, hint)
    parts = line.split()
    if len(parts) < 2:
        raise ConfigError(f"{pub} is not an OpenSSH public key line")
    return f"{parts[0]} {parts[1]}"


def _derive_public(path: Path, hint: str) -> str:
    from cryptography.hazmat.primitives import serialization

    data = path.read_bytes()
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key: Any = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the public half of {path} ({exc}); write it beside the key as "
            f"{path.name}.pub (ssh-keygen -y -f {path} > {path}.pub)"
            + (f", {hint}" if hint else "")
        ) from exc
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    ).decode()
