"""Reading the ``ssh``/``vm`` and ``standalone`` config sections into typed settings.

Lithops' single-host ``vm:`` keys keep working; ``hosts:`` lists several hosts, each entry
overriding the section-level login keys::

    ssh:
      ssh_username: ubuntu
      ssh_key_filename: ~/.ssh/id_ed25519
      hosts:
        - 10.0.0.5
        - {address: 10.0.0.6, port: 2222, worker_processes: 8}
    standalone:
      runtime: python3            # or a Docker image name: calls run inside a container
      soft_dismantle_timeout: 300
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lithops.config.keys import worker_processes_spec
from lithops.errors import ConfigError
from lithops.plugins.types import KeySpec

__all__ = [
    "BACKEND_NAMES",
    "SECTION_KEYS",
    "STANDALONE_KEYS",
    "HostSpec",
    "StandaloneSettings",
    "is_docker_runtime",
    "parse_hosts",
    "parse_settings",
    "provider_config",
]

#: The compute backend name and its alias (Lithops calls it ``vm``).
BACKEND_NAMES = ("ssh", "vm")


def _port(value: Any) -> str | None:
    return "must be a port number from 1 to 65535" if not 0 < value < 65536 else None


#: The ``ssh``/``vm`` section's own keys, checked by the core when an executor is created.
SECTION_KEYS: dict[str, KeySpec | str] = {
    "ip_address": KeySpec((str,), "address of the single host (Lithops' vm backend)"),
    "ssh_username": KeySpec((str,), "login name on the hosts (default: your local user name)"),
    "ssh_key_filename": KeySpec((str,), "private key file for the login"),
    "ssh_password": KeySpec((str,), "password for the login (prefer a key)"),
    "ssh_port": KeySpec((int,), "SSH port of the hosts (default 22)", check=_port),
    "worker_processes": worker_processes_spec(
        "parallel calls per host ('AUTO' or unset: the host's CPU count)"
    ),
    "hosts": KeySpec(
        (list, tuple),
        "list of hosts: 'address', 'user@address:port' or a mapping with address, port, "
        "user, key_filename, password, worker_processes",
    ),
}

STANDALONE_KEYS = {
    "runtime": "'python3' (the host's default python3) or a Docker image name",
    "exec_mode": "consume (hosts you have), create or reuse (VMs from a VM provider)",
    "start_timeout": "seconds to reach, bootstrap and attach every host (default 300)",
    "auto_dismantle": "stop the agents when the executor is released (default false)",
    "soft_dismantle_timeout": "an agent with no client and no work stops after this (s)",
    "hard_dismantle_timeout": "an agent with work but no new submission stops after this (s)",
}

_DEFAULT_RUNTIMES = {"", "python3", "python", "default"}
_EXEC_MODES = ("consume", "create", "reuse")


@dataclass(frozen=True)
class HostSpec:
    """One SSH host and how to log in to it."""

    address: str
    port: int = 22
    user: str = ""
    key_filename: str | None = None
    password: str | None = None
    #: ``None``: the host's CPU count
    worker_processes: int | None = None

    @property
    def name(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.user}@{self.address}{port}"

    def __repr__(self) -> str:  # never show the password
        return f"HostSpec({self.name!r})"


@dataclass(frozen=True)
class StandaloneSettings:
    """The ``standalone:`` section, with Lithops' defaults (``auto_dismantle`` off as for vm)."""

    runtime: str | None = None
    exec_mode: str = "consume"
    start_timeout: float = 300.0
    auto_dismantle: bool = False
    soft_dismantle_timeout: float = 300.0
    hard_dismantle_timeout: float = 3600.0

    @property
    def docker_image(self) -> str | None:
        return self.runtime if is_docker_runtime(self.runtime) else None


def is_docker_runtime(runtime: str | None) -> bool:
    """A runtime names a Docker image unless it is empty, ``python3`` or an interpreter path."""
    if runtime is None or runtime.strip() in _DEFAULT_RUNTIMES:
        return False
    return not runtime.startswith("/")


def section(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ssh`` section, or Lithops' ``vm`` section when that is what the user wrote."""
    for name in BACKEND_NAMES:
        value = config.get(name)
        if value:
            return dict(value)
    return {}


def parse_settings(
    config: Mapping[str, Any], runtime: str | None = None, consume: bool = True
) -> StandaloneSettings:
    """The standalone settings: the ``standalone:`` section, overridden by the same keys in the
    backend's own section (Lithops reads them from both places).

    In ``consume`` mode the hosts belong to the user, so ``auto_dismantle`` is off whatever the
    config says (as in Lithops' vm backend): agents stop on their idle timeouts instead.
    ``consume=False`` reads the settings of a VM provider's VMs: ``exec_mode`` defaults to
    ``reuse`` and ``auto_dismantle`` to true, as in Lithops.
    """
    raw = dict(config.get("standalone") or {})
    raw.update({k: v for k, v in section(config).items() if k in STANDALONE_KEYS})
    # A VM provider's VMs (consume=False) default to Lithops' reuse and auto_dismantle.
    mode = str(raw.get("exec_mode") or ("consume" if consume else "reuse")).lower()
    if mode not in _EXEC_MODES:
        raise ConfigError(
            f"standalone.exec_mode is {mode!r}; choose one of {', '.join(_EXEC_MODES)}"
        )
    soft = _seconds(raw, "soft_dismantle_timeout", 300.0)
    hard = _seconds(raw, "hard_dismantle_timeout", 3600.0)
    return StandaloneSettings(
        runtime=runtime or raw.get("runtime"),
        exec_mode=mode,
        start_timeout=_seconds(raw, "start_timeout", 300.0),
        auto_dismantle=bool(raw.get("auto_dismantle", not consume)) and mode != "consume",
        soft_dismantle_timeout=soft,
        hard_dismantle_timeout=hard,
    )


def provider_config(config: Mapping[str, Any], backend: str) -> dict[str, Any]:
    """What ``lithops_vm_provider`` gets: the provider's section over Lithops' provider section
    (``aws:`` under ``aws_ec2:``), with the ``exec_mode`` and ``start_timeout`` in force."""
    settings = parse_settings(config, consume=False)
    shared = config.get(backend.partition("_")[0]) if "_" in backend else None
    return {
        **(dict(shared) if isinstance(shared, Mapping) else {}),
        **dict(config.get(backend) or {}),
        "exec_mode": settings.exec_mode,
        "start_timeout": settings.start_timeout,
    }


def parse_hosts(config: Mapping[str, Any]) -> list[HostSpec]:
    """Every host of the ``ssh``/``vm`` section, in order; at least one or a ConfigError.

    Unknown keys are the core's business (it checks sections against the registered keys).
    """
    sec = section(config)
    workers = sec.get("worker_processes", (config.get("standalone") or {}).get("worker_processes"))
    defaults: dict[str, Any] = {
        "user": sec.get("ssh_username") or getpass.getuser(),
        "port": int(sec.get("ssh_port", 22)),
        "key_filename": _path(sec.get("ssh_key_filename")),
        "password": sec.get("ssh_password"),
        "worker_processes": _workers(workers, "ssh.worker_processes"),
    }
    entries: list[Any] = list(sec.get("hosts") or [])
    if sec.get("ip_address"):
        entries.insert(0, sec["ip_address"])
    if not entries:
        raise ConfigError(
            "no SSH host configured: set ssh.hosts (a list of addresses) or vm.ip_address"
        )
    return [_host(entry, defaults, i) for i, entry in enumerate(entries)]


def _host(entry: Any, defaults: dict[str, Any], index: int) -> HostSpec:
    values = dict(defaults)
    if isinstance(entry, str):
        rest = entry
        if "@" in rest:
            values["user"], rest = rest.split("@", 1)
        if rest.count(":") == 1:
            rest, port = rest.split(":")
            values["port"] = int(port)
        values["address"] = rest.strip("[]")
    elif isinstance(entry, Mapping):
        aliases = {
            "host": "address",
            "ip_address": "address",
            "username": "user",
            "ssh_username": "user",
            "key": "key_filename",
            "ssh_key_filename": "key_filename",
            "ssh_password": "password",
        }
        allowed = {"address", "port", "user", "key_filename", "password", "worker_processes"}
        for key, value in entry.items():
            name = aliases.get(key, key)
            if name not in allowed:
                raise ConfigError(
                    f"unknown key {key!r} in ssh.hosts[{index}]; "
                    f"accepted: {', '.join(sorted(allowed))}"
                )
            values[name] = value
        values["port"] = int(values["port"])
        values["key_filename"] = _path(values["key_filename"])
        values["worker_processes"] = _workers(
            values["worker_processes"], f"ssh.hosts[{index}].worker_processes"
        )
    else:
        raise ConfigError(f"ssh.hosts[{index}] must be an address or a mapping, got {entry!r}")
    if not values.get("address"):
        raise ConfigError(f"ssh.hosts[{index}] has no address")
    return HostSpec(**values)


def _path(value: Any) -> str | None:
    return os.path.expanduser(str(value)) if value else None


def _workers(value: Any, key: str) -> int | None:
    if value is None or str(value).upper() == "AUTO":
        return None
    try:
        workers = int(value)
    except (TypeError, ValueError):
        workers = 0
    if workers < 1:
        raise ConfigError(f"{key} must be a positive integer or 'AUTO', got {value!r}")
    return workers


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"standalone.{key} must be a positive number of seconds, got {value!r}")
    return seconds
