"""The ``gcp_compute`` section read into typed settings, and the SSH key the workers accept.

Values are checked here as well as by the core's KeySpecs (``compute_plugin.COMPUTE_KEYS``),
so that a provider built directly from a dict fails with a :class:`ConfigError` naming the key
before any instance is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lithops import vm_keys
from lithops.errors import ConfigError

__all__ = [
    "DEFAULT_IMAGE",
    "EXEC_MODES",
    "ComputeSettings",
    "default_key_path",
    "ensure_default_key",
    "public_key_of",
]

EXEC_MODES = ("consume", "create", "reuse")
#: Ubuntu 24.04 LTS, the image family Lithops' gcp_compute_engine boots by default.
DEFAULT_IMAGE = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
DEFAULT_REGION = "us-east1"
_STRINGS = (
    "zone",
    "instance_name",
    "machine_type",
    "worker_instance_type",
    "source_image",
    "network_name",
    "subnet_name",
    "service_account",
    "ssh_username",
    "ssh_key_filename",
    "api_endpoint",
    "region",
    "project_name",
    "credentials_path",
)
_FLAGS = ("request_spot_instances", "delete_on_dismantle", "use_private_ip")


@dataclass(frozen=True)
class ComputeSettings:
    """The ``gcp_compute`` section (over the ``gcp`` section) with Lithops' defaults."""

    project: str
    region: str
    zone: str
    exec_mode: str = "reuse"
    #: consume mode: the instance to run on; create/reuse: the name prefix of the workers
    instance_name: str | None = None
    machine_type: str = "e2-standard-2"
    source_image: str = DEFAULT_IMAGE
    network_name: str = "default"
    subnet_name: str = "default"
    service_account: str | None = None
    ssh_username: str = "ubuntu"
    ssh_key_filename: str | None = None
    #: ``None``: the instance's CPU count
    worker_processes: int | None = None
    request_spot_instances: bool = False
    delete_on_dismantle: bool = True
    use_private_ip: bool = False
    api_endpoint: str | None = None
    credentials_path: str | None = None
    #: seconds to wait for an instance to run and get its address
    start_timeout: float = 300.0

    @property
    def name_prefix(self) -> str:
        return self.instance_name or "lithops-worker"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ComputeSettings:
        """Check and read a section (the ``gcp`` section's keys already merged under it).

        :raises ConfigError: a value of the wrong type, an unknown ``exec_mode``, consume mode
            without ``instance_name``, or no project.
        """
        values: dict[str, Any] = {}
        for key in _STRINGS:
            value = config.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ConfigError(f"gcp_compute.{key} must be a string, got {value!r}")
            values[key] = value
        for key in _FLAGS:
            value = config.get(key)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise ConfigError(f"gcp_compute.{key} must be true or false, got {value!r}")
            values[key] = value
        mode = str(config.get("exec_mode") or "reuse").lower()
        if mode not in EXEC_MODES:
            raise ConfigError(
                f"gcp_compute.exec_mode is {config.get('exec_mode')!r}; choose one of "
                f"{', '.join(EXEC_MODES)}"
            )
        if mode == "consume" and "instance_name" not in values:
            raise ConfigError(
                "gcp_compute.exec_mode is consume but gcp_compute.instance_name is not set: "
                "name the instance to run on, or use exec_mode create or reuse"
            )
        project = values.pop("project_name", None) or _env_project()
        if not project:
            raise ConfigError(
                "gcp_compute: no project: set project_name in the gcp section (or "
                "GOOGLE_CLOUD_PROJECT)"
            )
        zone = values.get("zone")
        region = values.pop("region", None) or (zone.rsplit("-", 1)[0] if zone else None)
        region = region or DEFAULT_REGION
        if zone is None:
            # "-b" exists in every region, "-a" not (us-east1 has b, c and d).
            values["zone"] = f"{region}-b"
        elif not values["zone"].startswith(f"{region}-"):
            raise ConfigError(
                f"gcp_compute.zone {zone!r} is not in region {region!r} (the gcp section's "
                f"region): name a zone of that region, or set gcp_compute.region"
            )
        # Lithops names the workers' type worker_instance_type (machine_type was its master's).
        worker_type = values.pop("worker_instance_type", None)
        if worker_type:
            values["machine_type"] = worker_type
        values.setdefault("subnet_name", values.get("network_name", "default"))
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
        return cls(project=project, region=region, **values)

    def auth_settings(self) -> dict[str, Any]:
        """What :func:`lithops_gcp.auth.identity` reads."""
        return {"project_name": self.project, "credentials_path": self.credentials_path or ""}


def _workers(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.upper() == "AUTO"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"gcp_compute.worker_processes must be a positive whole number or AUTO, got {value!r}"
        )
    return value


def _env_project() -> str | None:
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT") or None


def default_key_path() -> Path:
    """The key made for users who name none: ``~/.lithops/gcp_compute/id_ed25519``."""
    return vm_keys.default_key_path("gcp_compute")


def ensure_default_key() -> Path:
    """Create the default key files on first use (private key mode 0600)."""
    return vm_keys.ensure_default_key("gcp_compute")


def public_key_of(private_path: str | Path) -> str:
    """The OpenSSH public key (``type base64``) of a private key file.

    :raises ConfigError: the file is missing, or encrypted without a ``.pub`` beside it.
    """
    return vm_keys.public_key_of(private_path, "gcp_compute.ssh_key_filename")
