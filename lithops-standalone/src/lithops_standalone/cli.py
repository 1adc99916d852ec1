"""Standalone's CLI commands, added through ``lithops_cli_commands``.

* ``lithops worker list``: per host, each agent (one per client version), its clients, runtime
  pools, processes and the time until it dismantles itself.
* ``lithops job list``: the jobs with calls in flight on the hosts.
* ``lithops attach [HOST]``: an interactive shell on a host (paramiko, host keys checked).
* ``lithops standalone clean``: stop every agent and remove the bootstrap directories.
* ``lithops standalone forget-host HOST``: drop a recorded host key (after a reinstall).

The core owns ``lithops clean``; ours is ``lithops standalone clean``.
"""

from __future__ import annotations

import json
import math
import os
import select
import shlex
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import click

from lithops.cli.state import CliState, common_options, pass_state
from lithops.cli.table import render_table
from lithops_standalone.bootstrap import REMOTE_ROOT
from lithops_standalone.config import HostSpec, parse_hosts
from lithops_standalone.known_hosts import forget_host, known_hosts_path

__all__ = ["add_commands", "probe_hosts"]

_CONNECT_TIMEOUT = 15.0


def add_commands(cli: click.Group) -> None:
    for command in (job, worker, attach, standalone):
        cli.add_command(command)


def _hosts(state: CliState) -> list[HostSpec]:
    config = state.executor_config()
    backend = config["lithops"]["backend"]
    if backend not in ("ssh", "vm"):
        raise click.ClickException(
            f"the configured compute backend is {backend!r}; these commands are for standalone "
            f"hosts: pass `-b ssh` or a config file whose backend is ssh/vm"
        )
    return parse_hosts(config)


def _probe_script(action: str) -> str:
    script = f"""
root="$HOME/{REMOTE_ROOT}"
[ -d "$root" ] || exit 0
lib=$(ls -d "$root"/*/lib 2>/dev/null | tail -n 1)
[ -n "$lib" ] || exit 0
cd "$HOME" && PYTHONPATH="$lib" python3 -s -m lithops_standalone.probe {action}
"""
    if action == "stop":
        script += 'rm -rf "$root"\n'
    return "sh -c " + shlex.quote(script)


def probe_hosts(specs: list[HostSpec], action: str = "status") -> list[tuple[HostSpec, Any]]:
    """Run the host-side probe on every host in parallel: ``(spec, [reports] or error)``."""
    from lithops_standalone.ssh import connect, run

    results: dict[int, Any] = {}

    def one(i: int, spec: HostSpec) -> None:
        try:
            client = connect(spec, time.monotonic() + _CONNECT_TIMEOUT)
            try:
                status, out, err = run(client, _probe_script(action), 30.0)
            finally:
                client.close()
            if status != 0:
                raise click.ClickException(f"{spec.name}: probe failed: {err.strip()[-500:]}")
            results[i] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i, s), daemon=True) for i, s in enumerate(specs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(_CONNECT_TIMEOUT + 35)
    return [(s, results.get(i, TimeoutError("no answer"))) for i, s in enumerate(specs)]


def _countdown(seconds: float) -> str:
    if seconds == math.inf:
        return "client attached"
    return f"{max(0.0, seconds):.0f} s"


# -- lithops worker list -----------------------------------------------------------------------


@click.group("worker")
def worker() -> None:
    """Standalone hosts and their agents."""


@worker.command("list")
@common_options()
@pass_state
def worker_list(state: CliState) -> None:
    """Hosts, agents, worker processes and time to dismantle."""
    rows: list[list[object]] = []
    for spec, reports in probe_hosts(_hosts(state)):
        if isinstance(reports, Exception):
            rows.append([spec.name, "-", "-", "-", "-", f"unreachable: {reports}"])
            continue
        if not reports:
            rows.append([spec.name, "-", "-", "-", "-", "not bootstrapped"])
        for report in reports:
            agent = report.get("agent")
            if not agent:
                rows.append([spec.name, report["tag"], "-", "-", "-", "no agent running"])
                continue
            pools = ", ".join(
                f"{p['runtime']} {p['capacity'] - p['idle']}/{p['capacity']} busy"
                for p in agent["pools"]
            )
            workers = [p for p in agent["processes"] if "lithops.worker" in p["command"]]
            rows.append(
                [
                    spec.name,
                    report["tag"],
                    agent["pid"],
                    f"{len(workers)} ({pools or 'no pool yet'})",
                    len(agent["clients"]),
                    f"dismantles in {_countdown(agent['time_to_dismantle'])} "
                    f"({agent['dismantle_reason']})",
                ]
            )
    click.echo(render_table(["host", "version", "agent pid", "workers", "clients", "state"], rows))


# -- lithops job list --------------------------------------------------------------------------


@click.group("job")
def job() -> None:
    """Jobs running on standalone hosts."""


@job.command("list")
@common_options()
@pass_state
def job_list(state: CliState) -> None:
    """Jobs with calls in flight on each host."""
    rows: list[list[object]] = []
    for spec, reports in probe_hosts(_hosts(state)):
        if isinstance(reports, Exception):
            rows.append([spec.name, "-", f"unreachable: {reports}"])
            continue
        for report in reports:
            for job_key, count in sorted(((report.get("agent") or {}).get("jobs") or {}).items()):
                rows.append([spec.name, job_key, count])
    if not rows:
        click.echo("No job is running on the standalone hosts.")
        return
    click.echo(render_table(["host", "job", "calls in flight"], rows))


# -- lithops attach ----------------------------------------------------------------------------


@click.command("attach")
@click.argument("host", required=False)
@common_options()
@pass_state
def attach(state: CliState, host: str | None) -> None:
    """Open an interactive shell on a standalone HOST (address or name; default: the first)."""
    specs = _hosts(state)
    spec = _pick(specs, host)
    from lithops_standalone.ssh import connect

    client = connect(spec, time.monotonic() + _CONNECT_TIMEOUT)
    try:
        _interactive(client.invoke_shell(term=os.environ.get("TERM", "vt100")))
    finally:
        client.close()


def _pick(specs: list[HostSpec], wanted: str | None) -> HostSpec:
    if wanted is None:
        return specs[0]
    for spec in specs:
        if wanted in (spec.address, spec.name, f"{spec.address}:{spec.port}"):
            return spec
    raise click.ClickException(
        f"no configured host is {wanted!r}; configured: {', '.join(s.name for s in specs)}"
    )


def _interactive(channel: Any) -> None:
    """Copy the terminal to the channel and back until the remote shell exits."""
    tty_mode: Callable[[], None] | None = None
    if sys.stdin.isatty():
        import termios
        import tty

        saved = termios.tcgetattr(sys.stdin)
        tty.setraw(sys.stdin.fileno())

        def restore() -> None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)

        tty_mode = restore
    try:
        while True:
            readable, _, _ = select.select([channel, sys.stdin], [], [])
            if channel in readable:
                data = channel.recv(1 << 16)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if sys.stdin in readable:
                data = os.read(sys.stdin.fileno(), 1024)
                if not data:
                    channel.shutdown_write()
                    continue
                channel.sendall(data)
    finally:
        if tty_mode is not None:
            tty_mode()
        channel.close()


# -- lithops standalone ... --------------------------------------------------------------------


@click.group("standalone")
def standalone() -> None:
    """Standalone mode housekeeping."""


@standalone.command("clean")
@common_options()
@pass_state
def standalone_clean(state: CliState) -> None:
    """Stop every agent on the configured hosts and remove their bootstrap directories."""
    failed = False
    for spec, reports in probe_hosts(_hosts(state), action="stop"):
        if isinstance(reports, Exception):
            failed = True
            click.echo(f"{spec.name}: not cleaned: {reports}", err=True)
            continue
        stopped = sum(1 for r in reports if r.get("stopped"))
        click.echo(
            f"{spec.name}: {stopped} agent(s) stopped, {len(reports)} bootstrap director"
            f"{'y' if len(reports) == 1 else 'ies'} removed"
        )
    if failed:
        raise click.ClickException("some hosts could not be cleaned (see above)")


@standalone.command("forget-host")
@click.argument("host")
@click.option("--port", type=int, default=None, help="Only this port (default: every port).")
def standalone_forget_host(host: str, port: int | None) -> None:
    """Forget the recorded SSH key of HOST (after the host was legitimately reinstalled)."""
    removed = forget_host(host, port)
    click.echo(f"removed {removed} key(s) of {host} from {known_hosts_path()}")
