"""``lithops.multiprocessing``: ``Pool``, ``Process`` and ``cpu_count`` with lithops calls as
the processes, on the localhost backend."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops.multiprocessing as lmp
from lithops.multiprocessing import config as mp_config

#: The calls run in warm localhost workers of this interpreter's own python.
CONFIG = {
    "lithops": {"backend": "localhost", "storage": "localhost"},
    "localhost": {"worker_processes": 2, "runtime": sys.executable},
}


@pytest.fixture(autouse=True)
def configured(lithops_home: Path) -> Iterator[None]:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, CONFIG)
    yield
    mp_config.reset()


def square(x: int) -> int:
    return x * x


def add(a: int, b: int, scale: int = 1) -> int:
    return (a + b) * scale


def worker_pid(_: object) -> int:
    return os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def sleep_then(value: int, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return value


#: Set in worker processes by ``init``.
GREETING: list[str] = []


def init(word: str) -> None:
    GREETING.append(word)


def greeting(_: object) -> str:
    return "+".join(GREETING)


# -- Pool ------------------------------------------------------------------------------------


def test_map_starmap_apply_match_the_standard_pool() -> None:
    with lmp.Pool(2) as pool:
        assert pool.map(square, range(20)) == [x * x for x in range(20)]
        assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
        assert pool.apply(add, (1, 2), {"scale": 10}) == 30
        assert pool.apply_async(add, (2, 2)).get(timeout=30) == 4
        assert pool.map(square, []) == []


def test_calls_run_in_worker_processes_not_the_caller() -> None:
    with lmp.Pool(2) as pool:
        pids = set(pool.map(worker_pid, range(6)))
    assert os.getpid() not in pids


def test_imap_in_order_and_imap_unordered_complete() -> None:
    with lmp.Pool(2) as pool:
        assert list(pool.imap(square, range(10))) == [x * x for x in range(10)]
        # The slow first call finishes after the fast ones: unordered yields it later.
        out = list(pool.imap_unordered(square, range(10)))
        assert sorted(out) == [x * x for x in range(10)]
        slow_first = pool.starmap_async(sleep_then, [(1, 3.0), (2, 0.0)])
        assert slow_first.get(timeout=30) == [1, 2]


def test_map_async_callback_and_error_callback() -> None:
    got: list[object] = []
    errors: list[BaseException] = []
    with lmp.Pool(2) as pool:
        result = pool.map_async(square, [1, 2, 3], callback=got.append)
        assert result.get(timeout=30) == [1, 4, 9]
        # As in the stdlib, the callback has run once the result is ready.
        assert got == [[1, 4, 9]] and result.ready() and result.successful()
        failed = pool.map_async(fail_on_three, range(5), error_callback=errors.append)
        with pytest.raises(ValueError, match="three"):
            failed.get(timeout=30)
        assert not failed.successful()
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


def test_exceptions_keep_their_type() -> None:
    with lmp.Pool(2) as pool:
        with pytest.raises(ValueError, match="three"):
            pool.map(fail_on_three, range(5))
        with pytest.raises(ZeroDivisionError):
            pool.apply(divmod, (1, 0))


def test_get_with_timeout_raises_multiprocessing_timeout_error() -> None:
    with lmp.Pool(1) as pool:
        slow = pool.apply_async(sleep_then, (7, 3.0))
        assert not slow.ready()
        with pytest.raises(multiprocessing.TimeoutError):
            slow.get(timeout=0.2)
        with pytest.raises(ValueError, match="not ready"):
            slow.successful()
        assert slow.get(timeout=30) == 7


def test_initializer_runs_in_the_worker_before_its_tasks() -> None:
    with lmp.Pool(2, initializer=init, initargs=("hi",)) as pool:
        # Once per worker process, not once per task.
        assert set(pool.map(greeting, range(8))) == {"hi"}
    assert GREETING == []  # not in the caller


def test_closed_pool_refuses_work_and_join_waits() -> None:
    pool = lmp.Pool(2)
    pending = pool.map_async(sleep_then, [1, 2])
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.map(square, [1])
    pool.join()
    assert pending.ready() and pending.get() == [1, 2]


def test_context_manager_terminates_outstanding_tasks() -> None:
    started = time.monotonic()
    with lmp.Pool(1) as pool:
        long = pool.apply_async(sleep_then, (1, 60.0))
        time.sleep(0.5)
    long.wait(15)
    assert long.ready() and not long.successful()
    assert time.monotonic() - started < 30  # stopped, not waited for


def test_processes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        lmp.Pool(0)


# -- Process ---------------------------------------------------------------------------------


def write_file(path: str, text: str) -> None:
    Path(path).write_text(text)


def exit_with(code: int) -> None:
    sys.exit(code)


class Writer(lmp.Process):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def run(self) -> None:
        Path(self.path).write_text(f"pid {os.getpid()}")


def test_process_runs_its_target_elsewhere(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    p = lmp.Process(target=write_file, args=(str(out),), kwargs={"text": "hello"})
    assert p.exitcode is None and not p.is_alive()
    p.start()
    p.join(30)
    assert p.exitcode == 0 and not p.is_alive()
    assert out.read_text() == "hello"
    with pytest.raises(AssertionError):
        p.start()


def test_process_subclass_run(tmp_path: Path) -> None:
    out = tmp_path / "sub.txt"
    p = Writer(str(out))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    assert out.read_text() != f"pid {os.getpid()}" and out.read_text().startswith("pid ")


def test_exit_codes_follow_multiprocessing() -> None:
    codes = {}
    for name, target, args in [
        ("ok", square, (2,)),
        ("raises", fail_on_three, (3,)),
        ("exits", exit_with, (3,)),
        ("exits0", exit_with, (0,)),
    ]:
        p = lmp.Process(target=target, args=args, name=name)
        p.start()
        p.join(30)
        codes[name] = p.exitcode
    assert codes == {"ok": 0, "raises": 1, "exits": 3, "exits0": 0}


def test_is_alive_join_timeout_and_terminate() -> None:
    p = lmp.Process(target=sleep_then, args=(1, 60.0))
    p.start()
    p.join(0.5)
    assert p.is_alive() and p.exitcode is None
    assert p in lmp.active_children()
    started = time.monotonic()
    p.terminate()
    p.join(15)
    assert not p.is_alive()
    assert p.exitcode == -15
    assert time.monotonic() - started < 15


def test_cpu_count_is_the_backends_parallelism() -> None:
    assert lmp.cpu_count() == 2
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, {"lithops": {"backend": "localhost"}})
    assert lmp.cpu_count() == (os.cpu_count() or 1)


def test_config_names_unknown_keys() -> None:
    with pytest.raises(KeyError, match="REDIS_EXPIRY_TIME"):
        mp_config.set_parameter("NOPE", 1)
    mp_config.set_parameter(mp_config.REDIS_EXPIRY_TIME, 60)
    assert mp_config.get_parameter(mp_config.REDIS_EXPIRY_TIME) == 60
