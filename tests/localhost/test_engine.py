"""The warm pool itself: reuse, failure at start, process groups."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lithops
from lithops.errors import BackendUnavailableError, WorkerLostError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
    return tmp_path


def worker_pid(_: object) -> int:
    return os.getpid()


def start_child_then_die(path: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(path, "w") as handle:
        handle.write(str(child.pid))
    os.kill(os.getpid(), 9)


def test_workers_stay_warm_across_jobs_and_executors(home) -> None:
    with lithops.FunctionExecutor(worker_processes=2) as first:
        pids = set(first.map(worker_pid, range(20)).get_result())
        pids |= set(first.map(worker_pid, range(20)).get_result())
    with lithops.FunctionExecutor(worker_processes=2) as second:
        again = set(second.map(worker_pid, range(20)).get_result())
    assert len(pids) <= 2 and again <= pids


def test_an_environment_that_cannot_start_workers_fails_fast(home) -> None:
    started = time.monotonic()
    with lithops.FunctionExecutor(runtime="/bin/false") as fexec:
        futures = fexec.map(abs, range(5))
        with pytest.raises(BackendUnavailableError, match="before it started"):
            fexec.get_result(futures, timeout=30)
    assert time.monotonic() - started < 10
    assert all(f.done and f.error for f in futures)


def test_a_dead_worker_takes_the_processes_its_call_started_with_it(home, tmp_path) -> None:
    marker = tmp_path / "child.pid"
    with lithops.FunctionExecutor(worker_processes=1) as fexec:
        future = fexec.call_async(start_child_then_die, (str(marker),))
        with pytest.raises(WorkerLostError, match="SIGKILL"):
            future.result(timeout=30)
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break  # killed, waiting for its parent to reap it
        time.sleep(0.05)
    else:
        pytest.fail(f"process {child} started by the call survived its worker")


def test_nothing_is_left_in_temp_directories_after_the_executor_closes(home, tmp_path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = (
        "import lithops\n"
        "def shout(x):\n"
        "    print('line', x)\n"
        "    return x\n"
        "with lithops.FunctionExecutor() as fexec:\n"
        "    assert fexec.map(shout, range(20)).get_result() == list(range(20))\n"
        "    assert fexec.call_async(bytes, 5 << 20).result() == bytes(5 << 20)\n"
    )
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert list(scratch.iterdir()) == []
