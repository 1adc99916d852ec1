"""The core contract a backend builds on: wire version in every message, runtime_memory per map,
the function sent once per job, the in-flight limit, handle objects (invoke/cancel/release/cost
called directly, wrappers still around them), and the tools of ``lithops.testing.kit``.

The backends here are third-party style: installed as fake distributions with a ``lithops``
entry point (``make_distribution``), their workers are threads each with its own function cache,
fed through the real wire messages.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lithops
from lithops import wire
from lithops.errors import SerializationError, WireVersionError
from lithops.plugins.types import FunctionTracker
from lithops.testing.kit import RecordingSink, build_batch, installed_distribution
from lithops.worker import FunctionCache, OutputCapture, run_batch

#: A new-style backend: its handle is a BackendHandle; ``workers`` threads, each a worker
#: with its own FunctionCache that gets a job's function only through a ``function`` message.
OBJECTS = """
import queue, threading, time
from lithops import wire
from lithops.plugins import hookimpl
from lithops.plugins.types import BackendHandle, BackendInfo, BackendKind, FunctionTracker
from lithops.worker import FunctionCache, OutputCapture, run_batch

SEEN = {"batches": [], "functions": 0, "cancelled": [], "released": [], "held": 0, "most": 0}
LOCK = threading.Lock()


class ObjectHandle(BackendHandle):
    backend = "objects"

    def __init__(self, request):
        section = request.config.get("objects") or {}
        self.events = request.events
        self.hold = float(section.get("hold") or 0)
        self.forget = bool(section.get("forget_function"))
        self.capacity = 3
        self.inbox = queue.Queue()
        for _ in range(self.capacity):
            threading.Thread(target=self.worker, daemon=True).start()

    def invoke(self, batch):
        with LOCK:
            SEEN["batches"].append(batch)
            SEEN["held"] += 1
            SEEN["most"] = max(SEEN["most"], SEEN["held"])
        self.inbox.put(batch)

    def worker(self):
        cache, tracker = FunctionCache(), FunctionTracker()
        while True:
            batch = self.inbox.get()
            if tracker.needs(batch) and not self.forget:
                message = wire.decode(batch.function_message())
                cache.put(message["func_key"], message["func"])
                with LOCK:
                    SEEN["functions"] += 1
            self.events.running(batch.calls[0], time.time(), "thread")
            time.sleep(self.hold)
            records = []
            run_batch(wire.decode(batch.message), records.append, cache, OutputCapture(None))
            with LOCK:
                SEEN["held"] -= 1
            self.events.results(records)

    def cancel(self, keys):
        SEEN["cancelled"].extend(keys)

    def release(self, dismantle):
        SEEN["released"].append(dismantle)

    def cost(self, usage):
        return 0.25 * usage.calls


@hookimpl
def lithops_register_backends(register):
    register(BackendInfo(
        name="objects", kind=BackendKind.COMPUTE, mode="serverless",
        capabilities=frozenset({"running", "function_once"}), ack_timeout=1.0,
        config_keys={"hold": "seconds each batch takes", "forget_function": "a buggy backend"},
    ))


@hookimpl
def lithops_provision(request):
    return ObjectHandle(request) if request.backend == "objects" else None
"""

#: An old-style plugin, asked first, that answers nothing but records which handles it saw.
NOSY = """
from lithops.plugins import hookimpl

ASKED = []


@hookimpl(tryfirst=True)
def lithops_invoke(handle, batch):
    ASKED.append(("invoke", type(handle).__name__))
    return None


@hookimpl(tryfirst=True)
def lithops_cancel(handle, keys):
    ASKED.append(("cancel", type(handle).__name__))
    return None


@hookimpl(tryfirst=True)
def lithops_release(handle, dismantle):
    ASKED.append(("release", type(handle).__name__))
    return None
"""


@pytest.fixture
def objects(make_distribution: Callable[[str, str, str], Path], lithops_home: Path) -> Any:
    make_distribution("lithops-objects", "lithops_objects", OBJECTS)
    import lithops_objects

    return lithops_objects


def _config(**section: Any) -> dict[str, Any]:
    return {"lithops": {"backend": "objects", "mode": "serverless"}, "objects": section}


def square(x: int) -> int:
    return x * x


# -- wire version --------------------------------------------------------------------------------


def test_every_batch_message_carries_the_wire_version(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config()) as fexec:
        assert fexec.map(square, [1, 2, 3]).get_result(timeout=30) == [1, 4, 9]
    for batch in objects.SEEN["batches"]:
        assert tuple(wire.decode(batch.message)["wire"]) == wire.WIRE_VERSION


def test_every_results_message_of_a_worker_carries_the_wire_version() -> None:
    # a real worker process, on its stdin/stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "lithops.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        hello = wire.read_message(proc.stdout)
        assert hello is not None and tuple(hello["wire"]) == wire.WIRE_VERSION
        batch = build_batch(square, [3, 4], function_once=True)
        wire.write_frame(proc.stdin, batch.function_message())
        wire.write_frame(proc.stdin, batch.message)
        proc.stdin.flush()
        records = []
        while len(records) < 2:
            message = wire.read_message(proc.stdout)
            assert message is not None
            if message["t"] == "results":
                assert tuple(message["wire"]) == wire.WIRE_VERSION
                records += message["records"]
        assert [r["ok"] for r in records] == [True, True]
    finally:
        proc.kill()
        proc.wait()


def test_a_batch_of_another_wire_major_fails_every_call_with_what_to_do() -> None:
    batch = build_batch(square, [1, 2], wire_version=(wire.WIRE_VERSION[0] + 1, 0))
    records: list[dict[str, Any]] = []
    run_batch(wire.decode(batch.message), records.append, FunctionCache(), OutputCapture(None))
    assert len(records) == 2 and not any(r["ok"] for r in records)
    assert {r["exc_type"] for r in records} == {"lithops.errors.WireVersionError"}
    assert "different lithops major versions" in records[0]["exc_msg"]
    assert "lithops runtime delete" in records[0]["exc_msg"]


@pytest.mark.parametrize("version", [(wire.WIRE_VERSION[0], 0), (wire.WIRE_VERSION[0], 99)])
def test_batches_of_another_minor_version_run(version: tuple[int, int]) -> None:
    batch = build_batch(square, [5], wire_version=version)
    records: list[dict[str, Any]] = []
    run_batch(wire.decode(batch.message), records.append, FunctionCache(), OutputCapture(None))
    assert records[0]["ok"]


def test_a_batch_of_a_client_that_sent_no_wire_version_runs() -> None:
    # lithops 1.0 wire clients did not stamp batches
    message = wire.decode(build_batch(square, [5]).message)
    del message["wire"]
    records: list[dict[str, Any]] = []
    run_batch(message, records.append, FunctionCache(), OutputCapture(None))
    assert records[0]["ok"]


# -- runtime_memory ----------------------------------------------------------------------------


def test_runtime_memory_of_each_map_reaches_the_backend(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config()) as fexec:
        fexec.map(square, [1], runtime_memory=512).get_result(timeout=30)
        fexec.map(square, [2]).get_result(timeout=30)
        fexec.call_async(square, (3,), runtime_memory=1024).result(timeout=30)
    memories = [b.runtime_memory for b in objects.SEEN["batches"]]
    assert memories == [512, None, 1024]
    assert wire.decode(objects.SEEN["batches"][0].message)["runtime_memory"] == 512


def test_map_reduce_sends_each_phase_with_its_own_memory(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config()) as fexec:
        fexec.map_reduce(
            square, [1, 2], sum, map_runtime_memory=256, reduce_runtime_memory=2048
        ).get_result(timeout=30)
    by_job = {b.job_key.rsplit("/", 1)[-1][0]: b.runtime_memory for b in objects.SEEN["batches"]}
    assert by_job == {"M": 256, "R": 2048}


# -- the function, once per job ----------------------------------------------------------------


def test_the_function_goes_once_to_each_worker_not_in_every_batch(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config()) as fexec:
        result = fexec.map(square, range(30), chunksize=1).get_result(timeout=30)
    assert result == [x * x for x in range(30)]
    batches = objects.SEEN["batches"]
    assert len(batches) == 30
    assert all(wire.decode(b.message)["func"] is None for b in batches)
    assert all(b.function is not None for b in batches)
    # one per worker that ran something, at most: three workers
    assert 1 <= objects.SEEN["functions"] <= 3


def test_a_worker_that_never_got_the_function_fails_the_calls_clearly(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config(forget_function=True)) as fexec:
        futures = fexec.map(square, [1, 2])
        began = time.monotonic()
        _, not_done = fexec.wait(futures, throw_except=False, timeout=30)
        assert time.monotonic() - began < 15 and not not_done  # no hang: failed at once
        for f in futures:
            with pytest.raises(SerializationError, match="function_once"):
                f.result()


def test_a_function_tracker_mirrors_the_workers_cache() -> None:
    # 20 jobs through one worker whose cache holds 16: the tracker re-sends exactly the
    # functions the worker dropped, so every batch finds its function.
    cache, tracker = FunctionCache(), FunctionTracker()
    sent = 0
    for round_ in range(2):
        for n in range(20):
            batch = build_batch(
                eval(f"lambda x: x + {n}"), [round_], job_key=f"t-0/M{n:03d}", function_once=True
            )
            if tracker.needs(batch):
                sent += 1
                message = wire.decode(batch.function_message())
                cache.put(message["func_key"], message["func"])
            records: list[dict[str, Any]] = []
            run_batch(wire.decode(batch.message), records.append, cache, OutputCapture(None))
            assert records[0]["ok"], records[0].get("exc_msg")
    assert sent == 40  # LRU of 16 cycled by 20: each use comes after its eviction


# -- the in-flight limit -------------------------------------------------------------------------


def test_max_workers_caps_the_batches_with_the_backend(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config(hold=0.3, max_workers=2)) as fexec:
        result = fexec.map(square, range(8), chunksize=1).get_result(timeout=60)
    assert result == [x * x for x in range(8)]
    assert objects.SEEN["most"] == 2


def test_queued_batches_keep_no_acknowledge_clock(objects: Any) -> None:
    # ack_timeout is 1 s; each batch takes 0.6 s and only one is with the backend at a time,
    # so the last ones wait ~5 s in the scheduler: none may be declared lost for it.
    with lithops.FunctionExecutor(config=_config(hold=0.6, max_workers=1)) as fexec:
        result = fexec.map(square, range(9), chunksize=1).get_result(timeout=60)
    assert result == [x * x for x in range(9)]
    assert objects.SEEN["most"] == 1


def test_lithops_workers_caps_them_when_the_section_sets_no_max_workers(objects: Any) -> None:
    config = _config(hold=0.3)
    config["lithops"]["workers"] = 1
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.map(square, range(4), chunksize=1).get_result(timeout=60) == [0, 1, 4, 9]
    assert objects.SEEN["most"] == 1


def test_without_max_workers_the_backend_gets_every_batch(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config(hold=0.3)) as fexec:
        fexec.map(square, range(6), chunksize=1).get_result(timeout=60)
    assert objects.SEEN["most"] > 2


def test_cancelled_queued_calls_never_reach_the_backend(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config(hold=0.5, max_workers=1)) as fexec:
        futures = fexec.map(square, range(6), chunksize=1)
        for f in futures[2:]:
            f.cancel()
        fexec.wait(futures, throw_except=False, timeout=30)
        assert all(f.done for f in futures)
        assert [f.result() for f in futures[:2]] == [0, 1]
    sent = {c for b in objects.SEEN["batches"] for _, c in b.calls}
    assert sent <= {"00000", "00001", "00002"}  # the third may have been on its way


# -- handles as objects --------------------------------------------------------------------------


def test_handle_methods_are_called_directly_and_no_hook_is_asked(
    objects: Any, make_distribution: Callable[[str, str, str], Path]
) -> None:
    make_distribution("lithops-nosy", "lithops_nosy", NOSY)
    import lithops_nosy

    with lithops.FunctionExecutor(config=_config(hold=5)) as fexec:
        future = fexec.call_async(square, (4,))
        deadline = time.monotonic() + 10
        while not future.running and time.monotonic() < deadline:
            time.sleep(0.02)
        future.cancel()
    assert objects.SEEN["cancelled"] == [future.key]
    assert objects.SEEN["released"] == [False]
    assert lithops_nosy.ASKED == []
    # the core's timing wrapper still ran around the direct invoke
    assert "host_invoke_time" in objects.SEEN["batches"][0].extra


def test_the_handle_cost_fills_the_job_summary(objects: Any) -> None:
    with lithops.FunctionExecutor(config=_config()) as fexec:
        fexec.map(square, range(4)).get_result(timeout=30)
        path = fexec.job_summary()
    row = Path(path).read_text().splitlines()[1].split(",")
    assert float(row[-1]) == 1.0  # 0.25 per call


def test_old_style_handles_still_go_through_the_hooks(
    tiny_backend: Path, make_distribution: Callable[[str, str, str], Path], lithops_home: Path
) -> None:
    make_distribution("lithops-nosy", "lithops_nosy", NOSY)
    import lithops_nosy

    with lithops.FunctionExecutor(config={"lithops": {"backend": "tiny"}}) as fexec:
        assert fexec.map(square, [2, 3]).get_result(timeout=30) == [4, 9]
    assert ("invoke", "TinyHandle") in lithops_nosy.ASKED
    assert ("release", "TinyHandle") in lithops_nosy.ASKED


# -- lithops.testing.kit --------------------------------------------------------------------------


def test_kit_drives_a_backend_without_an_executor(tmp_path: Path, lithops_home: Path) -> None:
    from lithops.plugins.manager import get_plugin_host
    from lithops.plugins.types import ProvisionRequest

    with installed_distribution(tmp_path / "site", "lithops-objects", "lithops_objects", OBJECTS):
        host = get_plugin_host()
        sink = RecordingSink()
        config = _config()
        handle = host.provision(ProvisionRequest("objects", config, None, None, events=sink))
        batch = build_batch(square, [6, 7], function_once=True)
        host.invoke(handle, batch)
        records = sink.wait_for(batch.calls, timeout=30)
        host.release(handle)
        assert [r["ok"] for r in records] == [True, True]
        assert [k for k, _, _ in sink.started] == [batch.calls[0]]
        assert not sink.duplicates and not sink.losses
    with pytest.raises(TimeoutError, match="did not end"):
        RecordingSink().wait_for([("x/M000", "00000")], timeout=0.05)


def test_skew_error_type_is_the_wire_version_error() -> None:
    batch = build_batch(square, [1], wire_version=(wire.WIRE_VERSION[0] + 1, 0))
    records: list[dict[str, Any]] = []
    run_batch(wire.decode(batch.message), records.append, FunctionCache(), OutputCapture(None))
    import pickle

    assert isinstance(pickle.loads(records[0]["error"]), WireVersionError)
