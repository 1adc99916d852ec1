"""Lithops configuration: where it is read from, what it may hold, and its final shape.

A config is a dict of sections, usually a YAML file::

    lithops:
        backend: localhost        # compute backend; its registration gives the mode
        storage: localhost        # storage backend
        execution_timeout: 1800
    localhost:                    # the compute backend's own section
        worker_processes: 4

It is read from (first found): the ``config``/``config_file`` given, ``LITHOPS_CONFIG`` (JSON),
``LITHOPS_CONFIG_FILE``, ``./.lithops_config``, ``~/.lithops/config``, ``/etc/lithops/config``.
Without any, lithops runs on this machine (localhost mode, localhost storage).

An unknown key or a bad value in ``lithops:``, ``standalone:``, ``serverless:`` or in the
section of an installed backend is a :class:`lithops.errors.ConfigError` naming the key, the
section and the valid choices. Sections of backends not installed here are left unchecked.
"""

from __future__ import annotations

from lithops.config.files import (
    CONFIG_ENV,
    CONFIG_FILE_ENV,
    ConfigFileNotFoundError,
    find_config_file,
    load_yaml_config,
)
from lithops.config.keys import (
    DEFAULT_BACKEND_OF_MODE,
    LITHOPS_KEYS,
    LOCALHOST,
    MODES,
    SERVERLESS,
    STANDALONE,
    STANDALONE_KEYS,
)
from lithops.config.resolve import (
    default_config,
    default_storage_config,
    extract_storage_config,
    get_log_info,
    resolve_executor_config,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_ENV",
    "DEFAULT_BACKEND_OF_MODE",
    "LITHOPS_KEYS",
    "LOCALHOST",
    "MODES",
    "SERVERLESS",
    "STANDALONE",
    "STANDALONE_KEYS",
    "ConfigFileNotFoundError",
    "default_config",
    "default_storage_config",
    "extract_storage_config",
    "find_config_file",
    "get_log_info",
    "load_yaml_config",
    "resolve_executor_config",
]
