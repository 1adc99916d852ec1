"""Finding and reading the user's config file.

Lookup order (the first that exists wins), as in Lithops 3.x:

1. the ``config_file`` argument (``-c`` on the command line);
2. the ``LITHOPS_CONFIG`` environment variable, holding the config itself as JSON;
3. the file named by the ``LITHOPS_CONFIG_FILE`` environment variable;
4. ``.lithops_config`` in the current working directory;
5. ``~/.lithops/config``;
6. ``/etc/lithops/config``.

With none of them the config is empty and lithops runs on this machine (localhost mode).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lithops.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_ENV",
    "ConfigFileNotFoundError",
    "LoadedConfig",
    "config_dir",
    "find_config_file",
    "load_user_config",
    "load_yaml_config",
]

CONFIG_FILE_ENV = "LITHOPS_CONFIG_FILE"
CONFIG_ENV = "LITHOPS_CONFIG"
CWD_CONFIG_NAME = ".lithops_config"
GLOBAL_CONFIG_FILE = Path("/etc/lithops/config")


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """A config file named explicitly (argument or ``LITHOPS_CONFIG_FILE``) does not exist.

    Also a ``FileNotFoundError``, which is what Lithops raised for it.
    """


@dataclass(frozen=True)
class LoadedConfig:
    """The user's config as read, and where it came from (for error messages)."""

    data: dict[str, Any]
    source: str


def config_dir() -> Path:
    """``~/.lithops``: the user's lithops directory (read at call time, so ``HOME`` counts)."""
    return Path(os.path.expanduser("~")) / ".lithops"


def load_yaml_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file; a missing or empty file reads as ``{}``.

    :raises ConfigError: the file is not valid YAML or its top level is not a mapping.
    """
    import yaml  # only when there is a file to read: keeps zero-config cold starts short

    try:
        with open(os.path.expanduser(os.fspath(path)), encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {os.fspath(path)} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {os.fspath(path)} must hold a mapping of sections "
            f"(lithops:, localhost:, ...), not a {type(data).__name__}"
        )
    return data


def find_config_file() -> Path | None:
    """The config file lithops reads when none is given, or ``None`` (zero config).

    :raises ConfigFileNotFoundError: ``LITHOPS_CONFIG_FILE`` names a file that does not exist.
    """
    named = os.environ.get(CONFIG_FILE_ENV)
    if named:
        path = Path(os.path.expanduser(named))
        if not path.is_file():
            raise ConfigFileNotFoundError(
                f"{CONFIG_FILE_ENV}={named} names a config file that does not exist; "
                f"fix the path or unset {CONFIG_FILE_ENV}"
            )
        return path
    for candidate in (Path.cwd() / CWD_CONFIG_NAME, config_dir() / "config", GLOBAL_CONFIG_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_user_config(
    config_file: str | os.PathLike[str] | None = None,
    config_data: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """The user's config before defaults: ``config_data`` if given, else the lookup order above.

    An empty ``config_data`` (``{}``) means "not given", as in Lithops.
    """
    if config_data:
        if not isinstance(config_data, Mapping):
            raise ConfigError(
                f"config must be a dict of sections (lithops:, localhost:, ...), "
                f"not a {type(config_data).__name__}"
            )
        return LoadedConfig(_deep_copy(config_data), "the config dict passed in")
    if config_file:
        path = Path(os.path.expanduser(os.fspath(config_file)))
        if not path.is_file():
            raise ConfigFileNotFoundError(
                f"config file {path} does not exist; check the path given as config_file / -c"
            )
        return LoadedConfig(load_yaml_config(path), f"config file {path}")
    raw = os.environ.get(CONFIG_ENV)
    if raw:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{CONFIG_ENV} must hold the config as JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{CONFIG_ENV} must hold a JSON object of sections")
        return LoadedConfig(data, f"the {CONFIG_ENV} environment variable")
    found = find_config_file()
    if found is None:
        return LoadedConfig({}, "no config file (defaults)")
    return LoadedConfig(load_yaml_config(found), f"config file {found}")


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    # The caller's dict must never be changed by defaults or merges we apply.
    return copy.deepcopy(dict(data))
