"""The behaviour tests of :class:`BackendContract`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lithops
from lithops import wire
from lithops.errors import BackendUnavailableError, CallTimeoutError, WorkerLostError
from lithops.plugins import manager
from lithops.plugins.manager import get_plugin_host
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    CallBatch,
    LogRequest,
    ProvisionRequest,
)
from lithops.testing import tasks
from lithops.testing.kit import RecordingSink, build_batch, write_distribution

__all__ = ["BackendContract", "lithops_home", "make_distribution"]


@pytest.fixture
def lithops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated home: ``~/.lithops`` (config, logs, storage) lives under ``tmp_path``."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / ".lithops" / "logs"))
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    return tmp_path


@pytest.fixture
def make_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str, str], Path]]:
    """``make(dist, module, source)``: install a plugin module as a distribution with a
    ``lithops`` entry point, for this test (plugins load afresh before and after)."""
    root = tmp_path / "site"
    monkeypatch.syspath_prepend(str(root))
    manager.reset_plugin_host()

    def make(dist: str, module: str, source: str) -> Path:
        write_distribution(root, dist, module, source)
        sys.modules.pop(module, None)
        manager.reset_plugin_host()
        return root

    yield make
    manager.reset_plugin_host()


class BackendContract:
    """Subclass in a backend's tests and set ``backend``; override ``executor_config``."""

    backend: str = ""
    #: how long a call may take to come back in these tests (seconds)
    call_deadline: float = 60.0
    #: size of the argument and of the result in the spill test: above every platform's
    #: message limit, so a backend with one must carry them through storage
    spill_bytes: int = 8 << 20

    # -- fixtures a backend may override ------------------------------------------------------

    @pytest.fixture
    def executor_config(self) -> dict[str, Any]:
        return {"lithops": {"backend": self.backend}}

    @pytest.fixture
    def fexec(
        self, executor_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[lithops.FunctionExecutor]:
        monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
        with lithops.FunctionExecutor(config=executor_config) as executor:
            yield executor

    # -- helpers ------------------------------------------------------------------------------

    @property
    def info(self) -> BackendInfo:
        return get_plugin_host().resolve(self.backend, BackendKind.COMPUTE)

    def require(self, capability: str) -> None:
        if capability not in self.info.capabilities:
            pytest.skip(f"backend {self.backend!r} does not declare the {capability!r} capability")

    # -- registration -------------------------------------------------------------------------

    def test_backend_is_registered_with_a_mode_and_distribution(self) -> None:
        assert self.backend, "set `backend = '<name>'` on the contract subclass"
        assert self.info.mode in ("localhost", "serverless", "standalone")
        assert self.info.distribution

    def test_dispatch_hooks_ignore_other_backends(self, executor_config: dict[str, Any]) -> None:
        # No plugin may answer lithops_provision, lithops_invoke, lithops_cancel or
        # lithops_release for what is not its own: the host then raises, naming the hook.
        host = get_plugin_host()
        request = ProvisionRequest(
            backend="no-such-backend-xyz",
            config=executor_config,
            runtime=None,
            runtime_memory=None,
            events=None,  # type: ignore[arg-type]  # never used: no plugin may answer
        )
        stranger: Any = object()
        batch = CallBatch(job_key="x/M000", calls=[], message=b"", timeout=None)
        for hook, call in (
            ("lithops_provision", lambda: host.provision(request)),
            ("lithops_invoke", lambda: host.invoke(stranger, batch)),
            ("lithops_cancel", lambda: host.cancel(stranger, [])),
            ("lithops_release", lambda: host.release(stranger, dismantle=False)),
        ):
            with pytest.raises(BackendUnavailableError, match=hook):
                call()

    # -- results ------------------------------------------------------------------------------

    def test_map_returns_one_result_per_input_in_order(self, fexec: Any) -> None:
        data = list(range(50))
        assert fexec.map(tasks.identity, data).get_result(timeout=self.call_deadline) == data

    def test_none_results_keep_their_place(self, fexec: Any) -> None:
        result = fexec.map(tasks.none_for_odd, range(6)).get_result(timeout=self.call_deadline)
        assert result == [0, None, 2, None, 4, None]

    def test_call_async_returns_the_value(self, fexec: Any) -> None:
        future = fexec.call_async(tasks.identity, {"x": "payload"})
        assert future.result(timeout=self.call_deadline) == "payload"

    def test_user_exception_keeps_its_type_and_remote_traceback(self, fexec: Any) -> None:
        future = fexec.call_async(tasks.fail_with, ("boom-contract",))
        with pytest.raises(ValueError, match="boom-contract") as caught:
            future.result(timeout=self.call_deadline)
        assert "fail_with" in str(caught.value.__cause__)

    def test_printed_output_is_on_the_future(self, fexec: Any) -> None:
        future = fexec.call_async(tasks.print_lines, (3,))
        assert future.result(timeout=self.call_deadline) == 3
        assert "contract line 2" in (future.logs or "")

    def test_megabyte_argument_and_result_round_trip(self, fexec: Any) -> None:
        blob = os.urandom(1 << 20)
        assert fexec.call_async(tasks.identity, (blob,)).result(timeout=self.call_deadline) == blob

    def test_extra_env_reaches_the_function(self, fexec: Any) -> None:
        futures = fexec.map(
            tasks.echo_env, ["LITHOPS_CONTRACT"], extra_env={"LITHOPS_CONTRACT": "yes"}
        )
        assert futures.get_result(timeout=self.call_deadline) == ["yes"]

    def test_reserved_id_is_the_call_index(self, fexec: Any) -> None:
        result = fexec.map(tasks.with_id, ["a", "b", "c"]).get_result(timeout=self.call_deadline)
        assert result == [("a", 0), ("b", 1), ("c", 2)]

    def test_stats_are_recorded_for_every_call(self, fexec: Any) -> None:
        futures = fexec.map(tasks.identity, range(3))
        futures.get_result(timeout=self.call_deadline)
        for f in futures:
            for name in (
                "worker_func_start_tstamp",
                "worker_func_end_tstamp",
                "host_submit_tstamp",
                "host_status_done_tstamp",
            ):
                assert name in f.stats, name

    def test_argument_and_result_larger_than_any_message_limit_travel(
        self, executor_config: dict[str, Any]
    ) -> None:
        # data_limit (4 MiB by default) refuses such arguments before any backend sees them
        config = {**executor_config}
        config["lithops"] = {**(config.get("lithops") or {}), "data_limit": False}
        blob = os.urandom(self.spill_bytes)
        with lithops.FunctionExecutor(config=config) as fexec:
            future = fexec.call_async(tasks.grow, (blob, 1024))
            result = future.result(timeout=self.call_deadline)
        assert len(result) == len(blob) + 1024 and result[: len(blob)] == blob

    def test_a_job_of_many_batches_runs_on_every_worker(self, fexec: Any) -> None:
        # One call per message, more messages than workers: every worker that runs one needs
        # the job's function, sent once per job (or per worker), not lost on the way.
        data = list(range(40))
        result = fexec.map(tasks.identity, data, chunksize=1).get_result(timeout=self.call_deadline)
        assert result == data
        again = fexec.map(tasks.none_for_odd, data, chunksize=1).get_result(
            timeout=self.call_deadline
        )
        assert again == [None if x % 2 else x for x in data]

    def test_worker_refuses_a_batch_of_another_wire_major_at_once(
        self, executor_config: dict[str, Any], fexec: Any
    ) -> None:
        # A client of another lithops major version: each call fails fast with a message that
        # says what to do, instead of being misread or hanging.
        sink = RecordingSink()
        host = get_plugin_host()
        section = executor_config.get(self.backend) or {}
        handle = host.provision(
            ProvisionRequest(
                backend=self.backend,
                config=fexec.config,
                runtime=section.get("runtime"),
                runtime_memory=None,
                events=sink,
            )
        )
        try:
            batch = build_batch(
                tasks.identity,
                [1, 2],
                job_key=f"{fexec.executor_id}/M999",
                wire_version=(wire.WIRE_VERSION[0] + 1, 0),
                function_once="function_once" in self.info.capabilities,
            )
            host.invoke(handle, batch)
            records = sink.wait_for(batch.calls, timeout=min(self.call_deadline, 30.0))
        finally:
            host.release(handle, dismantle=False)
        errors = [str(e) for e in sink.losses.values()]
        errors += [str(r.get("exc_msg")) for r in records if not r["ok"]]
        assert not any(r["ok"] for r in records)
        assert len(errors) == 2
        assert all("major version" in e for e in errors), errors

    # -- optional capabilities ----------------------------------------------------------------

    def test_call_past_its_timeout_fails_with_call_timeout(self, fexec: Any) -> None:
        self.require("timeout")
        slow = fexec.call_async(tasks.sleep_then, (600,), timeout=1)
        with pytest.raises(CallTimeoutError):
            slow.result(timeout=self.call_deadline)
        assert fexec.call_async(tasks.identity, (1,)).result(timeout=self.call_deadline) == 1

    def test_dead_worker_fails_the_call_not_the_wait(self, fexec: Any) -> None:
        self.require("worker_lost")
        futures = fexec.map(tasks.die, [3])
        with pytest.raises(WorkerLostError, match="code 3"):
            futures.get_result(timeout=self.call_deadline)
        assert fexec.map(tasks.identity, [7]).get_result(timeout=self.call_deadline) == [7]

    def test_cancel_stops_a_running_call(self, fexec: Any, tmp_path: Path) -> None:
        self.require("cancel")
        pid_file = tmp_path / "pid"
        future = fexec.call_async(tasks.pid_then_sleep, (str(pid_file), 600))
        deadline = time.monotonic() + self.call_deadline
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the call never started"
            time.sleep(0.05)
        assert future.cancel()
        assert future.cancelled()

    def test_printed_lines_are_streamed_to_the_logs(self, fexec: Any) -> None:
        self.require("logs")
        future = fexec.call_async(tasks.print_lines, (2,))
        future.result(timeout=self.call_deadline)
        request = LogRequest(
            backend=self.backend, config=fexec.config, job_key=future.job_key, follow=False
        )
        deadline = time.monotonic() + 5
        while True:
            lines = list(get_plugin_host().stream_logs(request))
            if any("contract line 1" in line.text for line in lines) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert any("contract line 1" in line.text for line in lines)
