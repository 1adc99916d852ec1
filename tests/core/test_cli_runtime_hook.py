"""``lithops runtime ...`` and ``lithops clean`` dispatch to a backend through one hook.

A test-only backend (``fakefaas``) answers ``lithops_runtime_manager`` with an in-memory manager;
the core's commands must reach each of its methods with the arguments a user typed, show
what it returns, and say in one line when a backend has no runtimes to manage. The helpers of
``lithops.cli`` (config, table, one-line failure) are tested through a plugin command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from lithops.cli import build_cli, command_config, command_options, fail, print_table
from lithops.errors import BackendUnavailableError
from lithops.plugins import hookimpl
from lithops.plugins import manager as plugin_manager
from lithops.plugins.manager import PluginHost, new_plugin_manager
from lithops.plugins.types import BackendInfo, BackendKind, RuntimeInfo
from lithops.storage import plugin as core_storage_plugin

FAAS = "fakefaas"


class FakeRuntimes:
    """An in-memory RuntimeManager: deployments are (runtime, memory) -> version."""

    backend = FAAS

    def __init__(self, store: dict[tuple[str, int], str], calls: list[tuple[Any, ...]]) -> None:
        self.store = store
        self.calls = calls

    def _info(self, runtime: str, memory: int) -> RuntimeInfo:
        return RuntimeInfo(
            runtime, memory, self.store[(runtime, memory)], f"fn-{runtime}-{memory}", {"zone": "z1"}
        )

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        self.calls.append(("build", name, file, tuple(extra_args)))
        if name == "bad":
            raise BackendUnavailableError("the registry refused bad: log in with `faas login`")
        return f"registry.example/{name}"

    def deploy(self, name: str | None, memory: int | None, timeout: int | None) -> RuntimeInfo:
        self.calls.append(("deploy", name, memory, timeout))
        key = (name or "default", memory or 256)
        self.store[key] = "1.0"
        return self._info(*key)

    def list(self, name: str | None) -> list[RuntimeInfo]:
        return [self._info(*k) for k in sorted(self.store) if name in (None, k[0])]

    def update(self, name: str | None) -> list[RuntimeInfo]:
        keys = [k for k in sorted(self.store) if k[0] == (name or "default")]
        for key in keys:
            self.store[key] = "2.0"
        return [self._info(*k) for k in keys]

    def delete(
        self, name: str | None, memory: int | None, version: str | None
    ) -> list[RuntimeInfo]:
        self.calls.append(("delete", name, memory, version))
        gone = [
            k for k in sorted(self.store) if k[0] == (name or "default") and memory in (None, k[1])
        ]
        infos = [self._info(*k) for k in gone]
        for key in gone:
            del self.store[key]
        return infos

    def clean(self, everything: bool) -> list[str]:
        self.calls.append(("clean", everything))
        gone = [f"fn-{r}-{m}" for r, m in sorted(self.store)]
        self.store.clear()
        return gone


class FakeFaasPlugin:
    def __init__(self) -> None:
        self.store: dict[tuple[str, int], str] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.configs: list[Mapping[str, Any]] = []

    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        register(
            BackendInfo(
                name=FAAS,
                kind=BackendKind.COMPUTE,
                mode="serverless",
                config_keys={"project": "the project", "runtime_memory": "MB"},
            )
        )
        register(BackendInfo(name="plainvm", kind=BackendKind.COMPUTE, mode="standalone"))

    @hookimpl
    def lithops_runtime_manager(
        self, backend: str, config: Mapping[str, Any]
    ) -> FakeRuntimes | None:
        if backend != FAAS:
            return None
        self.configs.append(config)
        return FakeRuntimes(self.store, self.calls)


@click.command("quota")
@command_options()
def quota() -> None:
    """A plugin's command written with the public helpers."""
    config = command_config()
    section = config.get(FAAS) or {}
    if "project" not in section:
        fail(f"no 'project' in the {FAAS} section; set it in the config file")
    print_table(("PROJECT", "USED"), [(section["project"], 3)])


class QuotaCommand:
    @hookimpl
    def lithops_cli_commands(self, cli: click.Group) -> None:
        cli.add_command(quota)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("LITHOPS_CONFIG", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def lithops_logger_restored() -> Iterator[None]:
    logger = logging.getLogger("lithops")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture
def plugin() -> FakeFaasPlugin:
    return FakeFaasPlugin()


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, plugin: FakeFaasPlugin) -> PluginHost:
    host = PluginHost(new_plugin_manager())
    host.register_module(core_storage_plugin, name="core-storage", distribution="lithops-core")
    host.register_module(plugin, name="fakefaas", distribution="lithops-fakefaas")
    host.register_module(QuotaCommand(), name="quota", distribution="lithops-fakefaas")
    monkeypatch.setattr(plugin_manager, "_host", host)
    return host


@pytest.fixture
def config_file(isolated: Path) -> str:
    path = isolated / "config.yaml"
    path.write_text(f"lithops:\n  backend: {FAAS}\n{FAAS}:\n  project: p-42\n")
    return str(path)


def run(host: PluginHost, *args: str) -> Result:
    return CliRunner().invoke(build_cli(host), list(args), catch_exceptions=False)


def test_deploy_list_update_delete_reach_the_backends_manager(
    host: PluginHost, plugin: FakeFaasPlugin, config_file: str
) -> None:
    deployed = run(host, "runtime", "deploy", "img:1", "-m", "512", "-t", "60", "-c", config_file)
    assert deployed.exit_code == 0, deployed.output
    assert "Deployed runtime img:1 (512 MB) as fn-img:1-512" in deployed.output
    assert plugin.calls[-1] == ("deploy", "img:1", 512, 60)
    assert plugin.configs[-1][FAAS]["project"] == "p-42"  # the validated config reaches it

    listing = run(host, "runtime", "list", "-c", config_file).output.splitlines()
    assert listing[0].split() == ["RUNTIME", "MEMORY", "VERSION", "DEPLOYED", "AS", "ZONE"]
    assert listing[2].split() == ["img:1", "512", "MB", "1.0", "fn-img:1-512", "z1"]

    updated = run(host, "runtime", "update", "img:1", "-c", config_file)
    assert "Updated 1 deployment(s)" in updated.output
    assert plugin.store == {("img:1", 512): "2.0"}

    deleted = run(host, "runtime", "delete", "img:1", "-m", "512", "-v", "2", "-c", config_file)
    assert plugin.calls[-1] == ("delete", "img:1", 512, "2")
    assert "Deleted 1 deployment(s)" in deleted.output
    listed = run(host, "runtime", "list", "-c", config_file)
    assert "No runtimes deployed on fakefaas" in listed.output


def test_build_gets_the_file_and_extra_arguments_and_fails_in_one_line(
    host: PluginHost, plugin: FakeFaasPlugin, config_file: str
) -> None:
    built = run(
        host, "runtime", "build", "-f", "Dockerfile.x", "myimg", "--platform=arm", "-c", config_file
    )
    assert built.exit_code == 0, built.output
    assert plugin.calls[-1] == ("build", "myimg", "Dockerfile.x", ("--platform=arm",))
    assert "Built and published runtime registry.example/myimg" in built.output

    refused = run(host, "runtime", "build", "bad", "-c", config_file)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "Error: BackendUnavailableError: the registry refused bad: log in with `faas login`"
    ]


def test_clean_runs_the_core_clean_and_the_backends_with_all(
    host: PluginHost, plugin: FakeFaasPlugin, config_file: str
) -> None:
    run(host, "runtime", "deploy", "-c", config_file)
    result = run(host, "clean", "--all", "-c", config_file)
    assert result.exit_code == 0, result.output
    assert plugin.calls[-1] == ("clean", True)
    assert "Removed fn-default-256" in result.output
    assert plugin.store == {}
    assert "Nothing to clean." in run(host, "clean", "-c", config_file).output
    assert plugin.calls[-1] == ("clean", False)


def test_a_backend_without_runtimes_is_a_one_line_error_and_clean_still_works(
    host: PluginHost, isolated: Path
) -> None:
    path = isolated / "vm.yaml"
    path.write_text("lithops:\n  backend: plainvm\n")
    result = run(host, "runtime", "list", "-c", str(path))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "backend 'plainvm' has no runtimes to manage" in lines[0]
    assert run(host, "clean", "-c", str(path)).exit_code == 0


def test_plugin_command_uses_the_config_table_and_fail_helpers(
    host: PluginHost, config_file: str, isolated: Path
) -> None:
    result = run(host, "quota", "-c", config_file)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split() == ["p-42", "3"]
    bare = isolated / "bare.yaml"
    bare.write_text(f"lithops:\n  backend: {FAAS}\n")
    failed = run(host, "quota", "-c", str(bare))
    assert failed.exit_code == 1
    assert failed.output.strip() == (
        f"Error: no 'project' in the {FAAS} section; set it in the config file"
    )
