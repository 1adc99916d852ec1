"""``lithops logs poll|get``: what functions printed, from the backend that ran them."""

from __future__ import annotations

import threading

import click

from lithops.cli.state import CliState, common_options, pass_state
from lithops.plugins.types import LogLine, LogRequest

__all__ = ["format_log_line", "logs"]


def format_log_line(line: LogLine) -> str:
    """``[job_key call_id] text``, one terminal line per printed line."""
    return f"[{line.job_key} {line.call_id}] {line.text.rstrip(chr(10))}"


def _stream(state: CliState, job_key: str | None, follow: bool) -> int:
    config = state.executor_config()
    backend = config["lithops"]["backend"]
    request = LogRequest(
        backend=backend, config=config, job_key=job_key, follow=follow, stop=threading.Event()
    )
    lines = state.host.hook.lithops_stream_logs(request=request)
    if lines is None:
        raise click.ClickException(
            f"no installed plugin streams logs for backend {backend!r}; "
            f"`lithops backends` shows which backends have the 'logs' capability"
        )
    count = 0
    try:
        for line in lines:
            click.echo(format_log_line(line))
            count += 1
    except KeyboardInterrupt:
        # Ctrl-C is how `poll` ends: stop the stream quietly.
        request.stop.set()
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    return count


@click.group("logs")
def logs() -> None:
    """Show what functions printed."""


@logs.command("poll")
@click.option("--job", "job_key", default=None, help="Only this job (EXECUTOR_ID/JOB_ID).")
@common_options()
@pass_state
def poll(state: CliState, job_key: str | None) -> None:
    """Follow function output live, until Ctrl-C."""
    _stream(state, job_key, follow=True)


@logs.command("get")
@click.argument("job_key")
@common_options()
@pass_state
def get(state: CliState, job_key: str) -> None:
    """Print the output recorded for JOB_KEY."""
    if _stream(state, job_key, follow=False) == 0:
        click.echo(f"No output recorded for job {job_key}", err=True)
