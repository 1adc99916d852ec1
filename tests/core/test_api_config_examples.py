"""Lithops config examples, end to end: a ``~/.lithops/config``-style YAML file (given as
``config_file``, through ``LITHOPS_CONFIG_FILE``, in ``~/.lithops/config`` or in
``./.lithops_config``) configures the executor and the storage it runs with."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

import lithops
from lithops.config import default_config, extract_storage_config, load_yaml_config
from lithops.errors import CallTimeoutError, ConfigError

EXAMPLE = """\
lithops:
    backend: localhost
    storage: localhost
    log_level: INFO
    execution_timeout: 1

localhost:
    runtime: python3
    worker_processes: 2
    storage_root: {root}
    storage_bucket: examples
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(home / "logs"))
    for var in ("LITHOPS_CONFIG_FILE", "LITHOPS_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(work)
    return home


def write_example(path: Path, root: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE.format(root=root))
    return path


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def pid_of(_):
    time.sleep(0.2)
    return os.getpid()


def assert_example_applies(fexec: lithops.FunctionExecutor, root: Path) -> None:
    assert fexec.config["lithops"]["execution_timeout"] == 1
    assert fexec.config["localhost"]["worker_processes"] == 2
    storage = fexec.storage
    assert storage.bucket == "examples"
    storage.put_object(storage.bucket, "from-config.txt", b"ok")
    assert (root / "examples" / "from-config.txt").read_bytes() == b"ok"
    assert fexec.map(abs, [-1, -2]).get_result() == [1, 2]


def test_config_file_argument(home, tmp_path):
    path = write_example(tmp_path / "my_config.yaml", tmp_path / "st1")
    with lithops.FunctionExecutor(config_file=str(path)) as fexec:
        assert_example_applies(fexec, tmp_path / "st1")


def test_lithops_config_file_environment_variable(home, tmp_path, monkeypatch):
    path = write_example(tmp_path / "elsewhere" / "config", tmp_path / "st2")
    monkeypatch.setenv("LITHOPS_CONFIG_FILE", str(path))
    with lithops.FunctionExecutor() as fexec:
        assert_example_applies(fexec, tmp_path / "st2")
    assert lithops.Storage().bucket == "examples"


def test_config_in_the_home_directory(home, tmp_path):
    write_example(home / ".lithops" / "config", tmp_path / "st3")
    with lithops.FunctionExecutor() as fexec:
        assert_example_applies(fexec, tmp_path / "st3")


def test_config_in_the_working_directory(home, tmp_path):
    write_example(Path.cwd() / ".lithops_config", tmp_path / "st4")
    with lithops.LocalhostExecutor() as fexec:
        assert_example_applies(fexec, tmp_path / "st4")


def test_execution_timeout_from_the_config_stops_long_calls(home, tmp_path):
    path = write_example(tmp_path / "config.yaml", tmp_path / "st5")
    with lithops.FunctionExecutor(config_file=str(path)) as fexec:
        fs = fexec.map(sleepy, [0.01, 20])
        start = time.monotonic()
        with pytest.raises(CallTimeoutError):
            fexec.get_result(fs)
        assert time.monotonic() - start < 15
        # a call's own timeout wins over the config's execution_timeout
        assert fexec.call_async(sleepy, 1.5, timeout=10).result() == 1.5


def test_config_dict_with_the_same_sections(home, tmp_path):
    config = load_yaml_config(write_example(tmp_path / "c.yaml", tmp_path / "st6"))
    assert set(config) == {"lithops", "localhost"}
    with lithops.FunctionExecutor(config=config) as fexec:
        assert_example_applies(fexec, tmp_path / "st6")
    with lithops.FunctionExecutor(config=config, worker_processes=1) as fexec:
        assert fexec.config["localhost"]["worker_processes"] == 1


def test_worker_processes_bounds_parallel_calls(home, tmp_path):
    config = {"lithops": {"backend": "localhost"}, "localhost": {"worker_processes": 1}}
    with lithops.FunctionExecutor(config=config) as fexec:
        assert len(set(fexec.map(pid_of, range(4)).get_result())) == 1


def test_default_config_and_extract_storage_config(home, tmp_path):
    write_example(home / ".lithops" / "config", tmp_path / "st7")
    config = default_config()
    assert config["lithops"]["backend"] == "localhost"
    assert config["lithops"]["mode"] == "localhost"
    storage_config = extract_storage_config(config)
    assert storage_config["backend"] == "localhost"
    assert lithops.Storage(storage_config=storage_config).bucket == "examples"
    overwritten = default_config(config_overwrite={"localhost": {"worker_processes": 3}})
    assert overwritten["localhost"]["worker_processes"] == 3


def test_zero_config_runs_on_localhost(home):
    with lithops.FunctionExecutor() as fexec:
        assert (fexec.mode, fexec.backend, fexec.storage.backend) == (
            "localhost",
            "localhost",
            "localhost",
        )
        assert fexec.map(abs, [-3]).get_result() == [3]


def test_unknown_key_in_the_file_is_an_error_naming_it(home, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            lithops:
                backend: localhost
            localhost:
                worker_processess: 2
            """
        )
    )
    with pytest.raises(ConfigError, match="worker_processess") as info:
        lithops.FunctionExecutor(config_file=str(path))
    assert "worker_processes" in str(info.value)


def test_bad_value_is_an_error_naming_the_key(home):
    with pytest.raises(ConfigError, match="execution_timeout"):
        lithops.FunctionExecutor(config={"lithops": {"execution_timeout": "soon"}})
    with pytest.raises(ConfigError, match="localhost"):
        lithops.FunctionExecutor(mode="localhostt")
