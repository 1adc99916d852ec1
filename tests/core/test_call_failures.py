"""Failures never hang and never spill over: each ends one call, with its own error class.

Runs on the real localhost backend (a warm pool of 2 worker processes). Every case checks
that ``get_result`` comes back within 10 s, that the affected call carries the right error,
that the other calls' results are intact and in order, and that the next map still works.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops
from lithops.errors import (
    CallTimeoutError,
    RemoteTraceback,
    SerializationError,
    WorkerLostError,
)

#: Every failure must be reported within this many seconds.
BOUND_S = 10.0

#: A warm pool of these tests' own (pools are shared per runtime and size): calls that other
#: test modules leave running cannot take the workers these timings count on.
OWN_POOL = sys.executable


@pytest.fixture
def fexec(lithops_home: Path) -> Iterator[lithops.FunctionExecutor]:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        yield executor


def double_or_die(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * x


def double_or_exit(x: int) -> int:
    if x == 5:
        os._exit(3)
    return 2 * x


def sleep_forever_on_one(x: int) -> int:
    if x == 1:
        while True:
            time.sleep(1)
    return x


def identity(x: object) -> object:
    return x


def raise_own_timeout(x: int) -> int:
    if x == 2:
        raise TimeoutError("the user's own timeout")
    return x


def raise_value_error(x: int) -> int:
    if x == 1:
        raise ValueError(f"bad input {x}")
    return x


def lock_on_two(x: int) -> object:
    if x == 2:
        return threading.Lock()
    return x


def record_pid_and_sleep(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} was not written within {timeout} s")


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def timed_results(fexec: lithops.FunctionExecutor, fs: list) -> tuple[list, float]:
    start = time.monotonic()
    results = fexec.get_result(fs, throw_except=False)
    return results, time.monotonic() - start


def assert_next_map_works(fexec: lithops.FunctionExecutor) -> None:
    assert fexec.map(abs, [-1, -2, -3, -4]).get_result() == [1, 2, 3, 4]


# -- dead workers ---------------------------------------------------------------------------


def test_sigkilled_worker_fails_its_call_not_the_wait(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(double_or_die, range(8))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, 2, 4, None, 8, 10, 12, 14]
    error = fs[3].exception()
    assert isinstance(error, WorkerLostError)
    assert "SIGKILL" in str(error)
    assert fs[3].job_key in str(error) and fs[3].call_id in str(error)
    assert (error.job_key, error.call_id) == fs[3].key
    assert [f.success for f in fs] == [True, True, True, False, True, True, True, True]
    with pytest.raises(WorkerLostError):
        fexec.get_result(fs)
    assert_next_map_works(fexec)


def die_on_some(x: int) -> int:
    if x in (9, 17, 33):
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * x


def test_a_crash_inside_a_batch_loses_no_finished_result(
    fexec: lithops.FunctionExecutor,
) -> None:
    # 40 calls on 2 workers travel 5 per message: each crash happens right after calls
    # of the same message finished, before the worker reported them.
    fs = fexec.map(die_on_some, range(40))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [None if x in (9, 17, 33) else 2 * x for x in range(40)]
    for x in (9, 17, 33):
        error = fs[x].exception()
        assert isinstance(error, WorkerLostError) and error.call_id == fs[x].call_id
    assert_next_map_works(fexec)


def fork_then_die(x: int) -> int:
    if x == 1:
        if os.fork() == 0:  # a child (think multiprocessing) inherits the worker's pipes
            time.sleep(30)
            os._exit(0)
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * x


def test_a_dead_worker_whose_child_holds_its_pipes_still_fails_fast(
    fexec: lithops.FunctionExecutor,
) -> None:
    fs = fexec.map(fork_then_die, range(3))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, None, 4]
    assert isinstance(fs[1].exception(), WorkerLostError)
    assert "SIGKILL" in str(fs[1].exception())
    assert_next_map_works(fexec)


def test_worker_exit_code_is_named(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(double_or_exit, range(8))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, 2, 4, 6, 8, None, 12, 14]
    error = fs[5].exception()
    assert isinstance(error, WorkerLostError)
    assert "exited with code 3" in str(error)
    assert f"{fs[5].job_key}/{fs[5].call_id}" in str(error)
    assert_next_map_works(fexec)


# -- timeouts -------------------------------------------------------------------------------


def test_call_timeout_stops_the_worker_and_is_its_own_class(
    fexec: lithops.FunctionExecutor,
) -> None:
    fs = fexec.map(sleep_forever_on_one, range(4), timeout=2)
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, None, 2, 3]
    error = fs[1].exception()
    assert isinstance(error, CallTimeoutError)
    assert "timeout of 2 s" in str(error)
    assert f"{fs[1].job_key}/{fs[1].call_id}" in str(error)
    assert_next_map_works(fexec)


def test_execution_timeout_from_the_config_and_call_async_timeout(lithops_home: Path) -> None:
    config = {
        "lithops": {"backend": "localhost", "execution_timeout": 2},
        "localhost": {"worker_processes": 2, "runtime": OWN_POOL},
    }
    with lithops.FunctionExecutor(config=config) as executor:
        fs = executor.map(sleep_forever_on_one, range(3))
        single = executor.call_async(sleep_forever_on_one, (1,), timeout=1)
        start = time.monotonic()
        results = executor.get_result(fs, throw_except=False)
        assert time.monotonic() - start < BOUND_S
        assert results == [0, None, 2]
        assert isinstance(fs[1].exception(), CallTimeoutError)
        assert "timeout of 2 s" in str(fs[1].exception())
        error = single.exception(timeout=BOUND_S)
        assert isinstance(error, CallTimeoutError) and "timeout of 1 s" in str(error)
        assert f"lithops logs get {single.job_key}" in str(error)


def test_users_own_timeout_error_is_not_a_call_timeout(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(raise_own_timeout, range(4))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, 1, None, 3]
    error = fs[2].exception()
    assert type(error) is TimeoutError
    assert not isinstance(error, CallTimeoutError)
    assert str(error) == "the user's own timeout"


def test_user_exception_keeps_type_remote_traceback_and_names_the_call(
    fexec: lithops.FunctionExecutor,
) -> None:
    fs = fexec.map(raise_value_error, range(3))
    with pytest.raises(ValueError, match="bad input 1") as info:
        fexec.get_result(fs)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "raise_value_error" in cause.tb
    assert any(f"{fs[1].job_key}/{fs[1].call_id}" in note for note in info.value.__notes__)
    assert fexec.get_result(fs, throw_except=False) == [0, None, 2]


# -- data that cannot travel ---------------------------------------------------------------


def test_unpicklable_argument_fails_that_call_and_names_the_argument(
    fexec: lithops.FunctionExecutor,
) -> None:
    lock = threading.Lock()
    generator = (i for i in range(3))
    fs = fexec.map(identity, [0, lock, 2, generator, 4])
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, None, 2, None, 4]
    for index, kind in ((1, "lock"), (3, "generator")):
        error = fs[index].exception()
        assert isinstance(error, SerializationError)
        assert f"positional argument 0 (a {kind})" in str(error)
        assert f"{fs[index].job_key}/{fs[index].call_id}" in str(error)
    assert_next_map_works(fexec)


def test_unpicklable_keyword_argument_is_named(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(identity, [{"x": 1}, {"x": threading.Lock()}])
    results, _ = timed_results(fexec, fs)
    assert results == [1, None]
    error = fs[1].exception()
    assert isinstance(error, SerializationError)
    assert "argument 'x' (a lock)" in str(error)


def test_unpicklable_result_is_a_serialization_error(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(lock_on_two, range(5))
    results, took = timed_results(fexec, fs)
    assert took < BOUND_S
    assert results == [0, 1, None, 3, 4]
    error = fs[2].exception()
    assert isinstance(error, SerializationError)
    assert "the result of call" in str(error)
    assert f"{fs[2].job_key}/{fs[2].call_id}" in str(error)
    assert_next_map_works(fexec)


# -- scale ----------------------------------------------------------------------------------


def test_ten_thousand_calls_return_exactly_ten_thousand_results_in_order(
    fexec: lithops.FunctionExecutor,
) -> None:
    xs = list(range(-5_000, 5_000))
    results = fexec.map(abs, xs).get_result()
    assert len(results) == 10_000
    assert results == [abs(x) for x in xs]


# -- cancellation ---------------------------------------------------------------------------


def test_cancel_stops_a_running_call_on_its_worker(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    future = fexec.call_async(record_pid_and_sleep, (str(pidfile),))
    pid = int(wait_for_file(pidfile))
    started = time.monotonic()
    assert future.cancel()
    assert gone_within(pid, 2.0), f"worker {pid} still alive 2 s after cancel()"
    assert time.monotonic() - started < 2.0
    assert future.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result()
    assert_next_map_works(fexec)


def test_ctrl_c_in_get_result_cancels_the_calls_and_returns_at_once(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    # Python's own Ctrl-C handler, even where the runner started us with SIGINT ignored
    # (a background job of a non-interactive shell).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupt_get_result(fexec, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_get_result(fexec: lithops.FunctionExecutor, tmp_path: Path) -> None:
    paths = [str(tmp_path / f"pid{i}") for i in range(2)]
    fs = fexec.map(record_pid_and_sleep, paths)
    pids = [int(wait_for_file(Path(p))) for p in paths]
    sent: list[float] = []

    def interrupt() -> None:
        time.sleep(0.5)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        fexec.get_result(fs[:1])  # waiting for part of a job: all its calls are cancelled
    returned = time.monotonic()
    assert sent, "get_result returned before the interrupt was sent"
    assert returned - sent[0] < 1.0
    assert all(f.cancelled() for f in fs)
    for pid in pids:
        assert gone_within(pid, 2.0), f"worker {pid} still running after Ctrl-C"
    assert_next_map_works(fexec)


def test_leaving_the_with_block_cancels_running_calls(lithops_home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        future = executor.call_async(record_pid_and_sleep, (str(pidfile),))
        pid = int(wait_for_file(pidfile))
    assert future.cancelled()
    assert gone_within(pid, 2.0), f"worker {pid} still running after the with block"


def test_whole_wait_timeout_works_from_a_non_main_thread(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    future = fexec.call_async(record_pid_and_sleep, (str(pidfile),))
    waited: list[tuple[int, int, float]] = []
    raised: list[tuple[BaseException, float]] = []

    def waiter() -> None:
        start = time.monotonic()
        done, not_done = fexec.wait([future], timeout=1)
        waited.append((len(done), len(not_done), time.monotonic() - start))
        start = time.monotonic()
        try:
            fexec.get_result([future], timeout=1)
        except TimeoutError as exc:
            raised.append((exc, time.monotonic() - start))

    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert waited and raised
    done, not_done, took = waited[0]
    assert (done, not_done) == (0, 1)
    assert 0.9 <= took < 2.0
    error, took = raised[0]
    assert not isinstance(error, CallTimeoutError)  # the wait timed out, not the call
    assert future.call_id in str(error)
    assert 0.9 <= took < 2.0
    future.cancel()
