"""``FunctionExecutor.call_async`` as Lithops 3.x documents it: one call, its future, its
result; ``data`` is one argument, a tuple of positional arguments or a dict of keyword ones."""

from __future__ import annotations

import os
import sys

import pytest

import lithops
from lithops.errors import RemoteTraceback
from lithops.future import ResponseFuture


def hello(name):
    return f"Hello {name}!"


def add(x, y=0):
    return x + y


def nothing():
    return "ran"


def read_env():
    return os.environ.get("CALL_ASYNC_VAR")


def with_id_and_storage(x, id, storage):
    storage.put_object(storage.bucket, f"call_async/{x}", str(id))
    return storage.get_object(storage.bucket, f"call_async/{x}").decode()


class NotFoundHere(LookupError):
    pass


def noisy_failure(x):
    print("looking for", x)
    raise NotFoundHere(x)


def test_hello_world_example_from_the_lithops_docs(fexec):
    future = fexec.call_async(hello, "World")
    assert isinstance(future, ResponseFuture)
    assert future.result() == "Hello World!"
    assert fexec.get_result() == "Hello World!"


def test_get_result_of_the_future_is_the_value(home):
    with lithops.FunctionExecutor() as fx:
        future = fx.call_async(add, 3)
        assert fx.get_result(future) == 3
        assert fx.get_result(fs=[future]) == [3]


def test_tuple_data_is_positional_and_dict_data_is_keywords(fexec):
    assert fexec.call_async(add, (1, 2)).result() == 3
    assert fexec.call_async(add, {"x": 1, "y": 5}).result() == 6
    assert fexec.call_async(sum, [1, 2, 3]).result() == 6  # a list is one argument


def test_a_function_without_parameters_takes_empty_data(fexec):
    assert fexec.call_async(nothing, ()).result() == "ran"
    assert fexec.call_async(nothing, {}).result() == "ran"


def test_options_extra_env_runtime_memory_timeout_and_modules(fexec):
    future = fexec.call_async(
        read_env,
        (),
        extra_env={"CALL_ASYNC_VAR": "yes"},
        runtime_memory=256,
        timeout=30,
        include_modules=[],
        exclude_modules=[],
    )
    assert future.result() == "yes"


def test_reserved_id_is_zero_and_storage_works(fexec):
    assert fexec.call_async(with_id_and_storage, "k").result() == "0"


def chatty(x):
    print("to stdout", x)
    print("to stderr", x, file=sys.stderr)
    return x


def test_printed_output_of_a_successful_call_is_on_its_future(fexec):
    future = fexec.call_async(chatty, 3)
    assert future.result() == 3
    assert "to stdout 3" in future.logs and "to stderr 3" in future.logs


def test_lambda_runs(fexec):
    assert fexec.call_async(lambda a, b: a * b, (6, 7)).result() == 42


def test_a_failure_reraises_its_type_with_traceback_and_output(fexec):
    future = fexec.call_async(noisy_failure, "needle")
    with pytest.raises(NotFoundHere) as info:
        fexec.get_result(future)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "noisy_failure" in str(info.value.__cause__)
    assert "looking for needle" in future.logs
    assert future.error and not future.success
    assert future.result(throw_except=False) is None
