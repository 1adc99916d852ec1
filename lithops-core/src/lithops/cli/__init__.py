"""The ``lithops`` command line.

Plugins add commands through the ``lithops_cli_commands`` hook::

    import click
    from lithops.plugins import hookimpl

    @click.group("mybackend")
    def mybackend():
        "Commands of my backend."

    @hookimpl
    def lithops_cli_commands(cli):
        cli.add_command(mybackend)

Its commands use the helpers of :mod:`lithops.cli.helpers` (re-exported here):
``command_options()``, ``command_config()``, ``print_table(...)``, ``fail(message)``. A
backend with runtimes plugs into ``lithops runtime ...`` and ``lithops clean`` through the
``lithops_runtime_manager`` hook instead of adding commands.

A plugin cannot replace a built-in command (or another plugin's): such a command is ignored
and the conflict is reported on stderr and by ``lithops backends``.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from lithops.cli.app import LithopsGroup, add_plugin_commands, build_cli
from lithops.cli.helpers import (
    command_backend,
    command_config,
    command_host,
    command_options,
    fail,
    print_table,
    runtime_manager,
)

__all__ = [
    "LithopsGroup",
    "add_plugin_commands",
    "build_cli",
    "command_backend",
    "command_config",
    "command_host",
    "command_options",
    "fail",
    "main",
    "print_table",
    "runtime_manager",
]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``lithops`` console script: built-ins plus every plugin's commands."""
    from lithops.plugins.manager import get_plugin_host

    group = build_cli()
    for problem in add_plugin_commands(group, get_plugin_host()):
        click.echo(f"lithops: warning: {problem}", err=True)
    group.main(args=list(argv) if argv is not None else None, prog_name="lithops")
