"""Retries: native ``retries=``, config ``lithops.retries`` and Lithops' RetryingFunctionExecutor.

The flaky function counts its attempts per input in files under ``tmp_path`` (workers are
separate processes), so each test knows exactly how many times each input ran.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops
from lithops import RetryingFunctionExecutor
from lithops.errors import WorkerLostError
from lithops.retries import RetryingFuture

#: A warm pool of these tests' own (pools are shared per runtime and size): calls that other
#: test modules leave running cannot take the workers these timings count on.
OWN_POOL = sys.executable


class FlakyError(Exception):
    pass


def attempt(base: str, x: int) -> int:
    """Count this attempt at input ``x``; returns its number (1 for the first)."""
    marker = Path(base) / f"{x}"
    count = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(count))
    return count


def fails_first_two_attempts(x: int, base: str) -> int:
    if attempt(base, x) <= 2:
        raise FlakyError(f"attempt at {x} failed")
    return 10 * x


def odd_inputs_fail_twice(x: int, base: str) -> int:
    if attempt(base, x) <= 2 and x % 2:
        raise FlakyError(f"attempt at {x} failed")
    return 10 * x


def dies_on_first_attempt(x: int, base: str) -> int:
    if attempt(base, x) == 1 and x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return 10 * x


def attempts(base: Path, n: int) -> list[int]:
    return [int((base / f"{x}").read_text()) for x in range(n)]


@pytest.fixture
def fexec(lithops_home: Path) -> Iterator[lithops.FunctionExecutor]:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        yield executor


N = 6


def inputs(base: Path) -> list[tuple[int, str]]:
    return [(x, str(base)) for x in range(N)]


# -- native -------------------------------------------------------------------------------


def test_native_retries_two_recover_a_function_failing_twice_per_input(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    fs = fexec.map(fails_first_two_attempts, inputs(tmp_path), retries=2)
    assert fexec.get_result(fs) == [10 * x for x in range(N)]
    assert attempts(tmp_path, N) == [3] * N
    assert [f.stats["retries"] for f in fs] == [2] * N


def test_one_retry_is_not_enough_and_the_users_error_comes_back(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    fs = fexec.map(fails_first_two_attempts, inputs(tmp_path), retries=1)
    assert fexec.get_result(fs, throw_except=False) == [None] * N
    assert all(isinstance(f.exception(), FlakyError) for f in fs)
    assert attempts(tmp_path, N) == [2] * N


def test_only_failed_calls_are_retried_and_keep_their_position(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    fs = fexec.map(odd_inputs_fail_twice, inputs(tmp_path), retries=2)
    assert fexec.get_result(fs) == [10 * x for x in range(N)]
    assert attempts(tmp_path, N) == [1, 3, 1, 3, 1, 3]
    assert [f.call_id for f in fs] == [f"{x:05d}" for x in range(N)]


def test_config_retries_apply_to_every_map(lithops_home: Path, tmp_path: Path) -> None:
    config = {
        "lithops": {"backend": "localhost", "retries": 2},
        "localhost": {"worker_processes": 2, "runtime": OWN_POOL},
    }
    with lithops.FunctionExecutor(config=config) as executor:
        results = executor.map(fails_first_two_attempts, inputs(tmp_path)).get_result()
    assert results == [10 * x for x in range(N)]
    assert attempts(tmp_path, N) == [3] * N


def test_a_lost_worker_is_retried(fexec: lithops.FunctionExecutor, tmp_path: Path) -> None:
    fs = fexec.map(dies_on_first_attempt, inputs(tmp_path), retries=1)
    assert fexec.get_result(fs) == [10 * x for x in range(N)]
    assert attempts(tmp_path, N)[2] == 2


def test_without_retries_a_lost_worker_fails_the_call(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    fs = fexec.map(dies_on_first_attempt, inputs(tmp_path))
    assert fexec.get_result(fs, throw_except=False)[2] is None
    assert isinstance(fs[2].exception(), WorkerLostError)


# -- Lithops' RetryingFunctionExecutor -----------------------------------------------------


def test_retrying_function_executor_as_lithops_documents_it(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    data = inputs(tmp_path)
    with RetryingFunctionExecutor(fexec) as rexec:
        fs = rexec.map(fails_first_two_attempts, data, retries=2)
        done, pending = rexec.wait(fs, throw_except=False)
    assert pending == []
    assert done == fs
    assert all(isinstance(f, RetryingFuture) for f in fs)
    assert [f.result() for f in fs] == [10 * x for x in range(N)]
    assert [f.input for f in fs] == data
    assert all(f.done and not f.error for f in fs)
    assert all(f.stats["retries"] == 2 for f in fs)
    assert all(f.status()["call_id"] == f.response_future.call_id for f in fs)
    assert attempts(tmp_path, N) == [3] * N


def test_retrying_future_reports_a_call_out_of_retries(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    rexec = RetryingFunctionExecutor(fexec)
    fs = rexec.map(fails_first_two_attempts, inputs(tmp_path)[:2], retries=1)
    done, pending = rexec.wait(fs, throw_except=False)
    assert (len(done), pending) == (2, [])
    for f in fs:
        assert f.done and f.error
        assert f.failure_count == 2
        assert f.result(throw_except=False) is None
        with pytest.raises(FlakyError):
            f.result()
        assert f._exception is not None and f._exception[0] is FlakyError
    with pytest.raises(FlakyError):
        rexec.wait(fs)


def test_retrying_wait_uses_config_retries(lithops_home: Path, tmp_path: Path) -> None:
    config = {
        "lithops": {"backend": "localhost", "retries": 2},
        "localhost": {"worker_processes": 2, "runtime": OWN_POOL},
    }
    with RetryingFunctionExecutor(lithops.FunctionExecutor(config=config)) as rexec:
        fs = rexec.map(fails_first_two_attempts, inputs(tmp_path))
        assert rexec.get_result(fs) == [10 * x for x in range(N)]


def test_retrying_future_cancel_stops_the_call(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    rexec = RetryingFunctionExecutor(fexec)
    (future,) = rexec.map(sleep_for, [60], retries=3)
    assert future.cancel()
    done, pending = rexec.wait([future], throw_except=False, timeout=5)
    assert done == [future] and pending == []
    assert future.cancelled and not future.error


def sleep_for(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_retrying_wait_without_futures_says_it_needs_those_of_its_map(fexec) -> None:
    # fs is optional on FunctionExecutor.wait (all its futures), not on the retrying wrapper
    with pytest.raises(TypeError, match="futures of its map"):
        RetryingFunctionExecutor(fexec).wait()


def test_retrying_map_takes_the_executor_map_options(fexec, tmp_path: Path) -> None:
    rexec = RetryingFunctionExecutor(fexec)
    fs = rexec.map(fails_first_two_attempts, inputs(tmp_path), retries=2, extra_env={"K": "v"})
    assert rexec.get_result(fs) == [10 * x for x in range(N)]
    assert fs[0].map_kwargs["extra_env"] == {"K": "v"}
    assert fs[0].retries == 2
