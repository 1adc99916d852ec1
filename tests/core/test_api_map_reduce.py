"""``FunctionExecutor.map_reduce`` as Lithops 3.x documents it: one reducer over every map
result (its result returned as a value), or one reducer per object with
``obj_reduce_by_key``; ``extra_args_reduce`` and ``spawn_reducer`` accepted."""

from __future__ import annotations

import pickle
import time

import pytest

import lithops
from lithops.wait import ALWAYS


def my_map_function(x):
    return x + 7


def my_reduce_function(results):
    total = 0
    for map_result in results:
        total += map_result
    return total


def as_list(results):
    return list(results)


def reduce_with_extra(results, factor, offset=0):
    return sum(results) * factor + offset


def reduce_with_storage(results, storage):
    storage.put_object(storage.bucket, "map_reduce/total", str(sum(results)))
    return storage.get_object(storage.bucket, "map_reduce/total").decode()


def count_lines(obj):
    if obj.key == "a_slow.txt":
        time.sleep(0.5)  # the first object's reducer starts last
    return (obj.key, len(obj.data_stream.read().splitlines()))


def per_key_total(results):
    keys = {key for key, _ in results}
    return (keys.pop(), sum(n for _, n in results), len(keys))


def fails_on_three(x):
    if x == 3:
        raise ArithmeticError("three")
    return x


def test_example_from_the_lithops_docs(home):
    with lithops.FunctionExecutor() as fexec:
        fexec.map_reduce(my_map_function, [1, 2, 3, 4], my_reduce_function)
        assert fexec.get_result() == 38


def test_get_result_of_the_returned_futures_is_the_reducer_value(fexec):
    fs = fexec.map_reduce(my_map_function, range(10), my_reduce_function)
    assert fexec.get_result(fs) == sum(range(10)) + 70
    assert fs.get_result() == sum(range(10)) + 70


def test_the_reducer_gets_map_results_in_input_order_including_none(fexec):
    data = [5, 3, None, 1, 4]
    fs = fexec.map_reduce(lambda x: x, data, as_list, chunksize=2)
    assert fs.get_result() == data


def test_extra_args_reduce_tuple_and_dict(fexec):
    fs = fexec.map_reduce(my_map_function, [1, 2], reduce_with_extra, extra_args_reduce=(10,))
    assert fs.get_result() == 170
    fs = fexec.map_reduce(
        my_map_function, [1, 2], reduce_with_extra, extra_args_reduce={"factor": 1, "offset": 1}
    )
    assert fs.get_result() == 18


def test_map_options_and_spawn_reducer_are_accepted(fexec):
    fs = fexec.map_reduce(
        my_map_function,
        [1, 2, 3],
        my_reduce_function,
        extra_args=None,
        spawn_reducer=0,
        chunksize=1,
        map_runtime_memory=256,
        reduce_runtime_memory=512,
        timeout=60,
        extra_env={"X": "1"},
        include_modules=[],
        exclude_modules=[],
    )
    assert fs.get_result() == 27
    fs = fexec.map_reduce(my_map_function, [1], my_reduce_function, spawn_reducer=100)
    assert fs.get_result() == 8


def test_the_reducer_can_take_storage(fexec):
    assert fexec.map_reduce(my_map_function, [1, 2], reduce_with_storage).get_result() == "17"


def test_a_failed_map_call_fails_the_map_reduce_with_its_exception(fexec):
    fs = fexec.map_reduce(fails_on_three, [1, 2, 3], my_reduce_function)
    with pytest.raises(ArithmeticError, match="three"):
        fs.get_result()


def test_obj_reduce_by_key_gives_one_reducer_per_object_in_object_order(fexec, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a_slow.txt").write_text("".join(f"a line {i}\n" for i in range(300)))
    (data / "b_fast.txt").write_text("".join(f"b line {i}\n" for i in range(100)))
    fs = fexec.map_reduce(
        count_lines, str(data), per_key_total, obj_chunk_number=3, obj_reduce_by_key=True
    )
    assert fs.get_result() == [("a_slow.txt", 300, 0), ("b_fast.txt", 100, 0)]


def test_without_obj_reduce_by_key_one_reducer_gets_every_partition(fexec, tmp_path):
    data = tmp_path / "one"
    data.mkdir()
    (data / "x.txt").write_text("".join(f"{i}\n" for i in range(1000)))
    (data / "y.txt").write_text("".join(f"{i}\n" for i in range(10)))
    fs = fexec.map_reduce(
        count_lines, str(data) + "/", lambda rs: sum(n for _, n in rs), obj_chunk_size=500
    )
    assert fs.get_result() == 1010


def test_a_map_reduce_result_chains_into_a_map(fexec):
    fs = fexec.map_reduce(my_map_function, [1, 2], my_reduce_function)
    assert fs.map(my_map_function).get_result() == [24]
    fs = fexec.map_reduce(my_map_function, [1, 2], my_reduce_function)
    assert fs.map_reduce(my_map_function, my_reduce_function).get_result() == 24


def test_wait_on_a_map_reduce_includes_its_reducer(fexec):
    fs = fexec.map_reduce(my_map_function, [1, 2, 3], my_reduce_function)
    done, not_done = fexec.wait(fs)
    assert len(done) == 4 and not not_done
    assert fexec.get_result(fs) == 27


def test_a_pickled_map_reduce_result_still_gives_the_reduce_result(fexec):
    fs = fexec.map_reduce(my_map_function, [1, 2, 3], my_reduce_function)
    fexec.wait(fs)
    copy = pickle.loads(pickle.dumps(fs))
    assert lithops.get_result(copy) == [27]


def test_module_level_wait_and_get_result_of_a_map_reduce(fexec):
    fs = fexec.map_reduce(my_map_function, [1, 2, 3], my_reduce_function)
    assert lithops.get_result(fs) == [27]  # module level: a list, as in Lithops
    done, not_done = lithops.wait(fs)
    assert len(done) == 4 and not not_done


def slow_map(x):
    time.sleep(1.0)
    return x


def slow_reduce(results):
    time.sleep(3.0)
    return sum(results)


# One deadline for the map and the reduce: with timeout=1.5 the wait ends at ~1.5 s; waiting
# for the map (1 s) and then a full timeout for the reduce would end at ~2.5 s.


def test_get_result_timeout_covers_the_map_and_the_reduce(fexec):
    fs = fexec.map_reduce(slow_map, [1], slow_reduce)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        fexec.get_result(fs, timeout=1.5)
    assert time.monotonic() - start < 2.2
    for reducer in fexec.wait(fs, return_when=ALWAYS)[1]:
        reducer.cancel()


def test_wait_timeout_covers_the_map_and_the_reduce(fexec):
    fs = fexec.map_reduce(slow_map, [1], slow_reduce)
    start = time.monotonic()
    _, not_done = fexec.wait(fs, timeout=1.5)
    assert time.monotonic() - start < 2.2
    assert not_done  # the reducer is still running
    for reducer in not_done:
        reducer.cancel()
