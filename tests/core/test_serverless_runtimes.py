"""``ServerlessRuntimeManager.config_for``: what a runtime command's NAME and ``--timeout``
mean for the backend section the platform code reads."""

from __future__ import annotations

from lithops.serverless.runtimes import DEFAULT_RUNTIME, ServerlessRuntimeManager


class MyRuntimes(ServerlessRuntimeManager):
    backend = "my_functions"


def test_a_name_replaces_the_configured_runtime_and_default_clears_it() -> None:
    config = {"my_functions": {"runtime": "configured", "runtime_timeout": 60, "other": 1}}
    manager = MyRuntimes(config)
    assert manager.config_for(None)["my_functions"]["runtime"] == "configured"
    assert manager.config_for(DEFAULT_RUNTIME)["my_functions"]["runtime"] == ""
    named = manager.config_for("mine", timeout=30)["my_functions"]
    assert named == {"runtime": "mine", "runtime_timeout": 30, "other": 1}
    assert config["my_functions"]["runtime"] == "configured"  # the manager's config untouched
    assert manager.config_for(None)["my_functions"]["runtime_timeout"] == 60


def test_a_config_without_the_section_gets_one() -> None:
    assert MyRuntimes({}).config_for("mine") == {"my_functions": {"runtime": "mine"}}
