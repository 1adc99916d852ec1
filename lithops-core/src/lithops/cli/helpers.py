"""The helpers a plugin's commands use, so they behave like the built-in ones.

::

    import click
    from lithops.cli import command_config, command_options, fail, print_table

    @click.command("quota")
    @command_options()          # -c/--config, -b/--backend, -s/--storage, -d/--debug
    def quota() -> None:
        "Show my backend's quota."
        config = command_config()           # the validated config, as an executor gets it
        section = config[config["lithops"]["backend"]]
        if "project" not in section:
            fail("no 'project' in the mybackend section; set it in ~/.lithops/config")
        print_table(("RESOURCE", "USED", "LIMIT"), [("functions", 3, 100)])

Errors lithops raises on purpose (:class:`lithops.errors.LithopsError`) are shown by the
``lithops`` group in one line too; ``-d`` adds the traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from lithops.cli.state import CliState, common_options
from lithops.cli.table import render_table

if TYPE_CHECKING:
    from lithops.plugins.manager import PluginHost
    from lithops.plugins.types import RuntimeManager

__all__ = [
    "command_backend",
    "command_config",
    "command_host",
    "command_options",
    "fail",
    "print_table",
    "runtime_manager",
]

#: ``-c/--config``, ``-b/--backend``, ``-s/--storage`` and ``-d/--debug`` on a command, as the
#: built-in commands have them (``command_options(storage_cmd=True)``: ``-b`` names storage).
command_options = common_options


def _state() -> CliState:
    return click.get_current_context().ensure_object(CliState)


def command_config() -> dict[str, Any]:
    """The config selected by this command line's options, validated, as an executor gets it.

    :raises lithops.errors.ConfigError: the config is wrong (shown in one line).
    """
    return _state().executor_config()


def command_backend() -> str:
    """The compute backend this command line selects (``-b``, else the config's)."""
    return str(command_config()["lithops"]["backend"])


def command_host() -> PluginHost:
    """The plugin host the command runs with (the process-wide one, or a test's)."""
    return _state().host


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str | None = None
) -> None:
    """Print ``rows`` under ``headers`` as an aligned plain-text table.

    :param empty: printed instead when there are no rows (default: the bare header).
    """
    if not rows and empty is not None:
        click.echo(empty)
        return
    click.echo(render_table(headers, rows))


def fail(message: str) -> NoReturn:
    """End the command with ``Error: <message>`` on stderr and exit code 1.

    Say what happened and which setting or command fixes it, in one line.
    """
    raise click.ClickException(message)


def runtime_manager(config: dict[str, Any] | None = None) -> RuntimeManager:
    """The runtime manager of the selected compute backend, or a one-line failure naming
    the backend when its plugin manages no runtimes."""
    config = config if config is not None else command_config()
    backend = str(config["lithops"]["backend"])
    manager = command_host().runtime_manager(backend, config)
    if manager is None:
        fail(
            f"backend {backend!r} has no runtimes to manage (its plugin does not implement "
            f"lithops_runtime_manager); select another with -b, e.g. -b aws_lambda"
        )
    return manager
