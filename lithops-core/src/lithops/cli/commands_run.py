"""``lithops hello``, ``lithops test`` and ``lithops clean``: run something, check, tidy up."""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import click

from lithops.cli.state import CliState, common_options, pass_state
from lithops.cli.table import render_table
from lithops.errors import LithopsError

__all__ = ["hello", "selftest"]


def where_am_i(name: str) -> str:
    """Runs on a worker: names the host and process that ran it."""
    return f"{name}@{socket.gethostname()}:{os.getpid()}"


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def _executor(state: CliState) -> Any:
    import lithops

    return lithops.FunctionExecutor(**state.executor_kwargs())


@click.command("hello")
@click.option("-n", "--calls", default=3, show_default=True, help="How many calls to map.")
@common_options()
@pass_state
def hello(state: CliState, calls: int) -> None:
    """Run a tiny map on the configured backend and say hello."""
    config = state.executor_config()
    backend, mode = config["lithops"]["backend"], config["lithops"]["mode"]
    user = getpass.getuser()
    try:
        with _executor(state) as fexec:
            results = fexec.map(where_am_i, [user] * calls).get_result()
    except LithopsError:
        raise  # the group prints these in one line
    except Exception as exc:
        # hello is the first thing a new user runs: one line saying what failed, not a
        # traceback of lithops' internals (-d shows it)
        if state.debug:
            raise
        raise click.ClickException(
            f"the hello map on backend {backend!r} failed: {type(exc).__name__}: {exc} "
            f"(run 'lithops hello -d' for the traceback)"
        ) from exc
    workers = sorted({r.split("@", 1)[1] for r in results})
    click.echo(f"Hello {user}! Lithops is working as expected :)")
    click.echo(
        f"{len(results)} call(s) ran on backend {backend!r} ({mode} mode), "
        f"on {len(workers)} worker(s): {', '.join(workers)}"
    )


def _run_check(name: str, check: Callable[[], str]) -> tuple[str, str, str, str]:
    start = time.monotonic()
    try:
        detail, result = check(), "pass"
    except Exception as exc:
        detail, result = f"{type(exc).__name__}: {exc}", "FAIL"
    return name, result, f"{time.monotonic() - start:.2f}", detail


@click.command("test")
@click.option("--timeout", default=120, show_default=True, help="Seconds a check may take.")
@common_options()
@pass_state
def selftest(state: CliState, timeout: int) -> None:
    """Quick self-check: map, errors, storage round trip."""
    checks: list[tuple[str, Callable[[], str]]] = []
    config: dict[str, Any] = {}

    def check_config() -> str:
        config.update(state.executor_config())
        chosen = config["lithops"]
        return f"backend={chosen['backend']} mode={chosen['mode']} storage={chosen['storage']}"

    fexec_holder: list[Any] = []

    def check_map() -> str:
        fexec = _executor(state)
        fexec_holder.append(fexec)
        got = fexec.map(square, range(5)).get_result(timeout=timeout)
        if list(got) != [0, 1, 4, 9, 16]:
            raise AssertionError(f"map(square, range(5)) gave {got!r}")
        return "map(square, range(5)) == [0, 1, 4, 9, 16]"

    def check_error() -> str:
        if not fexec_holder:
            raise RuntimeError("skipped: no executor (the map check failed)")
        futures = fexec_holder[0].map(fail_on_three, range(5))
        try:
            fexec_holder[0].get_result(futures, timeout=timeout)
        except ValueError as exc:
            return f"ValueError re-raised on the client: {exc}"
        raise AssertionError("a ValueError raised in a call did not reach the client")

    def check_storage() -> str:
        store = state.make_storage()
        bucket = store.bucket
        key = f"lithops.test/{uuid.uuid4().hex}"
        body = os.urandom(1024)
        store.put_object(bucket, key, body)
        try:
            if store.get_object(bucket, key) != body:
                raise AssertionError("get_object returned other bytes than put_object stored")
            if key not in store.list_keys(bucket, "lithops.test/"):
                raise AssertionError("list_keys does not show the object just stored")
        finally:
            store.delete_object(bucket, key)
        if key in store.list_keys(bucket, "lithops.test/"):
            raise AssertionError("the object is still listed after delete_object")
        return f"put/get/list/delete of 1 KiB in {store.backend}:{bucket}"

    checks = [
        ("config", check_config),
        ("map", check_map),
        ("errors", check_error),
        ("storage", check_storage),
    ]
    rows = []
    try:
        for name, check in checks:
            rows.append(_run_check(name, check))
    finally:
        for fexec in fexec_holder:
            close = getattr(fexec, "__exit__", None)
            if close is not None:
                close(None, None, None)
    click.echo(render_table(("CHECK", "RESULT", "SECONDS", "DETAIL"), rows))
    failed = [row[0] for row in rows if row[1] != "pass"]
    if failed:
        click.echo(f"\n{len(failed)} of {len(rows)} checks failed: {', '.join(failed)}")
        raise SystemExit(1)
    click.echo(f"\nAll {len(rows)} checks passed.")
