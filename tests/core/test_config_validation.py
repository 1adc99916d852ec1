"""lithops.config: a wrong key or value is an error that names the key, the section and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lithops.config import default_config, load_yaml_config, resolve_executor_config
from lithops.errors import ConfigError
from lithops.plugins import hookimpl
from lithops.plugins import manager as plugin_manager
from lithops.plugins.manager import PluginHost, new_plugin_manager
from lithops.plugins.types import BackendInfo, BackendKind

BACKENDS = [
    BackendInfo(
        name="localhost",
        kind=BackendKind.COMPUTE,
        mode="localhost",
        config_keys={"runtime": "python", "worker_processes": "processes"},
    ),
    BackendInfo(name="localhost", kind=BackendKind.STORAGE, config_keys={"storage_root": "dir"}),
    BackendInfo(
        name="ssh", kind=BackendKind.COMPUTE, mode="standalone", config_keys={"ip_address": "ip"}
    ),
]


class _Backends:
    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        for info in BACKENDS:
            register(info)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("LITHOPS_CONFIG", raising=False)
    host = PluginHost(new_plugin_manager())
    host.register_module(_Backends(), name="test-backends", distribution="tests")
    monkeypatch.setattr(plugin_manager, "_host", host)
    return tmp_path


def error_of(config: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_executor_config(config=config, **kwargs)
    return str(info.value)


def test_unknown_lithops_key_names_key_section_and_valid_keys() -> None:
    message = error_of({"lithops": {"execution_timeot": 10}})
    assert "unknown key 'execution_timeot'" in message
    assert "'lithops' section" in message
    assert "Did you mean 'execution_timeout'?" in message
    assert "Valid keys:" in message and "data_limit" in message and "storage" in message


def test_unknown_key_far_from_any_has_no_suggestion_but_lists_choices() -> None:
    message = error_of({"lithops": {"zzzz": 1}})
    assert "Did you mean" not in message
    assert "execution_timeout" in message


def test_unknown_key_in_installed_backend_section_lists_its_registered_keys() -> None:
    message = error_of({"localhost": {"worker_process": 2}})
    assert "unknown key 'worker_process' in the 'localhost' section" in message
    assert "Did you mean 'worker_processes'?" in message
    # compute and storage 'localhost' share the section: both kinds' keys are valid
    assert "storage_root" in message and "runtime" in message


def test_unknown_key_in_a_section_of_a_backend_not_used_but_installed_is_still_caught() -> None:
    message = error_of({"lithops": {"backend": "localhost"}, "ssh": {"ip_adress": "10.0.0.1"}})
    assert "Did you mean 'ip_address'?" in message


def test_section_of_a_backend_not_installed_here_is_left_unchecked() -> None:
    config = resolve_executor_config(
        config={"aws_lambda": {"anything": 1}, "aws": {"access_key_id": "x"}}
    )
    assert config["aws_lambda"] == {"anything": 1}


def test_error_names_the_config_file_it_came_from(isolated: Path) -> None:
    path = isolated / ".lithops_config"
    path.write_text(yaml.safe_dump({"lithops": {"retires": 1}}))
    with pytest.raises(
        ConfigError, match=r"config file .*\.lithops_config.*Did you mean 'retries'"
    ):
        default_config()


def test_wrong_type_names_the_expected_type() -> None:
    message = error_of({"lithops": {"execution_timeout": "10"}})
    assert "'execution_timeout'" in message and "must be a whole number or a number" in message


def test_boolean_is_not_taken_for_a_number() -> None:
    assert "must be" in error_of({"lithops": {"execution_timeout": True}})


def test_out_of_range_value_is_an_error() -> None:
    assert "more than 0" in error_of({"lithops": {"execution_timeout": 0}})
    assert "0 or more" in error_of({"lithops": {"retries": -1}})


def test_bad_choice_lists_choices_and_suggests_the_closest() -> None:
    message = error_of({"lithops": {"mode": "standlone"}})
    assert "localhost, serverless, standalone" in message
    assert "Did you mean 'standalone'?" in message


def test_log_level_is_case_insensitive_and_checked() -> None:
    assert resolve_executor_config(config={"lithops": {"log_level": "debug"}})
    assert "Did you mean 'DEBUG'" in error_of({"lithops": {"log_level": "debg"}})


def test_data_limit_false_disables_the_limit() -> None:
    config = resolve_executor_config(config={"lithops": {"data_limit": False}})
    assert config["lithops"]["data_limit"] is False
    assert "MiB" in error_of({"lithops": {"data_limit": True}})


def test_standalone_section_is_checked_by_the_core() -> None:
    message = error_of({"standalone": {"soft_dismantle_timout": 5}})
    assert "'standalone' section" in message
    assert "Did you mean 'soft_dismantle_timeout'?" in message
    assert "consume" in error_of({"standalone": {"exec_mode": "consum"}})


def test_standalone_settings_are_valid_in_a_standalone_backends_section() -> None:
    config = resolve_executor_config(
        config={"lithops": {"backend": "ssh"}, "ssh": {"runtime": "img", "auto_dismantle": False}}
    )
    assert config["standalone"]["auto_dismantle"] is False


def test_standalone_settings_are_not_valid_in_a_localhost_section() -> None:
    assert "soft_dismantle_timeout" in error_of({"localhost": {"soft_dismantle_timeout": 3}})


def test_a_section_that_is_not_a_mapping_is_an_error() -> None:
    assert "must be a mapping" in error_of({"localhost": ["runtime"]})


def test_yaml_that_is_not_a_mapping_is_an_error(isolated: Path) -> None:
    path = isolated / "bad.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_yaml_config(path)


def test_invalid_yaml_is_an_error_naming_the_file(isolated: Path) -> None:
    path = isolated / "bad.yaml"
    path.write_text("lithops: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_yaml_config(path)


def test_missing_yaml_file_reads_as_empty(isolated: Path) -> None:
    assert load_yaml_config(isolated / "nope.yaml") == {}


def test_a_config_using_every_documented_lithops_key_is_accepted(isolated: Path) -> None:
    documented = {
        "lithops": {
            "backend": "ssh",
            "storage": "localhost",
            "mode": "standalone",
            "data_cleaner": True,
            "monitoring": "storage",
            "monitoring_interval": 2,
            "data_limit": 4,
            "execution_timeout": 1800,
            "include_modules": None,
            "exclude_modules": ["numpy"],
            "log_level": "INFO",
            "log_format": "%(asctime)s [%(levelname)s] %(name)s -- %(message)s",
            "log_stream": "ext://sys.stdout",
            "log_filename": None,
            "retries": 0,
            "customized_runtime": False,
            "workers": 100,
        },
        "serverless": {"backend": "aws_lambda", "remote_invoker": False},
        "standalone": {
            "backend": "ssh",
            "runtime": "python3",
            "exec_mode": "consume",
            "auto_dismantle": True,
            "pull_runtime": False,
            "soft_dismantle_timeout": 300,
            "hard_dismantle_timeout": 3600,
        },
        "ssh": {"ip_address": "10.1.0.2"},
        "localhost": {"runtime": "python3", "worker_processes": 2, "storage_root": "/tmp/x"},
        # sections of backends this machine does not have: kept, not checked
        "aws_lambda": {"region": "us-east-1", "runtime_memory": 512},
        "rabbitmq": {"amqp_url": "amqp://"},
    }
    (isolated / ".lithops_config").write_text(yaml.safe_dump(documented))
    config = default_config()
    assert config["lithops"]["mode"] == "standalone"
    assert config["standalone"]["exec_mode"] == "consume"
    assert config["rabbitmq"] == {"amqp_url": "amqp://"}
