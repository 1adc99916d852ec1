"""Settings of :mod:`lithops.multiprocessing`, as Lithops names them.

::

    from lithops.multiprocessing import config as mp_config

    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, {"lithops": {"backend": "localhost"}})

Every key does what Lithops documents:

- ``LITHOPS_CONFIG``: the configuration (a dict, as ``FunctionExecutor(config=...)`` takes)
  every pool and process of this interpreter runs with (default ``{}``: lithops' usual lookup).
- ``STREAM_STDOUT``: ``True`` streams what processes and pool tasks print (stdout, and stderr
  with the traceback of a failed process) to this terminal as they print it, through Redis
  pub/sub; ``join()`` and ``get()`` return after all of it has been written (default ``False``).
- ``REDIS_EXPIRY_TIME``: seconds a shared object's Redis keys live after their last write
  (default 3600).
- ``PIPE_CONNECTION_TYPE``: how ``Pipe`` ends talk: ``'redislist'`` (Redis lists, the default
  and the only type offered; Lithops' ``'nanomsg'`` direct connections are refused).
- ``ENV_VARS``: environment variables of every process and pool task (``extra_env``).
- ``EXPORT_EXECUTION_DETAILS``: a folder (``None``/``False``: off) where each finished map,
  ``apply`` and process writes ``<executor_id>_<job_id>_timeline.png`` and ``..._histogram.png``
  (``FunctionExecutor.plot()``, needs ``lithops-core[plot]``) and ``..._stats.json`` (each
  call's stats by call id).
"""

from __future__ import annotations

import copy
import importlib.util
import os
from typing import Any

from lithops.errors import ConfigError

__all__ = [
    "ENV_VARS",
    "EXPORT_EXECUTION_DETAILS",
    "LITHOPS_CONFIG",
    "PIPE_CONNECTION_TYPE",
    "PIPE_CONNECTION_TYPES",
    "REDIS_EXPIRY_TIME",
    "STREAM_STDOUT",
    "UnsupportedSettingError",
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
    REDIS_EXPIRY_TIME: 3600,
    PIPE_CONNECTION_TYPE: "redislist",
    ENV_VARS: {},
    EXPORT_EXECUTION_DETAILS: None,
}

_parameters: dict[str, Any] = copy.deepcopy(_DEFAULTS)

#: The Pipe connection types this implementation has (Lithops also names 'nanomsg').
PIPE_CONNECTION_TYPES = ("redislist",)


class UnsupportedSettingError(ConfigError):
    """A ``lithops.multiprocessing.config`` key or value that this implementation does not
    support; the message names it and what is supported."""


def _check_key(key: str) -> None:
    if key not in _DEFAULTS:
        valid = ", ".join(sorted(_DEFAULTS))
        raise KeyError(f"unknown lithops.multiprocessing setting {key!r}; valid: {valid}")


def set_parameter(key: str, value: Any) -> None:
    """Set one setting; an unknown key is an error naming the valid ones, a value this
    implementation cannot honour an :class:`UnsupportedSettingError` naming the key."""
    _check_key(key)
    if key == LITHOPS_CONFIG and not isinstance(value, dict):
        raise TypeError("LITHOPS_CONFIG must be a dict, as FunctionExecutor(config=...) takes")
    if key == ENV_VARS and not isinstance(value, dict):
        raise TypeError("ENV_VARS must be a dict of environment variable names to values")
    if key == STREAM_STDOUT and not isinstance(value, bool):
        raise TypeError("STREAM_STDOUT must be True or False")
    if key == REDIS_EXPIRY_TIME and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise TypeError("REDIS_EXPIRY_TIME must be a whole number of seconds, at least 1")
    if key == PIPE_CONNECTION_TYPE and value not in PIPE_CONNECTION_TYPES:
        raise UnsupportedSettingError(
            f"PIPE_CONNECTION_TYPE {value!r} is not supported: lithops.multiprocessing's Pipe "
            f"ends talk through Redis lists only; set it to 'redislist' (the default)"
        )
    if key == EXPORT_EXECUTION_DETAILS:
        value = _export_folder(value)
    _parameters[key] = value


def _export_folder(value: Any) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str | os.PathLike):
        raise TypeError("EXPORT_EXECUTION_DETAILS must be a folder path, or None to disable it")
    if importlib.util.find_spec("matplotlib") is None:
        raise UnsupportedSettingError(
            "EXPORT_EXECUTION_DETAILS draws plots with FunctionExecutor.plot(), which needs "
            "matplotlib: pip install 'lithops-core[plot]'"
        )
    return os.fspath(value)


def get_parameter(key: str) -> Any:
    """The current value of one setting."""
    _check_key(key)
    return _parameters[key]


def reset() -> None:
    """Every setting back to its default (tests use this)."""
    _parameters.clear()
    _parameters.update(copy.deepcopy(_DEFAULTS))
