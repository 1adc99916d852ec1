"""lithops.config: where the config comes from, how mode and backend are chosen, its final shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lithops.config import (
    ConfigFileNotFoundError,
    default_config,
    default_storage_config,
    extract_storage_config,
    get_log_info,
    resolve_executor_config,
)
from lithops.errors import ConfigError, UnknownBackendError
from lithops.plugins import hookimpl
from lithops.plugins import manager as plugin_manager
from lithops.plugins.manager import PluginHost, new_plugin_manager
from lithops.plugins.types import BackendInfo, BackendKind

COMPUTE = BackendKind.COMPUTE
STORAGE = BackendKind.STORAGE

TEST_BACKENDS = [
    BackendInfo(
        name="localhost",
        kind=COMPUTE,
        mode="localhost",
        config_keys={"runtime": "python", "worker_processes": "processes"},
    ),
    BackendInfo(name="localhost", kind=STORAGE, config_keys={"storage_root": "dir"}),
    BackendInfo(
        name="ssh",
        kind=COMPUTE,
        mode="standalone",
        aliases=("vm",),
        config_keys={"ip_address": "host", "ssh_username": "user"},
    ),
    BackendInfo(
        name="aws_lambda", kind=COMPUTE, mode="serverless", config_keys={"region": "region"}
    ),
    BackendInfo(name="aws_s3", kind=STORAGE, config_keys={"region": "region"}),
]


class _TestBackends:
    """A plugin object registering the backends these tests select."""

    def __init__(self, infos: list[BackendInfo]) -> None:
        self.infos = infos

    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        for info in self.infos:
            register(info)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh HOME and CWD, no config env vars, and a plugin host with the test backends."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    monkeypatch.delenv("LITHOPS_CONFIG", raising=False)
    host = PluginHost(new_plugin_manager())
    host.register_module(_TestBackends(TEST_BACKENDS), name="test-backends", distribution="tests")
    monkeypatch.setattr(plugin_manager, "_host", host)
    return tmp_path


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


# -- where the config comes from ---------------------------------------------------------------


def test_zero_config_runs_on_localhost_with_lithops_defaults() -> None:
    config = default_config()
    assert config["lithops"]["backend"] == "localhost"
    assert config["lithops"]["mode"] == "localhost"
    assert config["lithops"]["storage"] == "localhost"
    assert config["lithops"]["execution_timeout"] == 1800
    assert config["lithops"]["data_limit"] == 4
    assert config["lithops"]["retries"] == 0
    assert config["localhost"] == {}


def test_home_config_file_is_read(isolated: Path) -> None:
    write(isolated / "home/.lithops/config", {"lithops": {"execution_timeout": 11}})
    assert default_config()["lithops"]["execution_timeout"] == 11


def test_cwd_config_wins_over_home_config(isolated: Path) -> None:
    write(isolated / "home/.lithops/config", {"lithops": {"execution_timeout": 11}})
    write(isolated / "work/.lithops_config", {"lithops": {"execution_timeout": 22}})
    assert default_config()["lithops"]["execution_timeout"] == 22


def test_env_config_file_wins_over_cwd_and_home(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(isolated / "home/.lithops/config", {"lithops": {"execution_timeout": 11}})
    write(isolated / "work/.lithops_config", {"lithops": {"execution_timeout": 22}})
    env_file = write(isolated / "elsewhere.yaml", {"lithops": {"execution_timeout": 33}})
    monkeypatch.setenv("LITHOPS_CONFIG_FILE", str(env_file))
    assert default_config()["lithops"]["execution_timeout"] == 33


def test_env_config_file_that_does_not_exist_is_an_error_naming_the_variable(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITHOPS_CONFIG_FILE", str(isolated / "missing.yaml"))
    with pytest.raises(ConfigFileNotFoundError, match="LITHOPS_CONFIG_FILE"):
        default_config()


def test_explicit_config_file_that_does_not_exist_is_a_file_not_found_error(
    isolated: Path,
) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        resolve_executor_config(config_file=str(isolated / "missing.yaml"))


def test_json_config_in_env_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITHOPS_CONFIG", json.dumps({"lithops": {"execution_timeout": 44}}))
    assert default_config()["lithops"]["execution_timeout"] == 44


def test_config_dict_replaces_the_config_file(isolated: Path) -> None:
    write(isolated / "home/.lithops/config", {"lithops": {"execution_timeout": 11, "retries": 2}})
    config = resolve_executor_config(config={"lithops": {"execution_timeout": 5}})
    assert config["lithops"]["execution_timeout"] == 5
    assert config["lithops"]["retries"] == 0


def test_empty_config_dict_falls_back_to_the_file_as_lithops_does(isolated: Path) -> None:
    write(isolated / "home/.lithops/config", {"lithops": {"execution_timeout": 11}})
    assert resolve_executor_config(config={})["lithops"]["execution_timeout"] == 11


def test_callers_config_dict_is_not_changed() -> None:
    mine = {"lithops": {"backend": "ssh"}, "ssh": {"ip_address": "10.1.0.2"}}
    snapshot = json.loads(json.dumps(mine))
    resolve_executor_config(config=mine, runtime="python3.11")
    assert mine == snapshot


def test_default_config_accepts_a_dict_as_first_argument() -> None:
    config = default_config({"lithops": {"execution_timeout": 7}})
    assert config["lithops"]["execution_timeout"] == 7


def test_empty_sections_in_yaml_read_as_empty(isolated: Path) -> None:
    (isolated / "work/.lithops_config").write_text("lithops:\nlocalhost:\n")
    config = default_config()
    assert config["localhost"] == {}
    assert config["lithops"]["backend"] == "localhost"


# -- mode and backend ------------------------------------------------------------------------


def test_backend_implies_its_registered_mode() -> None:
    assert resolve_executor_config(backend="ssh")["lithops"]["mode"] == "standalone"
    assert resolve_executor_config(backend="aws_lambda")["lithops"]["mode"] == "serverless"


def test_mode_alone_picks_that_modes_default_backend() -> None:
    assert resolve_executor_config(mode="standalone")["lithops"]["backend"] == "ssh"
    assert resolve_executor_config(mode="serverless")["lithops"]["backend"] == "aws_lambda"
    assert resolve_executor_config(mode="localhost")["lithops"]["backend"] == "localhost"


def test_explicit_mode_overrides_a_configured_backend_of_another_mode() -> None:
    config = resolve_executor_config(mode="localhost", config={"lithops": {"backend": "ssh"}})
    assert (config["lithops"]["backend"], config["lithops"]["mode"]) == ("localhost", "localhost")


def test_explicit_mode_keeps_a_configured_backend_of_that_mode() -> None:
    config = resolve_executor_config(mode="standalone", config={"lithops": {"backend": "vm"}})
    assert config["lithops"]["backend"] == "ssh"


def test_mode_section_names_the_backend_of_that_mode() -> None:
    config = resolve_executor_config(
        config={"lithops": {"mode": "serverless"}, "serverless": {"backend": "aws_lambda"}}
    )
    assert config["lithops"]["backend"] == "aws_lambda"


def test_mode_and_backend_that_disagree_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"'aws_lambda' runs in serverless mode.*standalone"):
        resolve_executor_config(mode="standalone", backend="aws_lambda")


def test_configured_backend_wins_over_configured_mode_as_in_lithops() -> None:
    config = resolve_executor_config(
        config={"lithops": {"mode": "standalone", "backend": "localhost"}}
    )
    assert config["lithops"]["mode"] == "localhost"


def test_unknown_mode_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'standalone'"):
        resolve_executor_config(mode="standlone")


def test_backend_not_installed_is_unknown_backend_error_with_install_hint() -> None:
    with pytest.raises(UnknownBackendError, match="pip install lithops-gcp"):
        resolve_executor_config(backend="gcp_functions")


def test_misspelled_backend_suggests_the_installed_one() -> None:
    with pytest.raises(UnknownBackendError, match="Did you mean 'localhost'"):
        resolve_executor_config(backend="locahost")


def test_alias_selects_the_backend_and_its_alias_section_is_read() -> None:
    config = resolve_executor_config(
        config={"lithops": {"backend": "vm"}, "vm": {"ip_address": "10.1.0.2"}}
    )
    assert config["lithops"]["backend"] == "ssh"
    assert config["ssh"]["ip_address"] == "10.1.0.2"


def test_unknown_storage_backend_is_an_error() -> None:
    with pytest.raises(UnknownBackendError, match="storage backend 'gcp_storage'"):
        resolve_executor_config(storage="gcp_storage")


# -- keyword arguments and overwrites ----------------------------------------------------------


def test_backend_kwargs_go_into_the_selected_backends_section() -> None:
    config = resolve_executor_config(
        config={"localhost": {"runtime": "python3", "worker_processes": 2}},
        worker_processes=8,
        runtime_memory=None,
    )
    assert config["localhost"] == {"runtime": "python3", "worker_processes": 8}


def test_backend_kwargs_follow_the_backend_a_mode_selected() -> None:
    config = resolve_executor_config(mode="standalone", ip_address="10.1.0.3")
    assert config["ssh"]["ip_address"] == "10.1.0.3"


def test_unknown_backend_kwarg_names_the_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_executor_config(worker_procesess=3)
    message = str(info.value)
    assert "'worker_procesess'" in message
    assert "keyword arguments of FunctionExecutor" in message
    assert "Did you mean 'worker_processes'" in message
    assert "runtime" in message


def test_common_compute_kwargs_are_accepted_by_every_compute_backend() -> None:
    config = resolve_executor_config(backend="localhost", runtime_memory=512, max_workers=3)
    assert config["localhost"]["runtime_memory"] == 512


def test_config_overwrite_merges_per_section() -> None:
    config = default_config(
        config_data={"lithops": {"execution_timeout": 9}, "localhost": {"runtime": "python3"}},
        config_overwrite={
            "lithops": {"retries": 2},
            "backend": {"worker_processes": 3},
        },
    )
    assert config["lithops"]["execution_timeout"] == 9
    assert config["lithops"]["retries"] == 2
    assert config["localhost"] == {"runtime": "python3", "worker_processes": 3}


def test_config_overwrite_mode_counts_as_explicit() -> None:
    config = default_config(
        config_data={"lithops": {"backend": "ssh"}},
        config_overwrite={"lithops": {"mode": "localhost"}},
    )
    assert config["lithops"]["backend"] == "localhost"


# -- standalone section ------------------------------------------------------------------------


def test_standalone_settings_in_the_backend_section_fill_the_standalone_section() -> None:
    config = resolve_executor_config(
        config={
            "lithops": {"backend": "ssh"},
            "ssh": {"ip_address": "10.1.0.2", "soft_dismantle_timeout": 30},
            "standalone": {"soft_dismantle_timeout": 99, "runtime": "img:1"},
        }
    )
    standalone = config["standalone"]
    assert standalone["soft_dismantle_timeout"] == 30
    assert standalone["runtime"] == "img:1"
    assert standalone["backend"] == "ssh"
    # defaults are the standalone plugin's: ssh and VM providers differ
    assert "exec_mode" not in standalone and "auto_dismantle" not in standalone


def test_standalone_section_is_not_added_for_other_modes() -> None:
    assert "standalone" not in resolve_executor_config()


# -- storage -----------------------------------------------------------------------------------


def test_extract_storage_config_has_lithops_shape_with_bucket() -> None:
    config = resolve_executor_config(
        config={"lithops": {"storage": "aws_s3"}, "aws_s3": {"storage_bucket": "b1"}}
    )
    extracted = extract_storage_config(config)
    assert extracted["backend"] == "aws_s3"
    assert extracted["bucket"] == "b1"
    assert extracted["aws_s3"]["storage_bucket"] == "b1"
    assert extracted["aws_s3"]["user_agent"].startswith("lithops/")


def test_legacy_storage_bucket_in_lithops_section_moves_to_the_storage_section() -> None:
    config = resolve_executor_config(config={"lithops": {"storage_bucket": "old"}})
    assert extract_storage_config(config)["bucket"] == "old"
    assert config["localhost"]["storage_bucket"] == "old"


def test_default_storage_config_ignores_an_uninstalled_compute_backend() -> None:
    config = default_storage_config(
        config_data={"lithops": {"backend": "gcp_functions"}}, backend="aws_s3"
    )
    assert config["lithops"]["storage"] == "aws_s3"


# -- logging -----------------------------------------------------------------------------------


def test_logs_are_quiet_by_default_and_configurable() -> None:
    assert get_log_info()[0] == "WARNING"
    assert get_log_info(config_data={"lithops": {"log_level": "debug"}})[0] == "DEBUG"


# -- a resolved config can be resolved again (executors hand it to Storage and to each other) --


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"backend": "ssh", "ip_address": "10.1.0.2", "runtime": "img:1"},
        {"mode": "serverless", "storage": "aws_s3"},
        {"config": {"lithops": {"backend": "vm", "storage_bucket": "b"}, "vm": {}}},
    ],
)
def test_resolving_a_resolved_config_changes_nothing(kwargs: dict[str, Any]) -> None:
    once = resolve_executor_config(**kwargs)
    assert resolve_executor_config(config=once) == once
    assert (
        default_storage_config(config_data=once)["lithops"]["storage"]
        == (once["lithops"]["storage"])
    )
