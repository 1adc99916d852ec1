"""The ``lithops`` CLI through click's runner: options, backends, storage, logs, plugin commands."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

import lithops.cli
from lithops.cli import build_cli
from lithops.plugins import hookimpl
from lithops.plugins import manager as plugin_manager
from lithops.plugins.manager import PluginHost, new_plugin_manager
from lithops.plugins.types import BackendInfo, BackendKind, LogLine, LogRequest
from lithops.storage import plugin as core_storage_plugin
from lithops.version import __version__


class FakeCompute:
    """Registers compute backends and streams canned log lines for ``fakelogs``."""

    def __init__(self) -> None:
        self.requests: list[LogRequest] = []

    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        register(
            BackendInfo(
                name="localhost",
                kind=BackendKind.COMPUTE,
                mode="localhost",
                capabilities=frozenset({"cancel", "logs"}),
                config_keys={"worker_processes": "processes"},
            )
        )
        register(BackendInfo(name="fakelogs", kind=BackendKind.COMPUTE, mode="serverless"))

    @hookimpl
    def lithops_stream_logs(self, request: LogRequest) -> Iterator[LogLine] | None:
        if request.backend != "fakelogs":
            return None
        self.requests.append(request)
        return self._lines(request)

    @staticmethod
    def _lines(request: LogRequest) -> Iterator[LogLine]:
        yield LogLine(1.0, request.job_key or "E1/J0", "00000", "hello from call 0\n")
        yield LogLine(2.0, request.job_key or "E1/J0", "00001", "hello from call 1")
        if request.follow:
            # What the user's Ctrl-C looks like from inside the stream.
            raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("LITHOPS_CONFIG", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def lithops_logger_restored() -> Iterator[logging.Logger]:
    """The CLI configures the ``lithops`` logger; give other tests theirs back."""
    logger = logging.getLogger("lithops")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture
def compute() -> FakeCompute:
    return FakeCompute()


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, compute: FakeCompute) -> PluginHost:
    """The real core storage plugin plus fake compute backends, as the process-wide host."""
    host = PluginHost(new_plugin_manager())
    host.register_module(core_storage_plugin, name="core-storage", distribution="lithops-core")
    host.register_module(compute, name="fake-compute", distribution="lithops-fake")
    monkeypatch.setattr(plugin_manager, "_host", host)
    return host


def run(host: PluginHost, *args: str) -> Result:
    return CliRunner().invoke(build_cli(host), list(args), catch_exceptions=False)


# -- root options ------------------------------------------------------------------------------


def test_version_prints_the_core_version(host: PluginHost) -> None:
    result = run(host, "--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"lithops {__version__}"


def test_help_lists_the_builtin_commands(host: PluginHost) -> None:
    result = run(host, "--help")
    for name in ("backends", "clean", "hello", "logs", "storage", "test"):
        assert f"  {name}" in result.output


# -- backends ----------------------------------------------------------------------------------


def test_backends_lists_name_kind_mode_distribution_capabilities(host: PluginHost) -> None:
    result = run(host, "backends")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "MODE", "DISTRIBUTION", "CAPABILITIES"]
    row = next(line for line in lines if line.startswith("localhost") and "compute" in line)
    assert row.split() == ["localhost", "compute", "localhost", "lithops-fake", "cancel,", "logs"]
    assert any(line.split()[:4] == ["localhost", "storage", "-", "lithops-core"] for line in lines)


def test_backends_reports_broken_plugins(host: PluginHost) -> None:
    host.broken["badplugin"] = "ImportError: no module named boto3"
    result = run(host, "backends")
    assert "failed to load" in result.output
    assert "badplugin: ImportError: no module named boto3" in result.output


# -- plugin commands ---------------------------------------------------------------------------


@click.command("greet")
def greet() -> None:
    click.echo("greetings from a plugin")


@click.command("hello")
def fake_hello() -> None:
    click.echo("hijacked")


class AddsCommands:
    @hookimpl
    def lithops_cli_commands(self, cli: click.Group) -> None:
        cli.add_command(greet)
        cli.add_command(fake_hello)


class BrokenCommands:
    @hookimpl
    def lithops_cli_commands(self, cli: click.Group) -> None:
        raise RuntimeError("boom")


def test_plugin_adds_a_command(host: PluginHost) -> None:
    host.register_module(AddsCommands(), name="adds", distribution="lithops-adds")
    result = run(host, "greet")
    assert result.exit_code == 0
    assert result.output == "greetings from a plugin\n"


def test_plugin_cannot_replace_a_builtin_command_and_the_conflict_is_reported(
    host: PluginHost,
) -> None:
    host.register_module(AddsCommands(), name="adds", distribution="lithops-adds")
    group = build_cli(host)
    assert group.commands["hello"] is not fake_hello
    assert group.commands["greet"] is greet
    assert any("'adds'" in c and "'hello'" in c for c in group.conflicts)
    result = CliRunner().invoke(group, ["backends"])
    assert "plugin 'adds' adds a command 'hello'" in result.output


def test_broken_plugin_hook_is_reported_and_other_plugins_still_add_commands(
    host: PluginHost,
) -> None:
    host.register_module(BrokenCommands(), name="broken", distribution="lithops-broken")
    host.register_module(AddsCommands(), name="adds", distribution="lithops-adds")
    group = build_cli(host)
    assert "greet" in group.commands
    assert any(
        "'broken' failed to add its commands: RuntimeError: boom" in c for c in group.conflicts
    )


def test_main_warns_about_conflicts_on_stderr(
    host: PluginHost, capsys: pytest.CaptureFixture[str]
) -> None:
    host.register_module(AddsCommands(), name="adds", distribution="lithops-adds")
    with pytest.raises(SystemExit) as exit_info:
        lithops.cli.main(["greet"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == "greetings from a plugin\n"
    assert "lithops: warning: plugin 'adds' adds a command 'hello'" in captured.err


def test_building_the_cli_loads_no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden() -> PluginHost:
        raise AssertionError("plugins were loaded while building the CLI")

    monkeypatch.setattr(plugin_manager, "get_plugin_host", forbidden)
    assert "hello" in build_cli().commands


# -- storage -----------------------------------------------------------------------------------


def test_storage_put_list_get_delete_round_trip(host: PluginHost, isolated: Path) -> None:
    src = isolated / "data.bin"
    src.write_bytes(b"\x00lithops\xff" * 100)
    assert run(host, "storage", "put", str(src), "bk", "--key", "dir/data.bin").exit_code == 0

    listing = run(host, "storage", "list", "bk", "--prefix", "dir/")
    assert "dir/data.bin" in listing.output and " 900 " in listing.output

    out = isolated / "copy.bin"
    assert run(host, "storage", "get", "bk", "dir/data.bin", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == src.read_bytes()

    assert "Deleted 1 object(s)" in run(host, "storage", "delete", "bk", "--prefix", "dir/").output
    assert "No objects in bk" in run(host, "storage", "list", "bk").output


def test_storage_get_to_stdout(host: PluginHost, isolated: Path) -> None:
    src = isolated / "note.txt"
    src.write_text("just text\n")
    run(host, "storage", "put", str(src), "bk")
    assert run(host, "storage", "get", "bk", "note.txt", "-o", "-").output == "just text\n"


def test_storage_get_of_a_missing_key_is_a_clean_error(host: PluginHost) -> None:
    result = run(host, "storage", "get", "bk", "missing")
    assert result.exit_code == 1
    assert "StorageNoSuchKeyError" in result.output
    assert "Traceback" not in result.output


def test_storage_delete_needs_exactly_one_of_key_and_prefix(host: PluginHost) -> None:
    result = run(host, "storage", "delete", "bk")
    assert result.exit_code == 2
    assert "either a KEY or --prefix" in result.output


def test_storage_backend_option_selects_the_storage_backend(host: PluginHost) -> None:
    result = run(host, "storage", "list", "bk", "-b", "aws_s3")
    assert result.exit_code == 1
    assert "unknown storage backend 'aws_s3'" in result.output
    assert "pip install lithops-aws" in result.output


# -- logs --------------------------------------------------------------------------------------


def test_logs_get_prints_lines_as_job_and_call(host: PluginHost, compute: FakeCompute) -> None:
    result = run(host, "-b", "fakelogs", "logs", "get", "E7/J3")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "[E7/J3 00000] hello from call 0",
        "[E7/J3 00001] hello from call 1",
    ]
    assert compute.requests[0].follow is False
    assert compute.requests[0].config["lithops"]["backend"] == "fakelogs"


def test_logs_poll_follows_until_ctrl_c_and_stops_the_stream(
    host: PluginHost, compute: FakeCompute
) -> None:
    result = run(host, "logs", "poll", "-b", "fakelogs", "--job", "E1/J9")
    assert result.exit_code == 0
    assert "[E1/J9 00001] hello from call 1" in result.output
    request = compute.requests[0]
    assert request.follow is True and request.job_key == "E1/J9"
    assert isinstance(request.stop, threading.Event) and request.stop.is_set()


def test_logs_without_a_streaming_plugin_says_so(host: PluginHost) -> None:
    result = run(host, "logs", "get", "E1/J0")
    assert result.exit_code == 1
    assert "no installed plugin streams logs for backend 'localhost'" in result.output


def test_subcommand_backend_option_wins_over_the_root_one(
    host: PluginHost, compute: FakeCompute
) -> None:
    run(host, "-b", "localhost", "logs", "get", "-b", "fakelogs", "E1/J1")
    assert compute.requests[0].backend == "fakelogs"


# -- config errors -----------------------------------------------------------------------------


def test_config_file_error_is_shown_without_traceback(host: PluginHost, isolated: Path) -> None:
    config = isolated / "cfg.yaml"
    config.write_text(yaml.safe_dump({"lithops": {"backend": "fakelogs", "retires": 1}}))
    result = run(host, "-c", str(config), "logs", "get", "E1/J1")
    assert result.exit_code == 1
    assert "ConfigError: unknown key 'retires'" in result.output
    assert "Did you mean 'retries'?" in result.output
    assert "Traceback" not in result.output


def test_config_file_option_is_read(host: PluginHost, isolated: Path, compute: FakeCompute) -> None:
    config = isolated / "cfg.yaml"
    config.write_text(yaml.safe_dump({"lithops": {"backend": "fakelogs"}}))
    assert run(host, "logs", "get", "-c", str(config), "E1/J1").exit_code == 0
    assert compute.requests[0].backend == "fakelogs"


def test_missing_config_file_is_a_usage_error(host: PluginHost, isolated: Path) -> None:
    result = run(host, "-c", str(isolated / "nope.yaml"), "backends")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_an_empty_config_file_given_with_c_is_used_not_the_home_one(
    host: PluginHost, isolated: Path
) -> None:
    (isolated / ".lithops").mkdir()
    (isolated / ".lithops" / "config").write_text(yaml.safe_dump({"lithops": {"storage": "nope"}}))
    empty = isolated / "empty.yaml"
    empty.write_text("")
    # the home file is read by default...
    assert "unknown storage backend 'nope'" in run(host, "storage", "list", "bk").output
    # ...but not when -c names a file, even an empty one
    result = run(host, "storage", "list", "bk", "-c", str(empty))
    assert "nope" not in result.output
    assert "localhost storage" in result.output  # the bucket does not exist there yet


def test_debug_option_shows_lithops_debug_logs_on_stderr(
    host: PluginHost, lithops_logger_restored: logging.Logger
) -> None:
    class Noisy:
        @hookimpl
        def lithops_cli_commands(self, cli: click.Group) -> None:
            @cli.command("noisy")
            def noisy() -> None:
                logging.getLogger("lithops.noisy").debug("details only with -d")

    host.register_module(Noisy(), name="noisy", distribution="lithops-noisy")
    quiet = run(host, "noisy")
    assert "details only with -d" not in quiet.output
    loud = CliRunner().invoke(build_cli(host), ["-d", "noisy"])
    assert "DEBUG lithops.noisy: details only with -d" in loud.output
    assert lithops_logger_restored.level == logging.DEBUG
