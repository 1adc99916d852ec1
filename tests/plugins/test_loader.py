"""How plugins are found, isolated and rejected."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import lithops
from lithops.errors import BackendUnavailableError, PluginError, UnknownBackendError
from lithops.plugins.manager import get_plugin_host
from lithops.plugins.types import BackendKind

REGISTER = """
from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind

@hookimpl
def lithops_register_backends(register):
    register(BackendInfo(name={name!r}, kind=BackendKind.COMPUTE, mode="serverless"))
"""


def test_localhost_registers_through_its_entry_point_like_a_third_party() -> None:
    info = get_plugin_host().resolve("localhost", BackendKind.COMPUTE)
    assert info.distribution == "lithops-localhost"
    assert info.mode == "localhost"


def test_a_broken_plugin_is_reported_and_the_others_still_load(make_distribution) -> None:
    make_distribution("lithops-broken", "lithops_broken", "raise ImportError('no such thing')")
    make_distribution("lithops-fine", "lithops_fine", REGISTER.format(name="fine"))
    host = get_plugin_host()
    assert "no such thing" in host.broken["lithops_broken"]
    assert host.resolve("fine", BackendKind.COMPUTE).distribution == "lithops-fine"
    assert host.resolve("localhost", BackendKind.COMPUTE)


def test_duplicate_backend_names_are_an_error_naming_both_distributions(make_distribution) -> None:
    make_distribution("lithops-one", "lithops_one", REGISTER.format(name="dupe"))
    make_distribution("lithops-two", "lithops_two", REGISTER.format(name="dupe"))
    with pytest.raises(PluginError) as caught:
        get_plugin_host().resolve("dupe", BackendKind.COMPUTE)
    assert "lithops-one" in str(caught.value) and "lithops-two" in str(caught.value)


def test_a_misspelled_hook_is_caught_at_load_time(make_distribution) -> None:
    make_distribution(
        "lithops-typo",
        "lithops_typo",
        """
        from lithops.plugins import hookimpl

        @hookimpl
        def lithops_provison(request):
            return None
    """,
    )
    host = get_plugin_host()
    assert "lithops_provison" in host.broken["lithops_typo"]


def test_disabled_plugins_are_not_loaded(make_distribution, monkeypatch) -> None:
    make_distribution("lithops-blocked", "lithops_blocked", REGISTER.format(name="blocked"))
    monkeypatch.setenv("LITHOPS_DISABLE_PLUGINS", "lithops-blocked")
    with pytest.raises(UnknownBackendError):
        get_plugin_host().resolve("blocked", BackendKind.COMPUTE)


def test_unknown_backend_lists_installed_ones_and_the_distribution_to_install(
    monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> None:
    # The cloud distributions may be installed here: disabled, their backends are unknown.
    monkeypatch.setenv("LITHOPS_DISABLE_PLUGINS", "lithops-aws,lithops-gcp")
    with pytest.raises(UnknownBackendError) as caught:
        lithops.FunctionExecutor(backend="gcp_functions")
    message = str(caught.value)
    assert "localhost" in message and "pip install lithops-gcp" in message


def test_a_worker_cold_start_does_not_load_plugins() -> None:
    probe = (
        "import sys, lithops.worker.serve as s, importlib.metadata as m\n"
        "calls = []\n"
        "m.entry_points = lambda *a, **k: calls.append(1)\n"
        "import lithops.worker.runtime\n"
        "print('pluggy' in sys.modules, 'lithops.plugins.manager' in sys.modules, len(calls))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.split() == ["False", "False", "0"]


def test_vm_providers_are_answered_by_the_plugin_that_owns_the_name(make_distribution) -> None:
    make_distribution(
        "lithops-clouds",
        "lithops_clouds",
        """
        from lithops.plugins import hookimpl
        from lithops.plugins.types import BackendInfo, BackendKind

        class Provider:
            def __init__(self, config):
                self.config = config

        @hookimpl
        def lithops_register_backends(register):
            register(BackendInfo(name="toycloud", kind=BackendKind.VM_PROVIDER))

        @hookimpl
        def lithops_vm_provider(name, config):
            return Provider(config) if name == "toycloud" else None
    """,
    )
    host = get_plugin_host()
    assert host.resolve("toycloud", BackendKind.VM_PROVIDER).distribution == "lithops-clouds"
    provider = host.vm_provider("toycloud", {"region": "r1"})  # lithops_vm_provider
    assert provider.config == {"region": "r1"}  # type: ignore[attr-defined]
    with pytest.raises(BackendUnavailableError, match="othercloud"):
        host.vm_provider("othercloud", {})
