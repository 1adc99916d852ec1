"""The core's half of the contract: whatever a backend does, every call ends exactly once.

:class:`LivenessContract` runs maps on the backends of :mod:`lithops.testing.misbehaving`
(dropping, silent, stuck, answering twice, answering ``None``) and checks that each future
reaches one terminal state, once, within the bound the core promises for that misbehaviour.
Subclass it in a test module to run it (``class TestLiveness(LivenessContract): pass``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lithops
from lithops.errors import BackendUnavailableError, CallTimeoutError, WorkerLostError
from lithops.plugins import manager
from lithops.scheduler import MONITOR_TICK, timeout_grace
from lithops.testing import misbehaving, tasks

__all__ = ["LivenessContract"]

#: Slack on top of each bound for a loaded machine: these tests prove "no hang", not speed.
SLACK = 10.0


class _Endings:
    """Counts how many times each future was resolved (done callbacks run once per outcome)."""

    def __init__(self, futures: list[Any]) -> None:
        self.futures = futures
        self.counts = [0] * len(futures)
        self.lock = threading.Lock()
        for i, f in enumerate(futures):
            f.add_done_callback(lambda _f, i=i: self._one(i))

    def _one(self, i: int) -> None:
        with self.lock:
            self.counts[i] += 1

    def assert_each_ended_once(self) -> None:
        assert all(f.done for f in self.futures)
        time.sleep(3 * MONITOR_TICK)  # a second outcome, if any, would land by now
        assert self.counts == [1] * len(self.futures), self.counts


class LivenessContract:
    """Every call ends exactly once, within its bound, on a backend that misbehaves."""

    @pytest.fixture(autouse=True)
    def misbehaving_backends(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[manager.PluginHost]:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
        monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
        manager.reset_plugin_host()
        host = manager.get_plugin_host()
        host.register_module(misbehaving, name="lithops-misbehaving", distribution="lithops")
        yield host
        manager.reset_plugin_host()

    def executor(self, backend: str) -> lithops.FunctionExecutor:
        return lithops.FunctionExecutor(config={"lithops": {"backend": backend}})

    def test_dropped_batches_end_in_timeout_plus_grace(self) -> None:
        timeout = 2.0
        with self.executor("lithops-drop") as fexec:
            start = time.monotonic()
            futures = fexec.map(tasks.identity, range(10), timeout=timeout)
            endings = _Endings(list(futures))
            with pytest.raises(CallTimeoutError, match="reported nothing"):
                futures.get_result()  # no wait timeout: the core's deadline ends it
            elapsed = time.monotonic() - start
            # Ten one-call batches on capacity 4: four had room; the backend said nothing at
            # all, so the six queued behind them end at the same time.
            assert elapsed < timeout + timeout_grace(timeout) + SLACK
            endings.assert_each_ended_once()
            assert all(isinstance(f.exception(), CallTimeoutError) for f in futures)
            handle: Any = fexec.compute_handle
            assert sorted(handle.cancelled) == sorted(f.key for f in futures), handle.cancelled

    def test_a_backend_that_never_acknowledges_loses_its_calls_after_ack_timeout(self) -> None:
        with self.executor("lithops-mute") as fexec:
            start = time.monotonic()
            futures = fexec.map(tasks.identity, range(6), timeout=600)
            endings = _Endings(list(futures))
            with pytest.raises(WorkerLostError, match="ack_timeout is 1 s"):
                futures.get_result()
            assert time.monotonic() - start < 1.0 + SLACK
            endings.assert_each_ended_once()

    def test_a_call_running_past_its_timeout_ends_with_call_timeout(self) -> None:
        with self.executor("lithops-stuck") as fexec:
            start = time.monotonic()
            future = fexec.call_async(tasks.identity, (1,), timeout=1)
            endings = _Endings([future])
            with pytest.raises(CallTimeoutError, match="ran past its timeout of 1 s"):
                future.result()
            assert time.monotonic() - start < 1 + timeout_grace(1) + SLACK
            endings.assert_each_ended_once()

    def test_retries_apply_to_calls_the_core_ended(self) -> None:
        with self.executor("lithops-mute") as fexec:
            future = fexec.call_async(tasks.identity, (1,), retries=2)
            with pytest.raises(WorkerLostError):
                future.result(timeout=3 * 1.0 + SLACK)
            assert future.attempts == 2
            handle: Any = fexec.compute_handle
            assert len(handle.batches) == 3

    def test_answers_given_twice_end_each_call_once_with_its_result(self) -> None:
        with self.executor("lithops-twice") as fexec:
            futures = fexec.map(tasks.identity, range(20))
            endings = _Endings(list(futures))
            assert futures.get_result(timeout=30) == list(range(20))
            endings.assert_each_ended_once()

    def test_calls_queued_behind_busy_ones_are_not_ended(self) -> None:
        # One call at a time, each longer than the 1 s ack_timeout: the queued ones have no
        # room, so no clock runs for them while they wait.
        with self.executor("lithops-serial") as fexec:
            futures = fexec.map(tasks.sleep_then, [(1.5, i) for i in range(4)], timeout=30)
            assert futures.get_result(timeout=60) == [0, 1, 2, 3]

    def test_an_invoke_hook_answering_none_fails_the_calls_with_backend_unavailable(
        self,
    ) -> None:
        with self.executor("lithops-none") as fexec:
            futures = fexec.map(tasks.identity, range(3))
            endings = _Endings(list(futures))
            with pytest.raises(BackendUnavailableError, match="lithops_invoke"):
                futures.get_result(timeout=SLACK)
            endings.assert_each_ended_once()
