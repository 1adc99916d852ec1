"""Waiting, results and futures as Lithops 3.x documents them: ``wait`` and its options,
``get_result``, module-level ``lithops.wait``/``lithops.get_result``, ``FuturesList`` chaining,
pickled futures and ``clean``."""

from __future__ import annotations

import concurrent.futures
import pickle
import subprocess
import sys
import time

import pytest

import lithops
from lithops.future import ResponseFuture
from lithops.futures_list import FuturesList
from lithops.wait import ALL_COMPLETED, ALWAYS, ANY_COMPLETED


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def inc(x):
    return x + 1


def double(x):
    return x * 2


def total(results):
    return sum(results)


def fail_on_two(x):
    if x == 2:
        raise KeyError(f"no {x}")
    return x


# -- wait --------------------------------------------------------------------------------------


def test_wait_constants_are_importable_from_lithops_wait():
    assert len({ALL_COMPLETED, ANY_COMPLETED, ALWAYS}) == 3


def test_wait_all_completed_returns_done_and_not_done_lists(fexec):
    fs = fexec.map(sleepy, [0.05, 0.1])
    done, not_done = fexec.wait(fs)
    assert list(done) == list(fs) and list(not_done) == []
    assert all(f.done and f.success for f in done)


def test_executor_wait_returns_futures_lists(fexec):
    done, not_done = fexec.wait(fexec.map(inc, [1, 2]))
    assert isinstance(done, FuturesList) and isinstance(not_done, FuturesList)
    assert done.get_result() == [2, 3]


def test_wait_any_completed_returns_when_the_first_call_is_done(fexec):
    fs = fexec.map(sleepy, [0.01, 10])
    start = time.monotonic()
    done, not_done = fexec.wait(fs, return_when=ANY_COMPLETED, show_progressbar=False)
    assert time.monotonic() - start < 8
    assert fs[0] in done and fs[1] in not_done
    assert fs[1].cancel()  # do not leave a running call to the next test
    assert fs[1].cancelled()
    assert fexec.get_result(fs, throw_except=False) == [0.01, None]


def test_wait_return_when_a_percentage_waits_for_that_share_of_calls(fexec):
    # Lithops: return_when is the percentage of done futures (ANY_COMPLETED/ALWAYS aside)
    fs = fexec.map(sleepy, [0.01, 0.05, 2, 2])
    start = time.monotonic()
    done, not_done = fexec.wait(fs, return_when=50, show_progressbar=False)
    assert time.monotonic() - start < 1.8
    assert len(done) >= 2 and fs[0] in done and fs[1] in done
    assert len(done) + len(not_done) == 4
    assert fexec.get_result(fs) == [0.01, 0.05, 2, 2]


def test_wait_always_returns_at_once(fexec):
    fs = fexec.map(sleepy, [0.5])
    start = time.monotonic()
    done, not_done = fexec.wait(fs, return_when=ALWAYS)
    assert time.monotonic() - start < 0.4
    assert list(not_done) == list(fs) and list(done) == []
    assert fexec.get_result(fs) == [0.5]


def test_wait_timeout_returns_what_is_done_so_far(fexec):
    fs = fexec.map(sleepy, [0.01, 1.5])
    start = time.monotonic()
    done, not_done = fexec.wait(fs, timeout=0.7, wait_dur_sec=0.1, threadpool_size=4)
    assert time.monotonic() - start < 1.4
    assert list(done) == [fs[0]] and list(not_done) == [fs[1]]
    assert fexec.get_result(fs) == [0.01, 1.5]


def test_wait_accepts_download_results_and_show_progressbar(fexec):
    fs = fexec.map(inc, [1, 2])
    done, _ = fexec.wait(fs, download_results=True, show_progressbar=True)
    assert [f.result() for f in done] == [2, 3]


def test_wait_throw_except_raises_the_first_failure_or_not(fexec):
    fs = fexec.map(fail_on_two, [1, 2, 3])
    with pytest.raises(KeyError):
        fexec.wait(fs)
    done, not_done = fexec.wait(fs, throw_except=False)
    assert len(done) == 3 and not not_done
    assert [f.error for f in fs] == [False, True, False]


def test_wait_without_futures_waits_for_every_call_of_the_executor(home):
    with lithops.FunctionExecutor() as fx:
        fx.map(sleepy, [0.05])
        fx.call_async(sleepy, 0.1)
        done, not_done = fx.wait()
        assert len(done) == 2 and not not_done


# -- get_result --------------------------------------------------------------------------------


def test_get_result_without_futures_returns_unread_results_once(home):
    with lithops.FunctionExecutor() as fx:
        fx.map(inc, [1, 2, 3])
        assert fx.get_result() == [2, 3, 4]
        fx.map(inc, [10])
        assert fx.get_result() == [11]  # a map's single result stays a list
        fx.call_async(inc, 20)
        assert fx.get_result() == 21  # call_async's single result is the value


def test_get_result_of_a_single_future_is_its_value(fexec):
    fut = fexec.call_async(inc, 1)
    assert fexec.get_result(fut) == 2
    assert fexec.get_result([fut]) == [2]


def test_get_result_timeout_raises_and_the_results_are_not_lost(fexec):
    fs = fexec.map(sleepy, [1])
    with pytest.raises(concurrent.futures.TimeoutError):
        fexec.get_result(fs, timeout=0.3)
    assert fexec.get_result(fs) == [1]


def test_module_level_wait_and_get_result(fexec):
    fs = fexec.map(inc, [1, 2])
    done, not_done = lithops.wait(fs, return_when=ALL_COMPLETED)
    assert len(done) == 2 and not not_done
    assert lithops.get_result(fs) == [2, 3]
    assert lithops.get_result(fs, throw_except=False, timeout=10, show_progressbar=False) == [2, 3]


def test_module_level_get_result_across_two_executors(home):
    with lithops.FunctionExecutor() as a, lithops.FunctionExecutor() as b:
        fs = a.map(inc, [1]) + b.map(double, [5])
        assert lithops.get_result(fs) == [2, 10]
        done, _ = lithops.wait(fs)
        assert len(done) == 2


# -- futures -----------------------------------------------------------------------------------


def test_future_state_properties_and_concurrent_futures_compatibility(fexec):
    fut = fexec.call_async(sleepy, 0.01)
    assert fut.result() == 0.01
    assert fut.done and fut.done() and fut.success and fut.ready and not fut.error
    assert isinstance(fut, concurrent.futures.Future)
    done, _ = concurrent.futures.wait([fut])
    assert fut in done
    assert fut.stats["worker_func_exec_time"] >= 0
    for name in ("host_submit_tstamp", "worker_start_tstamp", "worker_end_tstamp"):
        assert name in fut.stats


def test_map_returns_a_futures_list_of_response_futures(fexec):
    fs = fexec.map(inc, [1, 2])
    assert isinstance(fs, FuturesList) and isinstance(fs, list)
    assert all(isinstance(f, ResponseFuture) for f in fs)
    fs.wait()


# -- FuturesList chaining ------------------------------------------------------------------------


def test_futures_list_map_chains_a_job_over_the_results(fexec):
    fs = fexec.map(inc, [1, 2, 3])
    chained = fs.map(double)
    assert chained.get_result() == [4, 6, 8]


def test_futures_list_chain_reads_like_lithops(fexec):
    assert fexec.map(inc, [1, 2]).map(double).map(inc).get_result() == [5, 7]


def pair_a(x):
    return x * 2, 5


def sum_b(x, y):
    return x + y


def pair_c(x):
    return x + 2, 5


def triple_d(x, y):
    return x + y, 5, 2


def sum_e(x, y, z):
    return x + y + z


def test_function_chaining_examples_from_the_lithops_docs(fexec):
    # a tuple result feeds the next function's positional parameters
    assert fexec.map(pair_a, [1, 2, 3]).map(sum_b).get_result() == [7, 9, 11]
    fs = fexec.map(pair_c, [1, 2, 3]).map(triple_d).map(sum_e)
    assert fs.get_result() == [15, 16, 17]
    # passing the futures as iterdata has the same effect
    assert fexec.map(sum_b, fexec.map(pair_a, [1, 2, 3])).get_result() == [7, 9, 11]


def as_kwargs(x):
    return {"x": x, "y": 100}


def test_a_dict_result_feeds_keyword_arguments_and_a_list_one_argument(fexec):
    assert fexec.map(as_kwargs, [1]).map(sum_b).get_result() == [101]
    assert fexec.map(lambda x: [x, x], [2]).map(sum).get_result() == [4]


def test_futures_list_map_reduce_chains_a_map_reduce(fexec):
    assert fexec.map(inc, [1, 2, 3]).map_reduce(double, total).get_result() == 18


def test_futures_list_wait_and_get_result(fexec):
    fs = fexec.map(inc, [1, 2])
    done, not_done = fs.wait()
    assert len(done) == 2 and not not_done
    assert fs.get_result() == [2, 3]


def test_futures_list_map_accepts_sync(fexec):
    assert fexec.map(inc, [1]).map(double, sync=True).get_result() == [4]


def test_chaining_keeps_the_list_holding_the_last_job_like_lithops(fexec):
    # Lithops: ``fs.map(g)`` returns ``fs`` itself, now holding the futures of g's job
    fs = fexec.map(inc, [1, 2])
    fs.map(double)
    assert fs.get_result() == [4, 6]


def test_executor_get_result_after_a_chain_returns_the_last_job_only(home):
    with lithops.FunctionExecutor() as fx:
        fx.map(inc, [1, 2]).map(double)
        assert fx.get_result() == [4, 6]


# -- pickling ------------------------------------------------------------------------------------


def test_done_futures_pickle_with_their_outcome(fexec):
    fs = fexec.map(fail_on_two, [1, 2])
    fexec.wait(fs, throw_except=False)
    ok, failed = pickle.loads(pickle.dumps(list(fs)))
    assert ok.done and ok.success and ok.result() == 1
    assert failed.done and failed.error
    with pytest.raises(KeyError):
        failed.result()
    assert lithops.get_result([ok]) == [1]


def test_pickled_futures_list_loses_only_its_executor(fexec):
    fs = fexec.map(inc, [1, 2])
    fs.wait()
    copy = pickle.loads(pickle.dumps(fs))
    assert isinstance(copy, FuturesList)
    assert [f.result() for f in copy] == [2, 3]


def test_done_futures_can_be_waited_on_in_another_process(fexec, tmp_path):
    fs = fexec.map(inc, [1, 2, 3])
    fexec.wait(fs)
    path = tmp_path / "futures.pickle"
    path.write_bytes(pickle.dumps(list(fs)))
    code = (
        "import pickle, sys, lithops\n"
        f"fs = pickle.load(open({str(path)!r}, 'rb'))\n"
        "done, not_done = lithops.wait(fs)\n"
        "print(len(done), len(not_done), lithops.get_result(fs))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[0] == "3 0 [2, 3, 4]"


def test_a_pending_future_pickled_to_another_process_is_waited_on_there(fexec, tmp_path):
    # Results are pushed to the submitting client; a future pickled while still running is
    # handed over through storage, so the copy resolves in another process too.
    fut = fexec.call_async(sleepy, 1.0)
    fs = fexec.map(fail_on_two, [2])
    path = tmp_path / "pending.pickle"
    path.write_bytes(pickle.dumps([fut, fs[0]]))
    assert not fut.done
    code = (
        "import pickle, lithops\n"
        f"ok, failed = pickle.load(open({str(path)!r}, 'rb'))\n"
        "print(lithops.get_result([ok], timeout=30))\n"
        "try:\n"
        "    failed.result(timeout=30)\n"
        "except KeyError as exc:\n"
        "    print('KeyError', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[1.0]", "KeyError 'no 2'"]
    assert fut.result() == 1.0


# -- clean ---------------------------------------------------------------------------------------


def test_clean_accepts_lithops_arguments_and_keeps_results(fexec):
    fs = fexec.map(inc, [1])
    fs.wait()
    cobj = fexec.storage.put_cloudobject(b"temp")
    fexec.clean()
    fexec.clean(fs=fs, cs=[cobj], clean_cloudobjects=True, clean_fn=True)
    fexec.clean(force=True)
    assert fs[0].result() == 2
    assert fexec.map(inc, [5]).get_result() == [6]


def add(x, y):
    return x + y


def test_mapping_over_futures_takes_every_map_option(fexec):
    fs = fexec.map(inc, [1, 2])
    assert fexec.map(add, fs, extra_args=(10,), chunksize=1).get_result() == [12, 13]
    fs = fexec.map(inc, [1, 2])
    assert fs.map(add, extra_args={"y": 100}).get_result() == [102, 103]


def test_mapping_over_a_map_reduce_maps_over_its_result(fexec):
    fs = fexec.map_reduce(inc, [1, 2, 3], total)
    assert fexec.map(double, fs).get_result() == [18]


def test_one_executor_used_from_several_threads(fexec):
    def job(n: int) -> list[int]:
        return fexec.map(inc, range(n * 10, n * 10 + 20)).get_result()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(job, range(6)))
    assert outcomes == [[x + 1 for x in range(n * 10, n * 10 + 20)] for n in range(6)]
