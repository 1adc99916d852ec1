"""The public methods keep Lithops 3.x's keyword signatures (names, order, defaults): users
pass options by position and by name, and IDEs show these signatures.

The options travel below the public methods as one :class:`~lithops.options.JobOptions` or
:class:`~lithops.wait.WaitOptions`; these tests also keep those in step with the signatures.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import lithops
from lithops import FunctionExecutor, RetryingFunctionExecutor
from lithops.options import JobOptions
from lithops.wait import ALL_COMPLETED, WaitOptions

EMPTY = inspect.Parameter.empty

MAP_OPTIONS = [
    ("chunksize", None),
    ("extra_args", None),
    ("extra_env", None),
    ("runtime_memory", None),
    ("obj_chunk_size", None),
    ("obj_chunk_number", None),
    ("obj_newline", "\n"),
    ("timeout", None),
    ("include_modules", ()),
    ("exclude_modules", ()),
    ("retries", None),
    ("backups", None),
]

WAIT_OPTIONS = [
    ("throw_except", True),
    ("return_when", ALL_COMPLETED),
    ("download_results", False),
    ("timeout", None),
    ("threadpool_size", 64),
    ("wait_dur_sec", None),
    ("show_progressbar", True),
]


def parameters(func: Any) -> list[tuple[str, Any]]:
    """``(name, default)`` of each named parameter after ``self``, in order."""
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]


def test_map_keeps_the_lithops_signature_on_both_executors() -> None:
    expected = [("map_function", EMPTY), ("map_iterdata", EMPTY), *MAP_OPTIONS]
    assert parameters(FunctionExecutor.map) == expected
    # Lithops' RetryingFunctionExecutor.map takes the same options (and backups here)
    assert parameters(RetryingFunctionExecutor.map) == expected
    assert "futures in input order" in (FunctionExecutor.map.__doc__ or "")


def test_call_async_and_map_reduce_keep_the_lithops_signatures() -> None:
    assert parameters(FunctionExecutor.call_async) == [
        ("func", EMPTY),
        ("data", ()),
        ("extra_env", None),
        ("runtime_memory", None),
        ("timeout", None),
        ("include_modules", ()),
        ("exclude_modules", ()),
        ("retries", None),
    ]
    assert parameters(FunctionExecutor.map_reduce) == [
        ("map_function", EMPTY),
        ("map_iterdata", EMPTY),
        ("reduce_function", EMPTY),
        ("chunksize", None),
        ("extra_args", None),
        ("extra_args_reduce", None),
        ("extra_env", None),
        ("map_runtime_memory", None),
        ("reduce_runtime_memory", None),
        ("timeout", None),
        ("obj_chunk_size", None),
        ("obj_chunk_number", None),
        ("obj_newline", "\n"),
        ("obj_reduce_by_key", False),
        ("spawn_reducer", 20),
        ("include_modules", ()),
        ("exclude_modules", ()),
    ]


def test_wait_keeps_the_lithops_signature_on_the_function_and_the_executors() -> None:
    assert parameters(lithops.wait.wait) == [("fs", EMPTY), *WAIT_OPTIONS]
    assert parameters(FunctionExecutor.wait) == [("fs", None), *WAIT_OPTIONS]
    assert parameters(RetryingFunctionExecutor.wait) == [("fs", None), *WAIT_OPTIONS]


def test_job_options_are_the_map_options_with_their_defaults() -> None:
    fields = [(f.name, f.default) for f in dataclasses.fields(JobOptions)]
    assert fields == MAP_OPTIONS
    options = JobOptions(timeout=5, extra_env={"A": "1"})
    assert options.keywords() == {**dict(MAP_OPTIONS), "timeout": 5, "extra_env": {"A": "1"}}


def test_wait_options_are_the_wait_options_lithops_still_reads() -> None:
    fields = [(f.name, f.default) for f in dataclasses.fields(WaitOptions)]
    # threadpool_size is accepted and means nothing here (no polling threads)
    assert fields == [item for item in WAIT_OPTIONS if item[0] != "threadpool_size"]


def test_a_reducer_inherits_environment_timeout_and_modules_from_its_map() -> None:
    map_options = JobOptions(
        chunksize=3,
        extra_args=(1,),
        extra_env={"A": "1"},
        runtime_memory=512,
        obj_chunk_size=10,
        timeout=30,
        include_modules=["m"],
        exclude_modules=["n"],
        retries=2,
        backups=True,
    )
    assert map_options.for_reducer((2,), 1024) == JobOptions(
        extra_args=(2,),
        extra_env={"A": "1"},
        runtime_memory=1024,
        timeout=30,
        include_modules=["m"],
        exclude_modules=["n"],
    )
