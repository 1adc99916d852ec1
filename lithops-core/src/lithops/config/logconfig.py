"""The ``log_*`` keys of the ``lithops:`` section: how lithops' own logger is set up.

As in Lithops, ``FunctionExecutor(log_level=...)`` wins over the config; with no argument the
config's keys apply unless the program configured the ``lithops`` logger itself (a level other
than the default WARNING). ``log_filename`` sends the logs to that file instead of
``log_stream``. Unlike Lithops, nothing is set up when the config has no ``log_*`` key at all:
lithops stays quiet (warnings only) unless asked.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_LOG_FORMAT", "DEFAULT_LOG_STREAM", "configure_logging", "logging_from_config"]

DEFAULT_LOG_FORMAT = "%(asctime)s [%(levelname)s] %(name)s -- %(message)s"
DEFAULT_LOG_STREAM = "ext://sys.stderr"
LOG_KEYS = ("log_level", "log_format", "log_stream", "log_filename")

#: Marks the handler lithops installed, so that setting up again replaces it.
_MARK = "_lithops_log_handler"
#: Handlers of the ``lithops`` CLI (which sets up logging before the config is read).
_CLI_MARK = "_lithops_cli"


class _SysStreamHandler(logging.StreamHandler):
    """Writes to ``sys.stdout``/``sys.stderr`` as they are when a record is emitted (test
    runners and notebooks swap them)."""

    def __init__(self, name: str) -> None:
        self._sys_attr = name
        super().__init__()

    @property
    def stream(self) -> Any:
        return getattr(sys, self._sys_attr)

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _handler(stream: str | None, filename: str | None) -> logging.Handler:
    if filename:
        return logging.FileHandler(filename, mode="a", encoding="utf-8")
    name = (stream or DEFAULT_LOG_STREAM).removeprefix("ext://sys.")
    return _SysStreamHandler(name)


def configure_logging(
    level: Any,
    log_format: str | None = None,
    stream: str | None = None,
    filename: str | None = None,
) -> None:
    """Send the ``lithops`` logger's records at ``level`` and above to ``filename`` (when
    given) or ``stream`` (``ext://sys.stderr`` or ``ext://sys.stdout``), formatted with
    ``log_format``. A ``level`` of ``None``, ``False`` or ``"none"`` leaves logging alone."""
    if level is None or level is False or str(level).lower() == "none":
        return
    log = logging.getLogger("lithops")
    handler = _handler(stream, filename)
    handler.setFormatter(logging.Formatter(log_format or DEFAULT_LOG_FORMAT))
    setattr(handler, _MARK, True)
    for old in list(log.handlers):
        if getattr(old, _MARK, False) or getattr(old, _CLI_MARK, False):
            log.removeHandler(old)
            if getattr(old, _MARK, False):
                old.close()
    log.addHandler(handler)
    log.setLevel(str(level).upper())


def logging_from_config(level_argument: Any, lithops_section: Mapping[str, Any]) -> None:
    """Set up lithops' logger for a new executor.

    :param level_argument: ``FunctionExecutor(log_level=...)``: a level wins over the config,
        ``None`` leaves logging alone, ``False`` (the default) lets the config decide.
    :param lithops_section: the validated ``lithops:`` section.
    """
    if level_argument is None:
        return
    fmt = lithops_section.get("log_format")
    stream = lithops_section.get("log_stream")
    filename = lithops_section.get("log_filename")
    if level_argument is not False:
        configure_logging(level_argument, fmt, stream, filename)
        return
    if not any(key in lithops_section for key in LOG_KEYS):
        return
    if logging.getLogger("lithops").getEffectiveLevel() != logging.WARNING:
        return  # the program (or `lithops -d`) configured it: leave its choice alone
    level = lithops_section.get("log_level", "WARNING")
    configure_logging(level if level is not True else "WARNING", fmt, stream, filename)
