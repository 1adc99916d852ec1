"""Settings of :mod:`lithops.multiprocessing`, as Lithops names them.

::

    from lithops.multiprocessing import config as mp_config

    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, {"lithops": {"backend": "localhost"}})

``LITHOPS_CONFIG`` is the configuration (a dict, as ``FunctionExecutor(config=...)`` takes)
every pool and process of this interpreter runs with; the other keys are accepted and kept.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "ENV_VARS",
    "EXPORT_EXECUTION_DETAILS",
    "LITHOPS_CONFIG",
    "PIPE_CONNECTION_TYPE",
    "REDIS_EXPIRY_TIME",
    "STREAM_STDOUT",
    "get_parameter",
    "set_parameter",
]

LITHOPS_CONFIG = "LITHOPS_CONFIG"
STREAM_STDOUT = "STREAM_STDOUT"
REDIS_EXPIRY_TIME = "REDIS_EXPIRY_TIME"
PIPE_CONNECTION_TYPE = "PIPE_CONNECTION_TYPE"
ENV_VARS = "ENV_VARS"
EXPORT_EXECUTION_DETAILS = "EXPORT_EXECUTION_DETAILS"

_DEFAULTS: dict[str, Any] = {
    LITHOPS_CONFIG: {},
    STREAM_STDOUT: False,
    REDIS_EXPIRY_TIME: 300,
    PIPE_CONNECTION_TYPE: "redislist",
    ENV_VARS: {},
    EXPORT_EXECUTION_DETAILS: None,
}

_parameters: dict[str, Any] = copy.deepcopy(_DEFAULTS)


def _check_key(key: str) -> None:
    if key not in _DEFAULTS:
        valid = ", ".join(sorted(_DEFAULTS))
        raise KeyError(f"unknown lithops.multiprocessing setting {key!r}; valid: {valid}")


def set_parameter(key: str, value: Any) -> None:
    """Set one setting; an unknown key is an error naming the valid ones."""
    _check_key(key)
    if key == LITHOPS_CONFIG and not isinstance(value, dict):
        raise TypeError("LITHOPS_CONFIG must be a dict, as FunctionExecutor(config=...) takes")
    if key == ENV_VARS and not isinstance(value, dict):
        raise TypeError("ENV_VARS must be a dict of environment variable names to values")
    _parameters[key] = value


def get_parameter(key: str) -> Any:
    """The current value of one setting."""
    _check_key(key)
    return _parameters[key]


def reset() -> None:
    """Every setting back to its default (tests use this)."""
    _parameters.clear()
    _parameters.update(copy.deepcopy(_DEFAULTS))
