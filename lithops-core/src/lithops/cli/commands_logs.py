"""``lithops logs poll|get``: what functions printed, from the backend that ran them."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from lithops.cli.state import CliState, common_options, pass_state
from lithops.errors import BackendUnavailableError
from lithops.plugins.types import LogLine, LogRequest

__all__ = ["format_log_line", "logs"]


def format_log_line(line: LogLine) -> str:
    """``[job_key call_id] text``, one terminal line per printed line."""
    return f"[{line.job_key} {line.call_id}] {line.text.rstrip(chr(10))}"


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM end a followed stream cleanly.

    SIGINT is set explicitly because a shell starts background jobs with it ignored, and then
    ``kill -INT`` would do nothing; handlers are restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stream(state: CliState, job_key: str | None, follow: bool) -> int:
    config = state.executor_config()
    backend = config["lithops"]["backend"]
    request = LogRequest(
        backend=backend, config=config, job_key=job_key, follow=follow, stop=threading.Event()
    )
    try:
        lines = state.host.stream_logs(request)
    except BackendUnavailableError as exc:
        raise click.ClickException(
            f"no installed plugin streams logs for backend {backend!r} ({exc}); "
            f"`lithops backends` shows which backends have the 'logs' capability"
        ) from exc
    count = 0
    try:
        with _stop_on_signals() if follow else contextlib.nullcontext():
            for line in lines:
                click.echo(format_log_line(line))
                # Live output: a pipe or file must see each line as it comes, not per 4 KiB.
                sys.stdout.flush()
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
