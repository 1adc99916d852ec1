"""What every ``lithops`` command shares: the global options and the plugin host."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from lithops.plugins.manager import PluginHost

__all__ = ["CliState", "common_options", "pass_state"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """The options given on the command line (root group or subcommand, the latter wins)."""

    config_file: str | None = None
    backend: str | None = None
    storage: str | None = None
    debug: bool = False
    host_override: PluginHost | None = field(default=None, repr=False)

    @property
    def host(self) -> PluginHost:
        if self.host_override is not None:
            return self.host_override
        from lithops.plugins.manager import get_plugin_host

        return get_plugin_host()

    def executor_config(self) -> dict[str, Any]:
        """The config a ``FunctionExecutor`` built from these options runs with."""
        from lithops.config import resolve_executor_config

        return resolve_executor_config(
            config_file=self.config_file, backend=self.backend, storage=self.storage
        )

    def executor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``lithops.FunctionExecutor`` for these options."""
        kwargs: dict[str, Any] = {}
        if self.config_file:
            kwargs["config_file"] = self.config_file
        if self.backend:
            kwargs["backend"] = self.backend
        if self.storage:
            kwargs["storage"] = self.storage
        return kwargs

    def make_storage(self) -> Any:
        """A ``lithops.Storage`` over the selected storage backend."""
        from lithops.config import default_storage_config
        from lithops.storage import Storage

        # Read -c here: Storage takes a dict, and an empty dict would mean "use the default file".
        config = (
            default_storage_config(config_file=self.config_file, backend=self.storage)
            if self.config_file
            else None
        )
        return Storage(config=config, backend=self.storage)


pass_state = click.make_pass_decorator(CliState, ensure=True)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    _lithops_cli = True

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(debug: bool) -> None:
    """Lithops' own loggers to stderr: warnings only, everything with ``-d``."""
    logger = logging.getLogger("lithops")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is None or value is False:
            return value
        state = ctx.ensure_object(CliState)
        setattr(state, attr, value)
        if attr == "debug":
            setup_logging(True)
        return value

    return callback


def common_options(storage_cmd: bool = False) -> Callable[[F], F]:
    """``-c/-b/-s/-d`` on a command, as Lithops has them on every command.

    On ``lithops storage ...`` commands ``-b/--backend`` names the storage backend, as in
    Lithops (``lithops storage list BUCKET -b aws_s3``).
    """

    def decorate(func: F) -> F:
        options = [
            click.option(
                "-c",
                "--config",
                type=click.Path(exists=True, dir_okay=False),
                expose_value=False,
                callback=_store("config_file"),
                help="Lithops config file.",
            ),
            click.option(
                "-b",
                "--backend",
                expose_value=False,
                callback=_store("storage" if storage_cmd else "backend"),
                help="Storage backend." if storage_cmd else "Compute backend.",
            ),
            click.option(
                "-d",
                "--debug",
                is_flag=True,
                default=False,
                expose_value=False,
                callback=_store("debug"),
                help="Show lithops' debug logs.",
            ),
        ]
        if not storage_cmd:
            options.append(
                click.option(
                    "-s",
                    "--storage",
                    expose_value=False,
                    callback=_store("storage"),
                    help="Storage backend.",
                )
            )
        for option in reversed(options):
            func = option(func)
        return func

    return decorate
