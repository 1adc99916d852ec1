"""The ``concurrent.futures`` interface: lithops futures in the standard functions, and
``lithops.concurrent.futures`` executors handed to code written for any ``Executor``."""

from __future__ import annotations

import concurrent.futures
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops
import lithops.concurrent
from lithops.concurrent import futures as lcf

#: A warm pool of these tests' own (pools are shared per runtime and size): calls that other
#: test modules leave running cannot take the workers these timings count on.
OWN_POOL = sys.executable


@pytest.fixture
def fexec(lithops_home: Path) -> Iterator[lithops.FunctionExecutor]:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        yield executor


@pytest.fixture
def pool(lithops_home: Path) -> Iterator[lcf.FunctionExecutor]:
    with lcf.LocalhostExecutor(max_workers=2, runtime=OWN_POOL) as executor:
        yield executor


def square(x: int) -> int:
    return x * x


def power(base: int, exp: int = 2) -> int:
    return base**exp


def takes_id(id: int) -> int:
    return id


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def record_pid_and_sleep(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


def library_function(executor: concurrent.futures.Executor, xs: list[int]) -> dict[str, object]:
    """What a library taking "any Executor" does: submit, as_completed, eager map, wait."""
    submitted = [executor.submit(square, x) for x in xs]
    completed = sorted(f.result() for f in concurrent.futures.as_completed(submitted, timeout=60))
    mapped = list(executor.map(power, xs, [3] * len(xs)))
    done, not_done = concurrent.futures.wait(submitted, timeout=60)
    return {"completed": completed, "mapped": mapped, "waited": (len(done), len(not_done))}


# -- the standard functions on lithops' own futures ------------------------------------------


def test_as_completed_and_wait_take_lithops_futures(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(square, range(20))
    assert sorted(f.result() for f in concurrent.futures.as_completed(fs, timeout=30)) == [
        x * x for x in range(20)
    ]
    done, not_done = concurrent.futures.wait(fs, timeout=30)
    assert len(done) == 20 and not not_done
    assert all(isinstance(f, concurrent.futures.Future) for f in fs)


def test_wait_first_completed_returns_before_the_slow_call(
    fexec: lithops.FunctionExecutor,
) -> None:
    slow = fexec.call_async(sleep_then, (30, 1))
    quick = fexec.call_async(sleep_then, (0, 2))
    start = time.monotonic()
    done, not_done = concurrent.futures.wait(
        [slow, quick], timeout=20, return_when=concurrent.futures.FIRST_COMPLETED
    )
    assert time.monotonic() - start < 10
    assert done == {quick} and not_done == {slow}
    slow.cancel()
    assert concurrent.futures.wait([slow], timeout=5).not_done == set()


def test_wait_first_exception(fexec: lithops.FunctionExecutor) -> None:
    fs = fexec.map(fail_on_three, [3, 1])
    slow = fexec.call_async(sleep_then, (30, 0))
    done, not_done = concurrent.futures.wait(
        [*fs, slow], timeout=20, return_when=concurrent.futures.FIRST_EXCEPTION
    )
    assert fs[0] in done and slow in not_done
    assert isinstance(fs[0].exception(), ValueError)
    slow.cancel()


# -- lithops.concurrent.futures ---------------------------------------------------------------


def test_the_module_has_the_names_lithops_3_8_has() -> None:
    for name in (
        "FunctionExecutor", "LocalhostExecutor", "ServerlessExecutor", "StandaloneExecutor",
        "ProcessPoolExecutor", "ThreadPoolExecutor", "Future", "Executor", "wait",
        "as_completed", "ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION", "TimeoutError",
        "CancelledError", "BrokenExecutor", "InvalidStateError",
    ):  # fmt: skip
        assert hasattr(lcf, name), name
        assert getattr(lithops.concurrent, name) is getattr(lcf, name)
    assert issubclass(lcf.Future, concurrent.futures.Future)
    assert lcf.TimeoutError is concurrent.futures.TimeoutError
    assert lcf.FIRST_EXCEPTION == concurrent.futures.FIRST_EXCEPTION
    for name in ("FunctionExecutor", "LocalhostExecutor", "ProcessPoolExecutor",
                 "ThreadPoolExecutor", "ServerlessExecutor", "StandaloneExecutor"):  # fmt: skip
        assert issubclass(getattr(lcf, name), concurrent.futures.Executor)


def test_a_library_taking_any_executor_works_with_ours(lithops_home: Path) -> None:
    xs = list(range(12))
    with concurrent.futures.ThreadPoolExecutor(2) as reference:
        expected = library_function(reference, xs)
    with lcf.ProcessPoolExecutor(max_workers=2, runtime=OWN_POOL) as ours:
        assert library_function(ours, xs) == expected
    assert expected["mapped"] == [x**3 for x in xs]


def test_submit_passes_arguments_as_the_standard_library_does(pool: lcf.FunctionExecutor) -> None:
    assert pool.submit(power, 2, exp=10).result(timeout=30) == 1024
    assert pool.submit(power, base=3).result(timeout=30) == 9
    assert pool.submit(len, (1, 2, 3)).result(timeout=30) == 3  # a tuple stays one argument
    assert pool.submit(takes_id, 41).result(timeout=30) == 41  # no lithops injection
    future = pool.submit(square, 7)
    assert isinstance(future, lcf.Future)
    assert future.stats["worker_exec_time"] >= 0 if future.result(timeout=30) == 49 else False


def test_map_is_eager_and_yields_results_in_order(pool: lcf.FunctionExecutor) -> None:
    inner = pool.lithops_executor
    before = len(inner.futures)
    results = pool.map(sleep_then, [0.3, 0.0, 0.1, 0.0], [1, 2, 3, 4])
    assert len(inner.futures) - before == 4  # all submitted before the first next()
    assert list(results) == [1, 2, 3, 4]
    assert list(pool.map(power, range(50), [2] * 50, chunksize=7)) == [x * x for x in range(50)]
    assert list(pool.map(square, [])) == []


def test_map_raises_the_calls_error_at_its_position(pool: lcf.FunctionExecutor) -> None:
    results = pool.map(fail_on_three, range(6))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="three"):
        next(results)


def test_map_timeout_raises_and_cancels_what_was_not_read(pool: lcf.FunctionExecutor) -> None:
    start = time.monotonic()
    results = pool.map(sleep_then, [30, 30], [1, 2], timeout=0.5)
    with pytest.raises(concurrent.futures.TimeoutError):
        next(results)
    assert time.monotonic() - start < 5
    outstanding = [f for f in pool.lithops_executor.futures if f.function_name == "sleep_then"]
    assert outstanding and all(f.cancelled() for f in outstanding)


def test_map_buffersize_submits_lazily(pool: lcf.FunctionExecutor) -> None:
    inner = pool.lithops_executor
    before = len(inner.futures)
    results = pool.map(square, iter(range(10)), buffersize=3)
    assert len(inner.futures) - before == 3
    assert list(results) == [x * x for x in range(10)]
    assert len(inner.futures) - before == 10


def test_shutdown_waits_then_refuses_new_work(lithops_home: Path) -> None:
    executor = lcf.LocalhostExecutor(max_workers=2, runtime=OWN_POOL)
    future = executor.submit(sleep_then, 0.5, 5)
    executor.shutdown(wait=True)
    assert future.done() and future.result() == 5
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(square, 1)


def test_shutdown_cancel_futures_stops_running_calls(lithops_home: Path, tmp_path: Path) -> None:
    executor = lcf.LocalhostExecutor(max_workers=2, runtime=OWN_POOL)
    pidfile = tmp_path / "pid"
    future = executor.submit(record_pid_and_sleep, str(pidfile))
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int(pidfile.read_text())
    start = time.monotonic()
    executor.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - start < 2
    assert future.cancelled()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"worker {pid} still running after shutdown(cancel_futures=True)")


def test_wrapping_an_existing_executor_leaves_it_open(fexec: lithops.FunctionExecutor) -> None:
    with lcf.FunctionExecutor(executor=fexec) as pool:
        assert pool.submit(square, 3).result(timeout=30) == 9
    assert fexec.map(square, [4]).get_result() == [16]
    with lcf.FunctionExecutor(executor=lithops.RetryingFunctionExecutor(fexec)) as pool:
        assert list(pool.map(square, [5])) == [25]
