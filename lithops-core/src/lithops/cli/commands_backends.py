"""``lithops backends``: what is installed, and what failed to load."""

from __future__ import annotations

import click

from lithops.cli.state import CliState, pass_state
from lithops.cli.table import render_table

__all__ = ["backends"]


@click.command("backends")
@pass_state
def backends(state: CliState) -> None:
    """List installed backends, their capabilities, and broken plugins."""
    host = state.host
    rows = []
    for info in sorted(host.backends.values(), key=lambda b: (b.kind.value, b.name)):
        name = info.name + (f" ({', '.join(info.aliases)})" if info.aliases else "")
        rows.append(
            (
                name,
                info.kind.value,
                info.mode or "-",
                info.distribution or "-",
                ", ".join(sorted(info.capabilities)) or "-",
            )
        )
    if rows:
        click.echo(render_table(("NAME", "KIND", "MODE", "DISTRIBUTION", "CAPABILITIES"), rows))
    else:
        click.echo("No backends installed. Install one, e.g. `pip install lithops-localhost`.")
    if host.broken:
        click.echo("\nPlugins that failed to load (their backends are unavailable):")
        for plugin, error in sorted(host.broken.items()):
            click.echo(f"  {plugin}: {error}")
    ctx = click.get_current_context()
    problems = getattr(ctx.find_root().command, "conflicts", [])
    if problems:
        click.echo("\nPlugin command problems:")
        for problem in problems:
            click.echo(f"  {problem}")
