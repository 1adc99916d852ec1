"""The ``lithops`` joblib backend on the localhost backend, with the real joblib and
scikit-learn (the SSH hosts run it in tests/standalone/test_joblib_ssh.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from lithops.util.joblib import JoblibMissingError, register_lithops
from lithops.util.joblib.backend import LithopsBackend

OWN_POOL = sys.executable


class OddInputError(ValueError):
    """An exception class of the user's own."""


def square(x: int) -> int:
    return x * x


def fail_on_odd(x: int) -> int:
    if x % 2:
        raise OddInputError(f"odd input {x}")
    return x


def span(x: int, seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def weighted_sum(array: np.ndarray, i: int) -> float:
    return float(array.sum()) * i


@pytest.fixture(autouse=True)
def registered(lithops_home: Path) -> None:
    register_lithops()


def backend(**kwargs: object) -> LithopsBackend:
    return LithopsBackend(runtime=OWN_POOL, **kwargs)


def test_the_joblib_example_runs_in_order_as_lithops_calls() -> None:
    with joblib.parallel_backend("lithops", runtime=OWN_POOL):
        out = joblib.Parallel()(joblib.delayed(square)(i) for i in range(30))
    assert out == [i * i for i in range(30)]


class RecordingBackend(LithopsBackend):
    """Records the size of each batch joblib hands over."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(runtime=OWN_POOL, **kwargs)
        self.batches: list[int] = []

    def submit(self, func: object, callback: object = None) -> object:
        self.batches.append(len(func))  # type: ignore[arg-type]
        return super().submit(func, callback)


def test_each_batch_joblib_asks_for_is_one_call() -> None:
    b = RecordingBackend()
    with joblib.parallel_backend(b, n_jobs=2):
        out = joblib.Parallel(batch_size=5)(joblib.delayed(square)(i) for i in range(23))
    assert out == [i * i for i in range(23)]
    # joblib sends batches of 5 and splits the tail itself; each batch is one call.
    assert sum(b.batches) == 23 and max(b.batches) == 5
    assert b.calls_submitted == len(b.batches) < 23


def test_an_exception_reaches_the_caller_with_its_type() -> None:
    with (
        joblib.parallel_backend("lithops", runtime=OWN_POOL),
        pytest.raises(OddInputError, match="odd input 3"),
    ):
        joblib.Parallel(n_jobs=2)(joblib.delayed(fail_on_odd)(i) for i in [0, 2, 3, 4])


def test_n_jobs_is_the_most_calls_running_at_once() -> None:
    with joblib.parallel_backend("lithops", runtime=OWN_POOL):
        spans = joblib.Parallel(n_jobs=2, batch_size=1)(
            joblib.delayed(span)(i, 0.4) for i in range(6)
        )
    # At the start of each task, count the tasks running then (itself included).
    running = [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
    assert max(running) <= 2
    assert max(running) == 2  # and it did run two at once


def test_n_jobs_minus_one_is_the_configured_worker_count() -> None:
    with joblib.parallel_backend("lithops", runtime=OWN_POOL, worker_processes=3):
        assert joblib.effective_n_jobs(-1) == 3
        assert joblib.effective_n_jobs(-2) == 2
        assert joblib.effective_n_jobs(2) == 2


def test_a_large_array_travels_once_through_the_storage() -> None:
    array = np.arange(1_000_000, dtype=np.float64)  # 8 MB
    b = backend()
    with joblib.parallel_backend(b, n_jobs=2):
        out = joblib.Parallel(batch_size=1)(
            joblib.delayed(weighted_sum)(array, i) for i in range(6)
        )
    assert out == [float(array.sum()) * i for i in range(6)]
    assert b.calls_submitted == 6
    assert b.objects_stored == 1
    assert b.payload_bytes < 6 * 100_000  # references, not 8 MB in each payload


def test_stored_arrays_are_deleted_after_the_call(lithops_home: Path) -> None:
    array = np.ones(500_000)
    b = backend(large_object_bytes=1000)
    with joblib.parallel_backend(b, n_jobs=2):
        joblib.Parallel(batch_size=1)(joblib.delayed(weighted_sum)(array, i) for i in range(3))
    assert b.objects_stored == 1
    from lithops.storage import Storage

    storage = Storage()
    assert storage.list_keys(storage.bucket, "lithops.jobs/tmp/") == []


def test_random_search_picks_what_loky_picks() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.svm import SVC

    digits = load_digits()
    x, y = digits.data[:600], digits.target[:600]
    space = {"C": np.logspace(-2, 2, 10), "gamma": np.logspace(-4, -1, 10)}

    def search() -> RandomizedSearchCV:
        model = RandomizedSearchCV(SVC(), space, n_iter=6, cv=3, n_jobs=-1, random_state=7)
        return model.fit(x, y)

    with joblib.parallel_backend("loky"):
        loky = search()
    with joblib.parallel_backend("lithops", runtime=OWN_POOL):
        ours = search()
    assert ours.best_params_ == loky.best_params_
    assert ours.best_score_ == pytest.approx(loky.best_score_)
    assert np.allclose(ours.cv_results_["mean_test_score"], loky.cv_results_["mean_test_score"])


def test_without_joblib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "joblib", None)  # import joblib now raises ImportError
    with pytest.raises(JoblibMissingError, match=r"lithops-core\[joblib\]"):
        register_lithops()


def test_a_plain_function_needs_no_joblib_on_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from lithops.util.joblib.remote import run_batch

    monkeypatch.setitem(sys.modules, "joblib", None)  # as on a worker without joblib

    data = pickle.dumps([(square, (4,), {}), (square, (5,), {})])
    assert run_batch(data, None) == [16, 25]
