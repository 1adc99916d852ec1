"""``lithops runtime build|deploy|list|update|delete`` and ``lithops clean``.

Every command asks the selected compute backend for its runtime manager
(``lithops_runtime_manager``) and calls one of its methods, so every backend (AWS, GCP, a third
party's) plugs into the same commands. ``NAME`` omitted means the runtime the config selects
(the backend's default runtime when it names none).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from lithops.cli.helpers import command_config, command_options, print_table, runtime_manager
from lithops.plugins.types import RuntimeInfo

__all__ = ["clean", "runtime"]


def _memory(info: RuntimeInfo) -> str:
    return f"{info.memory} MB" if info.memory else "-"


def _show(infos: Sequence[RuntimeInfo], empty: str) -> None:
    extra: list[str] = []
    for info in infos:
        extra.extend(k for k in info.details if k not in extra)
    headers = ("RUNTIME", "MEMORY", "VERSION", "DEPLOYED AS", *(k.upper() for k in extra))
    rows = [
        (
            info.name,
            _memory(info),
            info.version,
            info.deployed_as or "-",
            *(info.details.get(k, "-") for k in extra),
        )
        for info in infos
    ]
    print_table(headers, rows, empty=empty)


@click.group("runtime")
def runtime() -> None:
    """Build, deploy, list, update and delete the runtimes of a compute backend."""


@runtime.command(
    "build", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("name")
@click.option("-f", "--file", "file", default=None, help="Dockerfile (or requirements) to build.")
@command_options()
@click.pass_context
def build(ctx: click.Context, name: str, file: str | None) -> None:
    """Build runtime NAME and publish it where the backend takes it from (a registry).

    It is deployed on first use (or with `lithops runtime deploy NAME`).
    """
    published = runtime_manager().build(name, file, list(ctx.args))
    click.echo(f"Built and published runtime {published}")


@runtime.command("deploy")
@click.argument("name", required=False)
@click.option("-m", "--memory", type=int, default=None, help="Memory in MB.")
@click.option("-t", "--timeout", type=int, default=None, help="Timeout of a call in seconds.")
@command_options()
def deploy(name: str | None, memory: int | None, timeout: int | None) -> None:
    """Deploy runtime NAME now (executors otherwise deploy it on first use)."""
    info = runtime_manager().deploy(name, memory, timeout)
    click.echo(f"Deployed runtime {info.name} ({_memory(info)}) as {info.deployed_as}")


@runtime.command("list")
@click.argument("name", required=False)
@command_options()
def list_runtimes(name: str | None) -> None:
    """List the deployed runtimes (only those of NAME when given)."""
    config = command_config()
    infos = runtime_manager(config).list(name)
    _show(infos, empty=f"No runtimes deployed on {config['lithops']['backend']}")
    if infos:
        click.echo(f"\n{len(infos)} runtime(s)")


@runtime.command("update")
@click.argument("name", required=False)
@command_options()
def update(name: str | None) -> None:
    """Replace the code of every deployment of runtime NAME with this client's."""
    infos = runtime_manager().update(name)
    _show(infos, empty=f"No deployments of runtime {name or '(configured)'} to update")
    if infos:
        click.echo(f"\nUpdated {len(infos)} deployment(s)")


@runtime.command("delete")
@click.argument("name", required=False)
@click.option("-m", "--memory", type=int, default=None, help="Only the deployment of this memory.")
@click.option("-v", "--version", default=None, help="Only deployments of this lithops version.")
@command_options()
def delete(name: str | None, memory: int | None, version: str | None) -> None:
    """Delete the deployments of runtime NAME."""
    infos = runtime_manager().delete(name, memory, version)
    _show(infos, empty=f"No deployments of runtime {name or '(configured)'} to delete")
    if infos:
        click.echo(f"\nDeleted {len(infos)} deployment(s)")


@click.command("clean")
@click.option("-a", "--all", "everything", is_flag=True, help="Also other versions/namespaces.")
@click.option("-f", "--force", is_flag=True, help="Accepted for compatibility with Lithops.")
@command_options()
def clean(everything: bool, force: bool) -> None:
    """Remove what lithops left behind: deployed runtimes, temporary data, local logs."""
    from lithops.cleanup import clean_all
    from lithops.cli.helpers import command_host

    config = command_config()
    removed = list(clean_all(config))
    manager = command_host().runtime_manager(config["lithops"]["backend"], config)
    if manager is not None:
        removed.extend(manager.clean(everything))
    for line in removed:
        click.echo(f"Removed {line}")
    click.echo("Cleaned." if removed else "Nothing to clean.")
