"""``FunctionExecutor.map`` as Lithops 3.x documents it, on the localhost backend.

Every input form iterates, every kind of callable runs, results keep input order and ``None``,
and options (``chunksize``, ``extra_args``, ``extra_env``, ``timeout``...) do what they say.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import Counter

import pytest

import lithops
from lithops.errors import CallTimeoutError, RemoteTraceback
from lithops.logs import read_logs

# -- functions the tests map (module level: shipped to the workers by value) ------------------


def double(x):
    return x * 2


def add(x, y):
    return x + y


def add3(x, y, z=0):
    return x + y + z


def variadic(*args, **kwargs):
    return [list(args), dict(sorted(kwargs.items()))]


def none_for_odd(x):
    return None if x % 2 else x


def read_env(x):
    return os.environ.get("LITHOPS_TEST_VAR"), x


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def with_id(x, id):
    return (x, id)


def put_and_get(key, storage):
    assert isinstance(storage, lithops.Storage), type(storage)
    storage.put_object(storage.bucket, key, f"value of {key}".encode())
    return storage.get_object(storage.bucket, key).decode()


class Multiplier:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, x):
        return x * self.factor


class WorkerValueError(ValueError):
    pass


def failing_function(x):
    print(f"about to fail on {x}")
    raise WorkerValueError(f"bad input {x}")


class TwoArgError(Exception):
    """An exception whose ``__init__`` does not take its ``args`` back (plain pickle fails)."""

    def __init__(self, code, reason):
        super().__init__(f"{code}: {reason}")
        self.code = code


class LockedError(Exception):
    """An exception carrying something that cannot be pickled."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


def raise_two_arg(x):
    raise TwoArgError(x, "broken")


def raise_locked(x):
    raise LockedError(f"locked {x}")


def pid_of(_):
    return os.getpid()


# -- executors ---------------------------------------------------------------------------------


def test_function_executor_defaults_to_localhost_with_documented_attributes(fexec):
    assert fexec.mode == "localhost"
    assert fexec.backend == "localhost"
    assert isinstance(fexec.executor_id, str) and fexec.executor_id
    assert fexec.config["lithops"]["backend"] == "localhost"
    assert fexec.storage.backend == "localhost"
    before = len(fexec.futures)
    fs = fexec.map(double, [1, 2])
    assert fexec.futures[before:] == list(fs)


def test_executor_ids_differ_between_executors(home):
    with lithops.FunctionExecutor() as a, lithops.FunctionExecutor() as b:
        assert a.executor_id != b.executor_id


def test_localhost_executor_and_explicit_arguments_run_a_map(home):
    with lithops.LocalhostExecutor() as fx:
        assert fx.get_result(fx.map(double, [1, 2, 3])) == [2, 4, 6]
    with lithops.FunctionExecutor(
        mode="localhost",
        backend="localhost",
        storage="localhost",
        log_level="INFO",
        worker_processes=2,
    ) as fx:
        assert fx.config["localhost"]["worker_processes"] == 2
        assert fx.map(double, [5]).get_result() == [10]


def test_config_dict_is_used_as_the_config(home, tmp_path):
    config = {
        "lithops": {"backend": "localhost", "storage": "localhost"},
        "localhost": {"worker_processes": 2, "storage_root": str(tmp_path / "st")},
    }
    with lithops.FunctionExecutor(config=config) as fx:
        assert fx.config["localhost"]["worker_processes"] == 2
        fx.storage.put_object(fx.storage.bucket, "k", b"v")
        assert (tmp_path / "st" / fx.storage.bucket / "k").read_bytes() == b"v"
        assert fx.call_async(double, 21).result() == 42


def test_context_manager_closes_the_executor(home):
    with lithops.FunctionExecutor() as fx:
        fx.map(double, [1])
    with pytest.raises(RuntimeError, match="closed"):
        fx.map(double, [1])


# -- iterdata forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iterdata",
    [
        [1, 2, 3],
        (1, 2, 3),
        range(1, 4),
        (x for x in [1, 2, 3]),
    ],
    ids=["list", "tuple", "range", "generator"],
)
def test_every_iterable_gives_one_call_per_element(fexec, iterdata):
    assert fexec.map(double, iterdata).get_result() == [2, 4, 6]


def test_a_set_gives_one_call_per_element(fexec):
    assert sorted(fexec.map(double, {1, 2, 3}).get_result()) == [2, 4, 6]


def test_dict_elements_bind_as_keyword_arguments(fexec):
    data = [{"x": 1, "y": 10}, {"y": 20, "x": 2}]
    assert fexec.map(add, data).get_result() == [11, 22]


def test_tuple_elements_bind_as_positional_arguments(fexec):
    assert fexec.map(add, [(1, 10), (2, 20)]).get_result() == [11, 22]
    assert fexec.map(add3, [(1, 2, 3), (1, 2)]).get_result() == [6, 3]


def test_list_elements_are_one_argument(fexec):
    assert fexec.map(sum, [[1, 2], [3, 4, 5]]).get_result() == [3, 12]


def test_strings_are_single_inputs(fexec):
    assert fexec.map(str.upper, ["ab", "cd"]).get_result() == ["AB", "CD"]


def test_get_result_keeps_input_order_and_none_results(fexec):
    data = list(range(40))
    expected = [None if x % 2 else x for x in data]
    assert fexec.map(none_for_odd, data).get_result() == expected
    assert fexec.get_result(fexec.map(none_for_odd, [1, 3])) == [None, None]


def test_an_empty_iterdata_gives_no_calls(fexec):
    fs = fexec.map(double, [])
    assert list(fs) == []
    assert fexec.get_result(fs) == []


# -- kinds of functions ------------------------------------------------------------------------


def test_lambdas_closures_partials_instances_and_builtins_run(fexec):
    offset = 100

    def closure(x):
        return x + offset

    assert fexec.map(lambda x: x - 1, [1, 2]).get_result() == [0, 1]
    assert fexec.map(closure, [1, 2]).get_result() == [101, 102]
    assert fexec.map(functools.partial(add, y=5), [1, 2]).get_result() == [6, 7]
    assert fexec.map(functools.partial(add, 5), [1, 2]).get_result() == [6, 7]
    assert fexec.map(Multiplier(3), [1, 2]).get_result() == [3, 6]
    assert fexec.map(abs, [-1, -2]).get_result() == [1, 2]


class Shifter:
    def __init__(self, n: int) -> None:
        self.n = n

    def shift(self, x):
        return x + self.n

    @staticmethod
    def negate(x):
        return -x

    @classmethod
    def named(cls, x):
        return (cls.__name__, x)


def tagged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return ("wrapped", func(*args, **kwargs))

    return wrapper


@tagged
def decorated_with_id(x, id):
    return (x, id)


def keyword_only(x, *, scale=1):
    return x * scale


def test_methods_decorated_functions_and_keyword_only_parameters(fexec):
    assert fexec.map(Shifter(5).shift, [1]).get_result() == [6]
    assert fexec.map(Shifter.negate, [1]).get_result() == [-1]
    assert fexec.map(Shifter.named, [1]).get_result() == [("Shifter", 1)]
    assert fexec.map(decorated_with_id, ["a", "b"]).get_result() == [
        ("wrapped", ("a", 0)),
        ("wrapped", ("b", 1)),
    ]
    assert fexec.map(keyword_only, [{"x": 2, "scale": 3}, 4]).get_result() == [6, 4]


def test_builtins_with_positional_only_reserved_names_are_plain_functions(fexec):
    # len(obj, /): a positional-only 'obj' is an ordinary argument, not object partitioning
    assert fexec.map(len, ["abc", [1]]).get_result() == [3, 1]
    assert fexec.map(max, [(1, 5), (7, 2)]).get_result() == [5, 7]


def test_varargs_functions_take_tuples_and_dicts(fexec):
    fs = fexec.map(variadic, [(1, 2), {"a": 1, "b": 2}, 7])
    assert fs.get_result() == [[[1, 2], {}], [[], {"a": 1, "b": 2}], [[7], {}]]


# -- options -----------------------------------------------------------------------------------


def test_extra_args_tuple_appends_positional_arguments(fexec):
    assert fexec.map(add3, [1, 2], extra_args=(10,)).get_result() == [11, 12]
    assert fexec.map(add3, [(1, 2)], extra_args=(10,)).get_result() == [13]


def test_extra_args_dict_adds_keyword_arguments(fexec):
    assert fexec.map(add3, [1, 2], extra_args={"y": 10, "z": 100}).get_result() == [111, 112]
    assert fexec.map(add3, [{"x": 1}], extra_args={"y": 2}).get_result() == [3]


def test_extra_env_is_visible_in_os_environ_of_the_function_only(fexec):
    fs = fexec.map(read_env, [1, 2], extra_env={"LITHOPS_TEST_VAR": "set"})
    assert fs.get_result() == [("set", 1), ("set", 2)]
    # a later job does not inherit it from the warm worker
    assert fexec.map(read_env, [3]).get_result() == [(None, 3)]


def test_chunksize_and_runtime_memory_are_accepted_and_results_stay_ordered(fexec):
    data = list(range(25))
    fs = fexec.map(double, data, chunksize=2, runtime_memory=512)
    assert fs.get_result() == [2 * x for x in data]
    # calls of one batch (one "invocation" in Lithops' words) were received together
    per_batch = Counter(
        (f.stats["worker_pid"], f.stats["worker_batch_received_tstamp"]) for f in fs
    )
    assert max(per_batch.values()) <= 2


def test_timeout_stops_a_call_that_runs_too_long(fexec):
    fs = fexec.map(sleepy, [0.01, 30], timeout=1)
    start = time.monotonic()
    with pytest.raises(CallTimeoutError):
        fs.get_result()
    assert time.monotonic() - start < 20
    assert fs[0].result() == 0.01
    assert fs[1].error


def test_a_helper_module_only_the_client_can_import_travels_with_the_function(
    fexec, tmp_path, monkeypatch
):
    (tmp_path / "lithops_api_helper_mod.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lithops_api_helper_mod  # type: ignore[import-not-found]

    assert fexec.map(lithops_api_helper_mod.triple, [1, 2]).get_result() == [3, 6]
    fs = fexec.map(
        lambda x: lithops_api_helper_mod.triple(x) + 1,
        [1],
        include_modules=["lithops_api_helper_mod"],
    )
    assert fs.get_result() == [4]


def test_include_and_exclude_modules_are_accepted(fexec):
    fs = fexec.map(double, [1, 2], include_modules=["json"], exclude_modules=["numpy"])
    assert fs.get_result() == [2, 4]
    assert fexec.call_async(double, 4, include_modules=[], exclude_modules=[]).result() == 8


# -- reserved parameters -----------------------------------------------------------------------


def test_id_is_the_call_index(fexec):
    assert fexec.map(with_id, ["a", "b", "c"]).get_result() == [("a", 0), ("b", 1), ("c", 2)]


def test_storage_parameter_is_a_working_lithops_storage(fexec):
    fs = fexec.map(put_and_get, ["k1", "k2"])
    assert fs.get_result() == ["value of k1", "value of k2"]
    assert fexec.storage.get_object(fexec.storage.bucket, "k2") == b"value of k2"


# -- errors ------------------------------------------------------------------------------------


def test_a_raising_function_reraises_its_type_with_the_remote_traceback(fexec):
    fs = fexec.map(failing_function, [7])
    with pytest.raises(WorkerValueError, match="bad input 7") as info:
        fs.get_result()
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "failing_function" in str(cause)
    assert "about to fail on 7" in fs[0].logs
    recorded = [line.text for line in read_logs(fs[0].job_key)]
    assert "about to fail on 7" in recorded


def test_throw_except_false_gives_none_for_failed_calls(fexec):
    fs = fexec.map(failing_function, [1])
    assert fexec.get_result(fs, throw_except=False) == [None]
    assert fs[0].error and fs[0].done


def test_exceptions_that_do_not_pickle_plainly_keep_their_type(fexec):
    with pytest.raises(TwoArgError, match="404: broken") as info:
        fexec.call_async(raise_two_arg, 404).result()
    assert info.value.code == 404
    assert isinstance(info.value.__cause__, RemoteTraceback)
    with pytest.raises(LockedError, match="locked 1") as info2:
        fexec.call_async(raise_locked, 1).result()
    assert "raise_locked" in str(info2.value.__cause__)


def test_an_input_that_does_not_fit_the_function_fails_at_submit(fexec):
    with pytest.raises(TypeError):
        fexec.map(add, [(1, 2, 3)])


# -- the warm pool -----------------------------------------------------------------------------


def test_workers_stay_warm_across_jobs(fexec):
    first = set(fexec.map(pid_of, range(8)).get_result())
    second = set(fexec.map(pid_of, range(8)).get_result())
    assert first & second


def test_lithops_keyword_names_of_the_api(fexec):
    fs = fexec.map(map_function=double, map_iterdata=[1, 2])
    assert fexec.get_result(fs=fs, throw_except=True, timeout=30) == [2, 4]
    fut = fexec.call_async(func=double, data=(3,))
    done, _ = fexec.wait(fs=[fut], return_when=lithops.wait.ALL_COMPLETED)
    assert done[0].result() == 6
    fs = fexec.map_reduce(map_function=double, map_iterdata=[1, 2], reduce_function=sum)
    assert fs.get_result() == 6
