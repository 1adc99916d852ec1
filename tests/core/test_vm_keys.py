"""``lithops.vm_keys``: the SSH key a VM provider's instances get, on real key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lithops.errors import ConfigError
from lithops.vm_keys import default_key_path, ensure_default_key, public_key_of


def test_the_default_key_is_made_once_per_provider_under_lithops_home(lithops_home: Path) -> None:
    path = ensure_default_key("my_cloud")
    assert path == default_key_path("my_cloud") == lithops_home / ".lithops/my_cloud/id_ed25519"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = public_key_of(path, "my_cloud.ssh_key_filename")
    assert public.startswith("ssh-ed25519 ") and len(public.split()) == 2
    assert ensure_default_key("my_cloud") == path  # not made again
    assert public_key_of(path, "my_cloud.ssh_key_filename") == public
    assert public_key_of(ensure_default_key("other"), "other.ssh_key_filename") != public


def test_without_a_pub_file_the_public_half_is_derived_from_the_private_key(
    tmp_path: Path,
) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "only-private"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    expected = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert public_key_of(path, "x.ssh_key_filename") == expected.decode()


def test_a_missing_or_unreadable_key_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"my_cloud\.ssh_key_filename .* does not exist"):
        public_key_of(tmp_path / "nothing", "my_cloud.ssh_key_filename")
    encrypted = tmp_path / "encrypted"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigError, match=r"ssh-keygen -y -f .*, or name another key"):
        public_key_of(encrypted, "my_cloud.ssh_key_filename", hint="or name another key")
