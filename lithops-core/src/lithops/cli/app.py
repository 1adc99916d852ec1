"""The root ``lithops`` group: global options, error reporting, and plugin commands."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lithops.cli.state import CliState, common_options, setup_logging
from lithops.errors import LithopsError
from lithops.version import __version__

if TYPE_CHECKING:
    from lithops.plugins.manager import PluginHost

__all__ = ["LithopsGroup", "add_plugin_commands", "build_cli"]

#: Who added a command when it was not a plugin.
BUILTIN = "lithops-core"


class LithopsGroup(click.Group):
    """A group whose commands plugins may extend but never replace.

    While a plugin adds commands (:func:`add_plugin_commands` sets ``adding_plugin``), a name
    that is already taken is refused and recorded in ``conflicts`` instead of replacing the
    built-in (or another plugin's) command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owners: dict[str, str] = {}
        self.conflicts: list[str] = []
        self.adding_plugin: str | None = None

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        owner = self.adding_plugin or BUILTIN
        if name is None:
            raise TypeError("a command added to lithops needs a name")
        if self.adding_plugin is not None and name in self.commands:
            self.conflicts.append(
                f"plugin {owner!r} adds a command {name!r}, which {self.owners.get(name, BUILTIN)}"
                f" already provides; the plugin's command is ignored (rename it in the plugin)"
            )
            return
        super().add_command(cmd, name)
        self.owners[name] = owner

    def invoke(self, ctx: click.Context) -> Any:
        # Errors lithops raises on purpose carry an actionable message: show it, not a traceback.
        try:
            return super().invoke(ctx)
        except LithopsError as exc:
            state = ctx.find_object(CliState)
            if state is not None and state.debug:
                click.echo(traceback.format_exc(), err=True)
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def add_plugin_commands(group: LithopsGroup, host: PluginHost) -> list[str]:
    """Let every plugin add its commands; one broken plugin does not stop the others.

    :returns: the problems found (name conflicts, plugins whose hook raised), also kept in
        ``group.conflicts``.
    """

    def adding(name: str | None) -> None:
        group.adding_plugin = name

    group.conflicts.extend(host.cli_commands(group, on_plugin=adding))
    return list(group.conflicts)


def _root_callback(host: PluginHost | None) -> Callable[..., None]:
    @click.pass_context
    def root(ctx: click.Context) -> None:
        state = ctx.ensure_object(CliState)
        if host is not None:
            state.host_override = host
        setup_logging(state.debug)

    return root


def build_cli(host: PluginHost | None = None) -> LithopsGroup:
    """Build the ``lithops`` command group.

    :param host: when given, its plugins add their commands, and commands use it instead of
        the process-wide plugin host. Nothing is loaded at import time.
    """
    from lithops.cli.commands_backends import backends
    from lithops.cli.commands_logs import logs
    from lithops.cli.commands_run import hello, selftest
    from lithops.cli.commands_runtime import clean, runtime
    from lithops.cli.commands_storage import storage

    root = _root_callback(host)
    root = common_options()(root)
    root = click.version_option(
        __version__, "--version", prog_name="lithops", message="%(prog)s %(version)s"
    )(root)
    group = click.group(
        name="lithops",
        cls=LithopsGroup,
        help="Run unmodified Python functions at scale: locally, on VMs, or serverless.",
        context_settings={"help_option_names": ["-h", "--help"]},
    )(root)
    assert isinstance(group, LithopsGroup)
    for command in (hello, selftest, clean, runtime, backends, storage, logs):
        group.add_command(command)
    if host is not None:
        add_plugin_commands(group, host)
    return group
