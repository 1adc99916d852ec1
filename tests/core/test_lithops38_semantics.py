"""Lithops 3.8 behaviours a program relies on, each checked on the localhost backend.

1. a call that returns futures of an executor it opened: ``get_result`` gives their results;
2. mapping over futures consumes them: ``get_result()`` then gives the new job's results;
3. a dict input binds by parameter name, ``*args`` and ``**kwargs`` by theirs;
4. ``map_reduce`` returns the map futures followed by the reducer futures;
5. a list of URLs for an ``obj`` function is partitioned per URL.
"""

from __future__ import annotations

import functools
import http.server
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lithops
from lithops.future import ResponseFuture
from lithops.job import InputMismatchError

#: Long enough for a slow, busy machine; a hang fails the test instead of stalling the run.
WAIT = 60


@pytest.fixture
def fx(home: Path) -> Iterator[lithops.FunctionExecutor]:
    """An executor of its own: ``get_result()`` without futures reads only this test's calls."""
    with lithops.FunctionExecutor() as executor:
        yield executor


# -- 1. a call that returns the futures of its own executor -------------------------------------


def runs_a_map_inside(x):
    def identity(v):
        return v

    fexec = lithops.FunctionExecutor()
    fexec.map(identity, range(x))
    return fexec.get_result()


def _started(futures):
    # Lithops' own tests wait until the inner calls run before returning their futures
    while not all(f.running or f.ready for f in futures):
        time.sleep(0.05)


def returns_map_futures(x):
    def plus_one(v):
        return v + 1

    fexec = lithops.FunctionExecutor()
    futures = fexec.map(plus_one, range(x))
    _started(futures)
    return futures


def returns_map_futures_over_a_partial(x):
    def times(v, w):
        return v * w

    fexec = lithops.FunctionExecutor()
    futures = fexec.map(functools.partial(times, 2), range(x))
    _started(futures)
    return futures


def returns_a_call_async_future(x):
    def plus_one(v):
        return v + 1

    fexec = lithops.FunctionExecutor()
    future = fexec.call_async(plus_one, x + 5)
    _started([future])
    return future


def returns_two_maps_futures(x):
    def plus_one(v):
        return v + 1

    fexec = lithops.FunctionExecutor()
    first = fexec.map(plus_one, range(x))
    second = fexec.map(plus_one, range(x))
    return first + second  # a plain list of futures


def returns_pending_futures(x):
    def slow(v):
        time.sleep(0.5)
        return v * 10

    return lithops.FunctionExecutor().map(slow, range(x))  # returned while still running


def returns_a_failing_future(x):
    def fails(v):
        raise KeyError(f"inner {v}")

    return lithops.FunctionExecutor().call_async(fails, x)


@pytest.fixture(scope="module")
def nested(home: Path) -> Iterator[lithops.FunctionExecutor]:
    """An executor whose workers may open executors of their own.

    ``LITHOPS_WORKER_START=spawn`` keeps these tests independent of fork-safety work on the
    localhost workers (issue 7): a worker forked from the threaded client may wedge in a
    nested executor. Once workers fork from a clean template, the tests pass either way.
    Its own warm pool, so the setting applies whatever pools earlier tests started: the
    runtime is this interpreter under another name (``python3`` next to ``python``).
    """
    sibling = Path(sys.executable).with_name("python3")
    runtime = str(sibling) if sibling.exists() and str(sibling) != sys.executable else None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITHOPS_WORKER_START", "spawn")
        with lithops.FunctionExecutor(
            runtime=runtime or sys.executable, worker_processes=2 if runtime else 3
        ) as executor:
            yield executor


def test_a_function_that_runs_a_map_inside_itself_returns_its_results(nested):
    futures = nested.map(runs_a_map_inside, range(1, 5))
    assert nested.get_result(futures, timeout=WAIT) == [list(range(i)) for i in range(1, 5)]


def test_returned_futures_of_an_inner_map_give_their_results(nested):
    future = nested.call_async(returns_map_futures, 3)
    assert nested.get_result(future, timeout=WAIT) == [1, 2, 3]


def test_returned_futures_of_a_partial_give_their_results(nested):
    future = nested.call_async(returns_map_futures_over_a_partial, 3)
    assert nested.get_result(future, timeout=WAIT) == [0, 2, 4]


def test_a_returned_call_async_future_gives_its_value(nested):
    nested.get_result(timeout=WAIT)  # earlier tests' calls: read, so only this one is unread
    nested.call_async(returns_a_call_async_future, 3)
    assert nested.get_result(timeout=WAIT) == 9  # one result of a call_async: the value


def test_a_returned_list_of_futures_of_two_maps_gives_both_in_order(nested):
    nested.get_result(timeout=WAIT)
    nested.call_async(returns_two_maps_futures, 3)
    nested.wait(timeout=WAIT)
    assert nested.get_result(timeout=WAIT) == [1, 2, 3, 1, 2, 3]


def test_futures_returned_while_running_are_waited_for_and_arrive_finished(nested):
    future = nested.call_async(returns_pending_futures, 3)
    assert nested.get_result(future, timeout=WAIT) == [0, 10, 20]
    # Lithops: the outer future's result is the list of the inner futures
    assert future.futures
    inner = future.result()
    assert [type(f) for f in inner] == [ResponseFuture] * 3
    assert all(f.done and f.success for f in inner)
    assert [f.result() for f in inner] == [0, 10, 20]


def test_a_map_of_calls_that_return_futures_gives_all_their_results_flat(nested):
    futures = nested.map(returns_map_futures, [1, 2])
    assert nested.get_result(futures, timeout=WAIT) == [1, 1, 2]


def test_a_failed_returned_future_raises_its_error_from_get_result(nested):
    future = nested.call_async(returns_a_failing_future, 7)
    with pytest.raises(KeyError, match="inner 7"):
        nested.get_result(future, timeout=WAIT)
    assert nested.get_result(future, throw_except=False, timeout=WAIT) is None


def opens_an_executor(_):
    return lithops.FunctionExecutor().executor_id


def test_executors_opened_in_workers_have_ids_of_their_own(fx):
    # forked workers inherit the client's id counter: the ids (and the storage keys named
    # after them) must still never repeat
    ids = fx.get_result(fx.map(opens_an_executor, range(6)), timeout=WAIT)
    assert len(set(ids)) == 6 and fx.executor_id not in ids
    assert not {i.split("-")[0] for i in ids} & {fx.executor_id.split("-")[0]}


# -- 2. mapping over futures consumes their outputs ---------------------------------------------


def plus_one(x):
    return x + 1


def times_ten(x):
    return x * 10


def test_mapping_over_futures_consumes_their_outputs(fx):
    first = fx.map(plus_one, [1, 2, 3])
    fx.map(times_ten, first)
    assert fx.get_result() == [20, 30, 40]


def test_mapping_over_a_slice_consumes_only_those_futures(fx):
    first = fx.map(plus_one, [1, 2, 3])
    fx.map(times_ten, first[:1])
    assert fx.get_result() == [3, 4, 20]  # the other two still give their results


def test_futures_list_map_consumes_the_list_it_chains_from(fx):
    fx.map(plus_one, [1, 2]).map(times_ten)
    assert fx.get_result() == [20, 30]


def test_map_reduce_over_futures_consumes_them(fx):
    first = fx.map(plus_one, [1, 2, 3])
    fx.map_reduce(times_ten, first, sum)
    assert fx.get_result() == 90


# -- 3. a dict element binds by parameter name -------------------------------------------------


def d_and_args(d, *args):
    return (d, args)


def x_and_kwargs(x, **kwargs):
    return (x, kwargs)


def test_a_dict_binds_the_args_parameter_by_its_name(fx):
    fx.map(d_and_args, [{"args": (1, 2), "d": 3}, {"d": 4}])
    assert fx.get_result() == [(3, (1, 2)), (4, ())]


def test_a_dict_binds_the_kwargs_parameter_by_its_name(fx):
    fx.map(x_and_kwargs, [{"x": 1, "kwargs": {"y": 2, "z": 3}}, {"x": 4, "w": 5}])
    assert fx.get_result() == [(1, {"y": 2, "z": 3}), (4, {"w": 5})]


def doubled(f):
    def wrapper(*args, **kwargs):  # no functools.wraps: the visible signature is this one
        return 2 * f(*args, **kwargs)

    return wrapper


def doubled_with_wraps(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return 2 * f(*args, **kwargs)

    return wrapper


def total(a, b, c=0, *args, d, e=5, **kwargs):
    return sum([a, b, c, d, e, *args, *kwargs.values()])


#: Lithops' own test of the feature, with its expected results.
TOTAL_INPUTS = [
    {"a": 1, "b": 2, "d": 3},
    {"args": (1, 2), "d": 3},
    {"args": (1, 2), "d": 3, "e": 4},
    {"args": (1, 2), "d": 3, "f": 4},
    {"a": 1, "b": 2, "d": 3, "e": 6, "f": 4},
    {"args": (1, 2), "d": 3, "e": 6, "f": 4},
    {"args": (1, 2), "kwargs": {"d": 3, "e": 6, "f": 4}},
]
TOTAL_DOUBLED = [22, 22, 20, 30, 32, 32, 32]


@pytest.mark.parametrize("decorate", [doubled, doubled_with_wraps], ids=["plain", "wraps"])
def test_dicts_bind_through_a_decorator_to_the_signature_it_shows(fx, decorate):
    fx.map(decorate(total), TOTAL_INPUTS)
    assert fx.get_result() == TOTAL_DOUBLED


def test_dicts_bind_args_and_kwargs_names_of_an_undecorated_function(fx):
    fx.map(total, TOTAL_INPUTS)
    assert [2 * r for r in fx.get_result()] == TOTAL_DOUBLED


def test_a_dict_without_a_required_parameter_fails_at_submit(fx):
    with pytest.raises(ValueError, match="does not fit"):  # Lithops raises ValueError
        fx.map(x_and_kwargs, [{"kwargs": {"y": 2}}])


def id_then_value(id, x):
    return (id, x)


def storage_id_then_values(storage, id, x, y=0):
    return (id, x, y, type(storage).__name__)


def test_positional_inputs_skip_the_parameters_lithops_fills_in(fx):
    fx.map(id_then_value, [5, 6])
    assert fx.get_result() == [(0, 5), (1, 6)]
    fx.map(storage_id_then_values, [(5, 1), 6])
    assert fx.get_result() == [(0, 5, 1, "Storage"), (1, 6, 0, "Storage")]


# -- 4. map_reduce returns the map futures followed by the reducers ----------------------------


def slow_plus_one(x):
    time.sleep(0.3)
    return x + 1


def add_up(results):
    return sum(results)


def two_arguments(results, required):
    return results


def test_map_reduce_returns_the_map_futures_followed_by_the_reducer(fx):
    fs = fx.map_reduce(slow_plus_one, [1, 2, 3], add_up)
    assert len(fs) == 4  # at once, while the map still runs
    assert all(isinstance(f, ResponseFuture) for f in fs)
    assert [f.job_id[0] for f in fs] == ["M", "M", "M", "R"]
    assert fs[-1].function_name == "add_up"
    assert fs[-1].result(timeout=WAIT) == 9
    assert fx.get_result(fs) == 9  # as in Lithops: the reducer's value, not the map's
    assert fs.get_result() == 9
    assert lithops.get_result(fs) == [9]
    assert fx.get_result() == 9


def test_map_reduce_by_key_returns_one_reducer_future_per_object(fx, tmp_path):
    for name, lines in (("a.txt", 3), ("b.txt", 5)):
        (tmp_path / name).write_text("x\n" * lines)

    def count(obj):
        return len(obj.data_stream.read().splitlines())

    fs = fx.map_reduce(count, str(tmp_path), add_up, obj_chunk_number=2, obj_reduce_by_key=True)
    assert len(fs) == 4 + 2
    assert [f.job_id[0] for f in fs] == ["M"] * 4 + ["R"] * 2
    assert fx.get_result(fs) == [3, 5]


def test_a_reducer_that_cannot_start_fails_its_future_with_the_real_error(fx):
    fs = fx.map_reduce(plus_one, [1, 2], two_arguments)
    with pytest.raises(InputMismatchError, match="required"):
        fs[-1].result(timeout=WAIT)


def test_a_reducer_cancelled_before_the_map_ends_never_runs(fx):
    fs = fx.map_reduce(slow_plus_one, [1], add_up)
    assert fs[-1].cancel()
    done, not_done = fx.wait(fs, throw_except=False, timeout=WAIT)
    assert len(done) == 2 and not not_done
    assert fs[-1].cancelled() and fs[0].success
    assert "worker_start_tstamp" not in fs[-1].stats  # no worker ever ran it


# -- 5. a list of URLs for an ``obj`` function -----------------------------------------------


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory and honours ``Range: bytes=a-b`` (as object stores and CDNs do)."""

    def log_message(self, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self) -> None:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if match is None:
            super().do_GET()
            return
        data = Path(self.translate_path(self.path)).read_bytes()
        lo = int(match.group(1))
        hi = min(int(match.group(2) or len(data) - 1), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(data)}")
        self.send_header("Content-Length", str(hi - lo + 1))
        self.end_headers()
        self.wfile.write(data[lo : hi + 1])


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server: no range support."""

    def log_message(self, *args: Any) -> None:
        pass


FILES = {
    "one.csv": "".join(f"one,{i}\n" for i in range(200)),
    "two.csv": "".join(f"two,{i}\n" for i in range(120)),
}


def _serve(handler: type, root: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for name, text in FILES.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def ranged_urls(site: Path) -> Iterator[list[str]]:
    for base in _serve(RangeHandler, site):
        yield [f"{base}/{name}" for name in FILES]


@pytest.fixture(scope="module")
def plain_urls(site: Path) -> Iterator[list[str]]:
    for base in _serve(PlainHandler, site):
        yield [f"{base}/{name}" for name in FILES]


def read_chunk(obj, id):
    return (id, obj.url.rsplit("/", 1)[1], obj.part, obj.data_stream.read().decode())


def id_first_read_chunk(id, obj):
    return read_chunk(obj, id)


def _by_url(results):
    texts: dict[str, list[str]] = {}
    for _, name, _, text in results:
        texts.setdefault(name, []).append(text)
    return {name: "".join(parts) for name, parts in texts.items()}


@pytest.mark.parametrize("func", [read_chunk, id_first_read_chunk], ids=["obj_id", "id_obj"])
def test_a_list_of_urls_is_partitioned_per_url_with_obj_chunk_number(fx, ranged_urls, func):
    fx.map(func, ranged_urls, obj_chunk_number=3)
    results = fx.get_result()
    assert [(i, name, part) for i, name, part, _ in results] == [
        (0, "one.csv", 1),
        (1, "one.csv", 2),
        (2, "one.csv", 3),
        (3, "two.csv", 1),
        (4, "two.csv", 2),
        (5, "two.csv", 3),
    ]
    assert _by_url(results) == FILES  # every line in exactly one chunk, whole


def test_obj_chunk_size_applies_to_each_url(fx, ranged_urls):
    fx.map(read_chunk, ranged_urls, obj_chunk_size=500)
    results = fx.get_result()
    sizes = {name: len(text.encode()) for name, text in FILES.items()}
    parts = {name: -(-size // 500) for name, size in sizes.items()}
    assert [name for _, name, _, _ in results] == [n for n in FILES for _ in range(parts[n])]
    assert [i for i, *_ in results] == list(range(len(results)))
    assert _by_url(results) == FILES


def test_a_map_reduce_over_urls_reduces_every_chunk(fx, ranged_urls):
    def lines(obj):
        return len(obj.data_stream.read().splitlines())

    fs = fx.map_reduce(lines, ranged_urls, add_up, obj_chunk_number=2, obj_reduce_by_key=True)
    assert len(fs) == 2 * 2 + 2
    assert fx.get_result(fs) == [200, 120]


def test_urls_of_a_server_without_range_requests_are_one_chunk_each(fx, plain_urls):
    # documented by Lithops: without range support each URL is processed as one object
    fx.map(read_chunk, plain_urls, obj_chunk_number=3)
    results = fx.get_result()
    assert [(i, name, part) for i, name, part, _ in results] == [
        (0, "one.csv", 1),
        (1, "two.csv", 1),
    ]
    assert _by_url(results) == FILES
