"""Deadlines the core owns beyond the backend: reducers that cannot start, handed-off futures,
and what a finished call still holds (its arguments are released)."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import pytest

import lithops
from lithops import handoff
from lithops.errors import SerializationError, WorkerLostError
from lithops.future import ResponseFuture


class Payload:
    """An argument the test can watch with a weak reference."""

    def __init__(self, n: int) -> None:
        self.n = n


def size_of(payload: Payload) -> int:
    return payload.n


def test_a_reducer_that_cannot_start_fails_its_future_with_the_real_error(fexec) -> None:
    lock = threading.Lock()  # a reducer holding a lock cannot be pickled

    def reduce_holding_a_lock(results: list[int]) -> int:
        with lock:
            return sum(results)

    start = time.monotonic()
    futures = fexec.map_reduce(abs, [-1, -2, -3], reduce_holding_a_lock)
    with pytest.raises(SerializationError):
        fexec.get_result(futures)  # no timeout: must not hang, nor wait a fixed minute
    assert time.monotonic() - start < 30
    assert all(f.done for f in futures)


def test_waiting_for_a_map_reduce_honours_the_callers_timeout(fexec) -> None:
    futures = fexec.map_reduce(time.sleep, [3], len)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        fexec.get_result(futures, timeout=0.5)
    assert time.monotonic() - start < 10
    assert fexec.get_result(futures, timeout=60) == 1


def test_a_followed_future_whose_outcome_never_comes_fails_at_its_deadline(home: Path) -> None:
    storage = lithops.Storage()
    location = {
        "storage": storage.worker_descriptor(),
        "bucket": storage.bucket,
        "key": "lithops.jobs/never/published.outcome",
        "deadline": time.time() + 0.5,
    }
    future = ResponseFuture("ex", "M000", "00000")
    handoff.follow(future, location)
    with pytest.raises(WorkerLostError, match="not published"):
        future.result(timeout=30)


def test_a_finished_call_no_longer_holds_its_arguments(fexec) -> None:
    payloads = [Payload(i) for i in range(20)]
    watched = [weakref.ref(p) for p in payloads]
    futures = fexec.map(size_of, payloads)
    del payloads
    assert futures.get_result(timeout=60) == list(range(20))
    gc.collect()
    assert [ref() for ref in watched] == [None] * 20
