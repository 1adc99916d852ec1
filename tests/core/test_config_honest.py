"""Every config key does what Lithops documents, or is refused saying it is not supported.

Batches are observed through a test backend (registered like a third-party plugin) that
records every batch it is handed and runs it in a fresh ``python -I`` process: a worker that
shares nothing with the client, not even its ``sys.path``.
"""

from __future__ import annotations

import importlib
import logging
import pickle
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import lithops
from lithops.cli.app import build_cli
from lithops.config.datalimit import DataLimitError
from lithops.errors import ConfigError, SerializationError
from lithops.plugins import hookimpl
from lithops.plugins.manager import get_plugin_host, reset_plugin_host
from lithops.plugins.types import BackendInfo, BackendKind, CallBatch, ProvisionRequest

WORKER = """
import pickle, sys
from lithops import wire
from lithops.worker import FunctionCache, OutputCapture, run_batch
records, out = [], sys.stdout.buffer
message = wire.decode(sys.stdin.buffer.read())
run_batch(message, records.append, FunctionCache(), OutputCapture(None))
out.write(pickle.dumps(records))
"""


class RecordingHandle:
    backend = "recording"
    capacity = 4

    def __init__(self, request: ProvisionRequest, cwd: Path) -> None:
        self.events = request.events
        self.cwd = cwd
        self.batches: list[int] = []

    def run(self, batch: CallBatch) -> None:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", WORKER],
                input=batch.message,
                capture_output=True,
                cwd=self.cwd,
                timeout=60,
            )
            if done.returncode:
                raise RuntimeError(done.stderr.decode(errors="replace"))
            self.events.results(pickle.loads(done.stdout))
        except Exception as exc:
            self.events.lost(batch.calls, exc)


class RecordingBackend:
    """A serverless-style backend whose workers are fresh isolated processes."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.handles: list[RecordingHandle] = []

    @property
    def batches(self) -> list[int]:
        return [n for h in self.handles for n in h.batches]

    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        register(BackendInfo(name="recording", kind=BackendKind.COMPUTE, mode="serverless"))

    @hookimpl
    def lithops_provision(self, request: ProvisionRequest) -> RecordingHandle | None:
        if request.backend != "recording":
            return None
        handle = RecordingHandle(request, self.cwd)
        self.handles.append(handle)
        return handle

    @hookimpl
    def lithops_invoke(self, handle: Any, batch: CallBatch) -> bool | None:
        if not isinstance(handle, RecordingHandle):
            return None
        handle.batches.append(len(batch.calls))
        threading.Thread(target=handle.run, args=(batch,), daemon=True).start()
        return True

    @hookimpl
    def lithops_release(self, handle: Any, dismantle: bool) -> bool | None:
        return True if isinstance(handle, RecordingHandle) else None


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
    for var in ("LITHOPS_CONFIG_FILE", "LITHOPS_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def recording(home: Path) -> Iterator[RecordingBackend]:
    worker_dir = home / "worker"
    worker_dir.mkdir()
    reset_plugin_host()
    backend = RecordingBackend(worker_dir)
    get_plugin_host().register_module(backend, name="recording", distribution="tests")
    yield backend
    reset_plugin_host()


def double(x: int) -> int:
    return 2 * x


def length(data: bytes) -> int:
    return len(data)


# -- values are checked when the executor is created ------------------------------------------


@pytest.mark.parametrize(
    ("config", "kwargs", "words"),
    [
        ({"localhost": {"worker_processes": -3}}, {}, ["'worker_processes'", "-3", "1 or more"]),
        (
            {"localhost": {"worker_processes": "four"}},
            {},
            ["'worker_processes'", "'four'", "a whole number or one of: AUTO"],
        ),
        ({}, {"runtime_timeout": -5}, ["'runtime_timeout'", "-5", "more than 0"]),
        ({}, {"max_workers": 0}, ["'max_workers'", "0", "1 or more"]),
        ({"lithops": {"chunksize": -1}}, {}, ["'chunksize'", "-1", "0 or more"]),
        ({"lithops": {"data_limit": "big"}}, {}, ["'data_limit'", "'big'", "whole number"]),
        ({"lithops": {"log_stream": "stdout"}}, {}, ["'log_stream'", "ext://sys.stdout"]),
        ({"lithops": {"include_modules": [3]}}, {}, ["'include_modules'", "module names"]),
        ({"ssh": {"ssh_port": 70000}}, {}, ["'ssh_port'", "70000", "1 to 65535"]),
    ],
)
def test_bad_value_is_refused_at_executor_creation_naming_key_value_and_allowed(
    home: Path, config: dict[str, Any], kwargs: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        lithops.FunctionExecutor(config=config, **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message
    assert "\n" not in message


def test_worker_processes_auto_and_a_number_are_accepted(home: Path) -> None:
    for value in ("AUTO", "auto", 2):
        with lithops.FunctionExecutor(config={"localhost": {"worker_processes": value}}):
            pass


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("standalone", "use_gpu", True),
        ("standalone", "pull_runtime", True),
        ("standalone", "extra_python_packages", ["numpy"]),
        ("standalone", "extra_apt_packages", ["curl"]),
        ("standalone", "workers_policy", "permissive"),
        ("lithops", "customized_runtime", True),
        ("lithops", "monitoring", "rabbitmq"),
        ("lithops", "monitoring_interval", 5),
        ("lithops", "telemetry", True),
        ("lithops", "telemetry_interval", 10),
        ("serverless", "remote_invoker", True),
    ],
)
def test_a_key_lithops_cannot_honour_is_refused_as_not_supported(
    home: Path, section: str, key: str, value: Any
) -> None:
    with pytest.raises(ConfigError, match=rf"'{key}' .* is not supported: .*Remove the key"):
        lithops.FunctionExecutor(config={section: {key: value}})


def test_an_unsupported_key_set_to_what_lithops_does_anyway_is_accepted(home: Path) -> None:
    config = {"standalone": {"use_gpu": False, "extra_python_packages": []}}
    with lithops.FunctionExecutor(config=config):
        pass


def test_lithops_monitor_and_telemetry_keys_accept_what_lithops_does(home: Path) -> None:
    # Lithops' defaults: results need no other service, nothing polls, nothing is sent
    config = {
        "lithops": {"monitoring": "storage", "monitoring_interval": 2, "telemetry": False},
        "serverless": {"remote_invoker": False},
    }
    with lithops.FunctionExecutor(config=config, monitoring="storage") as fexec:
        assert fexec.map(double, [1]).get_result(timeout=60) == [2]


def test_monitoring_argument_other_than_storage_is_refused(home: Path) -> None:
    with pytest.raises(ConfigError, match=r"'monitoring' .* 'rabbitmq'.*pushed"):
        lithops.FunctionExecutor(monitoring="rabbitmq")


def test_backend_type_is_accepted_only_as_the_backends_mode(home: Path) -> None:
    with lithops.FunctionExecutor(config={"lithops": {"backend_type": "localhost"}}):
        pass
    with pytest.raises(ConfigError, match=r"'backend_type'.*'serverless'.*localhost backend"):
        lithops.FunctionExecutor(config={"lithops": {"backend_type": "serverless"}})
    with pytest.raises(ConfigError, match=r"'backend_type'.*'faas'"):
        lithops.FunctionExecutor(config={"lithops": {"backend_type": "faas"}})


def _staged(fexec: Any) -> str:
    """A function staged the way serverless backends stage them (FunctionUploads)."""
    from lithops.storage.storage import TEMP_PREFIX

    key = f"{TEMP_PREFIX}/{fexec.executor_id}/M000/functions/f.pickle"
    fexec.storage.put_object(fexec.storage.bucket, key, b"pickled function")
    return key


def _exists(storage: Any, key: str) -> bool:
    return key in storage.list_keys(storage.bucket, key.rsplit("/", 1)[0])


def test_data_cleaner_deletes_lithops_staged_objects_when_the_executor_closes(
    home: Path,
) -> None:
    def put_own(storage: Any) -> str:
        return str(storage.put_cloudobject(b"user data").key)

    with lithops.FunctionExecutor() as fexec:
        user_key = fexec.call_async(put_own, ()).result(timeout=60)
        staged = _staged(fexec)
        storage = fexec.storage
    assert not _exists(storage, staged)
    assert _exists(storage, user_key)  # the function's own data stays until clean()


def test_data_cleaner_false_keeps_them(home: Path) -> None:
    with lithops.FunctionExecutor(config={"lithops": {"data_cleaner": False}}) as fexec:
        fexec.map(double, [1]).get_result(timeout=60)
        staged = _staged(fexec)
        storage = fexec.storage
    assert _exists(storage, staged)


def test_old_style_plugin_descriptions_still_check_only_key_names(home: Path) -> None:
    reset_plugin_host()
    try:

        class OldStyle:
            @hookimpl
            def lithops_register_backends(self, register: Any) -> None:
                register(
                    BackendInfo(
                        name="oldstyle",
                        kind=BackendKind.COMPUTE,
                        mode="serverless",
                        config_keys={"flavour": "any value"},
                    )
                )

        get_plugin_host().register_module(OldStyle(), name="oldstyle", distribution="tests")
        config = lithops.config.resolve_executor_config(
            config={"lithops": {"backend": "oldstyle"}, "oldstyle": {"flavour": -1}}
        )
        assert config["oldstyle"]["flavour"] == -1
        with pytest.raises(ConfigError, match="unknown key 'flavor'"):
            lithops.config.resolve_executor_config(
                config={"lithops": {"backend": "oldstyle"}, "oldstyle": {"flavor": 1}}
            )
    finally:
        reset_plugin_host()


# -- lithops hello ----------------------------------------------------------------------------


def test_hello_reports_a_config_error_in_one_line(home: Path) -> None:
    path = home / "config.yaml"
    path.write_text("localhost:\n  worker_processes: -3\n")
    result = CliRunner().invoke(build_cli(), ["hello", "-c", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "ConfigError" in lines[0] and "'worker_processes'" in lines[0] and "-3" in lines[0]


# -- chunksize ----------------------------------------------------------------------------------


def test_chunksize_argument_groups_calls_per_worker_message(recording: RecordingBackend) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        assert fexec.map(double, range(16), chunksize=8).get_result() == [2 * x for x in range(16)]
    assert recording.batches == [8, 8]


def test_chunksize_config_key_groups_calls_when_map_gives_none(
    recording: RecordingBackend,
) -> None:
    config = {"lithops": {"backend": "recording", "chunksize": 5}}
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.map(double, range(12)).get_result() == [2 * x for x in range(12)]
        fexec.map(double, range(4), chunksize=1).get_result()
    assert recording.batches == [5, 5, 2, 1, 1, 1, 1]


# -- data_limit ---------------------------------------------------------------------------------


def test_data_limit_refuses_oversize_call_before_anything_is_dispatched(
    recording: RecordingBackend,
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        with pytest.raises(DataLimitError) as info:
            fexec.map(length, [b"x", b"y" * (5 * 1024**2)])
        assert not fexec.futures
    assert recording.batches == []
    message = str(info.value)
    assert "data_limit" in message and "call 1 of length" in message and "5.0 MiB" in message


def test_data_limit_in_mib_from_config_and_false_disables_it(
    recording: RecordingBackend,
) -> None:
    big = b"z" * (2 * 1024**2)
    with lithops.FunctionExecutor(config={"lithops": {"backend": "recording", "data_limit": 1}}):
        pass
    small_limit = {"lithops": {"backend": "recording", "data_limit": 1}}
    with (
        lithops.FunctionExecutor(config=small_limit) as fexec,
        pytest.raises(DataLimitError, match=r"\(1 MiB"),
    ):
        fexec.call_async(length, (big,))
    unlimited = {"lithops": {"backend": "recording", "data_limit": False}}
    with lithops.FunctionExecutor(config=unlimited) as fexec:
        assert fexec.call_async(length, (b"z" * (5 * 1024**2),)).result() == 5 * 1024**2


def test_data_limit_counts_out_of_band_buffers(recording: RecordingBackend) -> None:
    # bytearrays (like numpy arrays) pickle their memory out of band: it still counts
    with (
        lithops.FunctionExecutor(backend="recording") as fexec,
        pytest.raises(DataLimitError, match=r"5\.0 MiB"),
    ):
        fexec.map(length, [bytearray(5 * 1024**2)])


# -- log keys -----------------------------------------------------------------------------------


@pytest.fixture
def lithops_logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("lithops")
    saved = (log.level, list(log.handlers))
    log.setLevel(logging.NOTSET)
    yield log
    for handler in list(log.handlers):
        if handler not in saved[1]:
            log.removeHandler(handler)
            handler.close()
    log.setLevel(saved[0])


def test_log_keys_send_lithops_logs_to_the_file_in_the_format(
    home: Path, lithops_logger: logging.Logger
) -> None:
    logfile = home / "lithops.log"
    config = {
        "lithops": {
            "log_level": "debug",
            "log_format": "LITHOPS|%(levelname)s|%(message)s",
            "log_filename": str(logfile),
        }
    }
    with lithops.FunctionExecutor(config=config):
        logging.getLogger("lithops.test").debug("hello from the test")
    lines = logfile.read_text().splitlines()
    assert "LITHOPS|DEBUG|hello from the test" in lines
    assert lithops_logger.level == logging.DEBUG


def test_log_stream_stdout_and_log_level_argument_wins(
    home: Path, lithops_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"lithops": {"log_level": "ERROR", "log_stream": "ext://sys.stdout"}}
    with lithops.FunctionExecutor(config=config, log_level="INFO"):
        logging.getLogger("lithops.test").info("to stdout")
    captured = capsys.readouterr()
    assert "to stdout" in captured.out and "to stdout" not in captured.err


def test_without_log_keys_lithops_stays_quiet(home: Path, lithops_logger: logging.Logger) -> None:
    handlers = list(lithops_logger.handlers)
    with lithops.FunctionExecutor():
        pass
    assert lithops_logger.handlers == handlers
    assert lithops_logger.getEffectiveLevel() == logging.WARNING


# -- include_modules / exclude_modules ------------------------------------------------------------


@pytest.fixture
def user_code(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A user's module and the package it uses, importable here but not on the worker."""
    tag = uuid.uuid4().hex[:8]
    src = home / "src"
    (src / f"helpers_{tag}").mkdir(parents=True)
    (src / f"helpers_{tag}" / "__init__.py").write_text("")
    (src / f"helpers_{tag}" / "maths.py").write_text("def triple(x):\n    return 3 * x\n")
    (src / f"app_{tag}.py").write_text(
        f"from helpers_{tag} import maths\n\ndef work(x):\n    return maths.triple(x) + 1\n"
    )
    monkeypatch.syspath_prepend(str(src))
    app = importlib.import_module(f"app_{tag}")
    yield {"work": app.work, "app": f"app_{tag}", "helpers": f"helpers_{tag}"}
    for name in [m for m in sys.modules if tag in m]:
        del sys.modules[name]


def test_modules_the_function_needs_ship_by_default(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        assert fexec.map(user_code["work"], [1, 2]).get_result() == [4, 7]


def test_include_modules_none_ships_no_module_and_the_worker_names_the_missing_one(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        future = fexec.call_async(user_code["work"], (1,), include_modules=None)
        with pytest.raises(SerializationError, match=rf"No module named '{user_code['app']}'"):
            future.result(timeout=60)


def test_include_modules_null_in_config_ships_no_module(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    config = {"lithops": {"backend": "recording", "include_modules": None}}
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(user_code["work"], (1,))
        with pytest.raises(SerializationError, match=rf"No module named '{user_code['app']}'"):
            future.result(timeout=60)


def test_exclude_modules_keeps_a_package_out_and_the_worker_names_it(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        future = fexec.call_async(user_code["work"], (1,), exclude_modules=[user_code["helpers"]])
        with pytest.raises(SerializationError, match=rf"No module named '{user_code['helpers']}'"):
            future.result(timeout=60)


def test_exclude_modules_from_config_adds_to_the_argument(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    config = {"lithops": {"backend": "recording", "exclude_modules": [user_code["helpers"]]}}
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(user_code["work"], (1,))
        with pytest.raises(SerializationError, match=rf"No module named '{user_code['helpers']}'"):
            future.result(timeout=60)


def test_include_modules_ships_exactly_the_named_modules_and_packages(
    recording: RecordingBackend, user_code: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        both = [user_code["app"], user_code["helpers"]]
        assert fexec.call_async(user_code["work"], (2,), include_modules=both).result(60) == 7
        only_app = fexec.call_async(user_code["work"], (2,), include_modules=[user_code["app"]])
        with pytest.raises(SerializationError, match=rf"No module named '{user_code['helpers']}'"):
            only_app.result(timeout=60)


def test_include_modules_naming_a_module_that_does_not_import_is_refused_at_map(
    recording: RecordingBackend,
) -> None:
    with lithops.FunctionExecutor(backend="recording") as fexec:
        with pytest.raises(ConfigError, match="include_modules names 'no_such_module_x'"):
            fexec.map(double, [1], include_modules=["no_such_module_x"])
        assert not fexec.futures
