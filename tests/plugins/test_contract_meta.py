"""The plugin contract stays honest: every hook is documented and tested."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lithops.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("lithops_"))


def test_there_are_hooks_for_provision_invoke_and_log_streaming() -> None:
    assert {
        "lithops_provision",
        "lithops_invoke",
        "lithops_stream_logs",
        "lithops_register_backends",
        "lithops_cli_commands",
    } <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_documents_its_parameters_and_return(name: str) -> None:
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func) or ""
    for param in inspect.signature(func).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":returns:" in doc
    if getattr(func, "lithops_spec", {}).get("firstresult"):
        assert "Stops at first non-None result" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_in_the_plugin_authors_guide(name: str) -> None:
    assert f"`{name}(" in (ROOT / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    this = Path(__file__).resolve()
    sources = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != this]
    sources += [ROOT / "lithops-core/src/lithops/testing/contract.py"]
    assert any(name in p.read_text() for p in sources), f"no test exercises {name}"
