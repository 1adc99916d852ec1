"""The ``aws_ec2`` section read into typed settings, and the SSH key the workers accept.

Values are checked here, so a wrong one is a :class:`lithops.errors.ConfigError` naming the key
before any instance is asked for.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lithops import vm_keys
from lithops.errors import ConfigError

__all__ = ["EXEC_MODES", "Ec2Settings", "default_key_path", "public_key_of"]

EXEC_MODES = ("consume", "create", "reuse")
_STRINGS = (
    "instance_id",
    "vpc_id",
    "public_subnet_id",
    "security_group_id",
    "target_ami",
    "instance_role",
    "ssh_key_name",
    "ssh_key_filename",
    "ssh_username",
    "worker_instance_type",
)
_FLAGS = ("request_spot_instances", "delete_on_dismantle", "use_private_ip")
#: keys boto3 sessions and clients read (see lithops_aws.session)
_AWS_KEYS = ("region", "endpoint", "access_key_id", "secret_access_key", "session_token")


@dataclass(frozen=True)
class Ec2Settings:
    """The ``aws_ec2`` section with Lithops' defaults (on-demand, terminate on dismantle)."""

    exec_mode: str = "reuse"
    instance_id: str | None = None
    vpc_id: str | None = None
    public_subnet_id: str | None = None
    security_group_id: str | None = None
    target_ami: str | None = None
    instance_role: str | None = None
    ssh_key_name: str | None = None
    ssh_key_filename: str | None = None
    ssh_username: str = "ubuntu"
    worker_instance_type: str = "t2.medium"
    #: ``None``: the instance's CPU count
    worker_processes: int | None = None
    request_spot_instances: bool = False
    delete_on_dismantle: bool = True
    use_private_ip: bool = False
    #: seconds to wait for an instance to run and get its address
    start_timeout: float = 300.0
    #: region, endpoint and credentials for boto3
    aws: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Ec2Settings:
        """Check and read a section (the ``aws`` section's keys already merged under it).

        :raises ConfigError: a value of the wrong type, an unknown ``exec_mode``, or consume
            mode without ``instance_id``.
        """
        values: dict[str, Any] = {}
        for key in _STRINGS:
            value = config.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ConfigError(f"aws_ec2.{key} must be a string, got {value!r}")
            values[key] = value
        for key in _FLAGS:
            value = config.get(key)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise ConfigError(f"aws_ec2.{key} must be true or false, got {value!r}")
            values[key] = value
        mode = str(config.get("exec_mode") or "reuse").lower()
        if mode not in EXEC_MODES:
            raise ConfigError(
                f"aws_ec2.exec_mode is {config.get('exec_mode')!r}; choose one of "
                f"{', '.join(EXEC_MODES)}"
            )
        if mode == "consume" and "instance_id" not in values:
            raise ConfigError(
                "aws_ec2.exec_mode is consume but aws_ec2.instance_id is not set: name the "
                "instance to run on, or use exec_mode create or reuse"
            )
        values["exec_mode"] = mode
        values["worker_processes"] = _workers(config.get("worker_processes"))
        timeout = config.get("start_timeout", 300.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(
                f"start_timeout must be a positive number of seconds, not {timeout!r}"
            )
        values["start_timeout"] = float(timeout)
        if "ssh_key_filename" in values:
            values["ssh_key_filename"] = os.path.expanduser(values["ssh_key_filename"])
        values["aws"] = {k: config[k] for k in _AWS_KEYS if config.get(k)}
        return cls(**values)


def _workers(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.upper() == "AUTO"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"aws_ec2.worker_processes must be a positive whole number or AUTO, got {value!r}"
        )
    return value


def default_key_path() -> Path:
    """The key made for users who name none: ``~/.lithops/aws_ec2/id_ed25519``."""
    return vm_keys.default_key_path("aws_ec2")


def ensure_default_key() -> Path:
    """Create the default key pair files on first use (private key mode 0600)."""
    return vm_keys.ensure_default_key("aws_ec2")


def public_key_of(private_path: str | Path) -> tuple[str, str]:
    """The OpenSSH public key line of a private key file, and a key-pair name derived from it.

    :raises ConfigError: the file is missing, or encrypted without a ``.pub`` beside it.
    """
    public = vm_keys.public_key_of(
        private_path,
        "aws_ec2.ssh_key_filename",
        hint="or set aws_ec2.ssh_key_name to a key pair EC2 already has",
    )
    digest = hashlib.sha256(public.split()[1].encode()).hexdigest()[:16]
    return public, f"lithops-{digest}"
