"""Speculative backups of stragglers: ``map(..., backups=True)``.

Rule (Cubed's): in a job of at least 10 calls with at least half of them done, a call running
longer than 3x the median duration of the finished ones (and at least
``BACKUP_MIN_RUNNING_S``) gets one copy; the first outcome wins and the other copy is stopped.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops
from lithops.future import CallState, ResponseFuture
from lithops.job import Job
from lithops.options import JobOptions
from lithops.scheduler import BACKUP_MIN_RUNNING_S, _Call, stragglers

#: A warm pool of these tests' own (pools are shared per runtime and size): calls that other
#: test modules leave running cannot take the workers these timings count on.
OWN_POOL = sys.executable


@pytest.fixture
def fexec(lithops_home: Path) -> Iterator[lithops.FunctionExecutor]:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        yield executor


def slow_first_time(x: int, slow: int, base: str) -> int:
    """Input ``slow`` sleeps 30 s on its first attempt only (the marker remembers it)."""
    marker = Path(base) / "slept"
    if x == slow and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(30)
    time.sleep(0.05)
    return x * 10


def quick(x: int) -> int:
    time.sleep(0.05)
    return x


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("slow", [0, 7, 19])
def test_a_straggler_gets_a_backup_and_the_map_finishes_fast(
    fexec: lithops.FunctionExecutor, tmp_path: Path, slow: int
) -> None:
    fexec.map(abs, range(4)).get_result()  # warm workers: time the map, not the pool start
    start = time.monotonic()
    fs = fexec.map(slow_first_time, [(x, slow, str(tmp_path)) for x in range(20)], backups=True)
    results = fexec.get_result(fs, timeout=25)
    took = time.monotonic() - start
    assert results == [x * 10 for x in range(20)]
    assert took < 10, f"20-call map with one 30 s straggler took {took:.1f} s"
    assert fs[slow].stats.get("backups") == 1
    assert sum(1 for f in fs if f.stats.get("backups")) == 1
    loser = int((tmp_path / "slept").read_text())
    assert gone_within(loser, 2.0), f"the losing copy's worker {loser} was not stopped"
    assert fexec.map(abs, [-1, -2]).get_result() == [1, 2]


def slow_then_raise(x: int, base: str) -> int:
    """Input 4 hangs on its first attempt and raises on any later one."""
    marker = Path(base) / "slept"
    if x == 4:
        if marker.exists():
            raise ValueError("the copy failed")
        marker.write_text(str(os.getpid()))
        time.sleep(30)
    time.sleep(0.05)
    return x


def test_the_first_outcome_wins_even_a_failure(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    start = time.monotonic()
    fs = fexec.map(slow_then_raise, [(x, str(tmp_path)) for x in range(20)], backups=True)
    results = fexec.get_result(fs, throw_except=False, timeout=25)
    assert time.monotonic() - start < 10
    assert results == [None if x == 4 else x for x in range(20)]
    assert isinstance(fs[4].exception(), ValueError)
    loser = int((tmp_path / "slept").read_text())
    assert gone_within(loser, 2.0), f"the stuck copy's worker {loser} was not stopped"


def test_backups_are_opt_in(fexec: lithops.FunctionExecutor, tmp_path: Path) -> None:
    fs = fexec.map(slow_first_time, [(x, 3, str(tmp_path)) for x in range(12)])
    _, not_done = fexec.wait(fs, timeout=4, throw_except=False)
    assert fs[3] in not_done and "backups" not in fs[3].stats
    fs[3].cancel()


def test_uniform_calls_get_no_backups(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(quick, range(40), backups=True)
    assert fexec.get_result(fs) == list(range(40))
    assert not any(f.stats.get("backups") for f in fs)


# -- the rule itself --------------------------------------------------------------------------


def make_calls(n: int) -> list[_Call]:
    job = Job("e", "M000", "f", "k", b"", [((), {})] * n)
    return [_Call(job, ResponseFuture("e", "M000", f"{i:05d}"), ((), {})) for i in range(n)]


def finish(call: _Call, duration: float) -> None:
    call.future.call_state = CallState.SUCCESS
    call.duration = duration


def test_rule_needs_ten_calls_half_done_and_a_slow_runner() -> None:
    now = 1000.0
    calls = make_calls(10)
    for call in calls[:5]:
        finish(call, 0.5)
    for call in calls[5:]:
        call.future.call_state = CallState.RUNNING
        call.started = now - 0.2
    calls[9].started = now - max(1.6, BACKUP_MIN_RUNNING_S + 0.1)  # > 3 x median 0.5
    assert stragglers(calls, now) == [calls[9]]
    calls[9].backups = 1
    assert stragglers(calls, now) == []  # one copy per call
    assert stragglers(calls[1:], now) == []  # fewer than 10 calls
    fewer_done = make_calls(10)
    for call in fewer_done[:4]:
        finish(call, 0.5)
    for call in fewer_done[4:]:
        call.future.call_state = CallState.RUNNING
        call.started = now - 100
    assert stragglers(fewer_done, now) == []  # fewer than half done
    for call in calls[5:]:
        call.future.call_state = CallState.SUCCESS
    assert stragglers(calls, now) is None  # the job is over


def test_rule_never_backs_up_sub_second_calls() -> None:
    now = 1000.0
    calls = make_calls(10)
    for call in calls[:9]:
        finish(call, 0.01)
    calls[9].future.call_state = CallState.RUNNING
    calls[9].started = now - BACKUP_MIN_RUNNING_S / 2  # 50x the median, but young
    assert stragglers(calls, now) == []
    calls[9].started = now - BACKUP_MIN_RUNNING_S - 0.01
    assert stragglers(calls, now) == [calls[9]]


def test_backups_can_be_switched_on_for_every_map_in_the_config(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = {"lithops": {"backend": "localhost", "backups": True}}
    with lithops.FunctionExecutor(config=config) as fexec:
        job, _ = fexec.session.new_job("M", abs, [1])
        assert job.backups
        job, _ = fexec.session.new_job("M", abs, [1], JobOptions(backups=False))
        assert not job.backups
