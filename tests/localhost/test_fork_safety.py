"""Workers never inherit the client's threads or locks: they fork from a clean template process.

What a call may do inside a worker (open its own executor, use threads, multiprocessing with
fork and spawn, import modules), and what a worker is (not the client's child, its own session,
two pipes and nothing else).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lithops


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
    return tmp_path


def times_ten(x: int) -> int:
    return x * 10


def square(x: int) -> int:
    return x * x


def maps_on_its_own_executor(x: int) -> list[int]:
    import lithops

    with lithops.FunctionExecutor() as inner:
        return inner.get_result(inner.map(times_ten, [x, x + 1]), timeout=30)


def uses_a_thread_pool(x: int) -> list[int]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(square, range(x, x + 4)))


def uses_a_multiprocessing_pool(x: int, method: str) -> list[int]:
    import math
    import multiprocessing

    # A function multiprocessing pickles by reference (this module's own functions travel by
    # value to the worker, so the worker's copy is not the module's).
    with multiprocessing.get_context(method).Pool(2) as pool:
        return pool.map(math.factorial, range(x, x + 4))


def imports_in_threads(x: int) -> int:
    import importlib
    import threading

    names = ["json", "decimal", "fractions", "statistics", "email.parser", "xml.dom.minidom"]
    threads = [threading.Thread(target=importlib.import_module, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return x


def describe_worker(_: object) -> dict[str, object]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the directory listing's own descriptor, closed already
    parent = os.getppid()
    status = Path(f"/proc/{parent}/status").read_text()
    threads = int(
        next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1]
    )
    return {
        "pid": os.getpid(),
        "parent": parent,
        "parent_threads": threads,
        "session_leader": os.getsid(0) == os.getpid(),
        "pipes": sorted(fd for fd, target in fds.items() if fd > 2 and target.startswith("pipe:")),
        "others": sorted(target for fd, target in fds.items() if fd > 2 and "pipe:" not in target),
    }


def test_a_function_that_opens_its_own_executor_gets_its_results(home) -> None:
    with lithops.FunctionExecutor(worker_processes=2) as fexec:
        results = fexec.get_result(fexec.map(maps_on_its_own_executor, range(3)), timeout=30)
    assert results == [[0, 10], [10, 20], [20, 30]]


def test_a_function_that_uses_a_thread_pool_gets_its_results(home) -> None:
    with lithops.FunctionExecutor(worker_processes=2) as fexec:
        results = fexec.get_result(fexec.map(uses_a_thread_pool, range(4)), timeout=30)
    assert results == [[y * y for y in range(x, x + 4)] for x in range(4)]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_function_that_uses_a_multiprocessing_pool_gets_its_results(home, method) -> None:
    with lithops.FunctionExecutor(worker_processes=2) as fexec:
        futures = fexec.map(uses_a_multiprocessing_pool, [(x, method) for x in range(3)])
        results = fexec.get_result(futures, timeout=30)
    assert results == [[math.factorial(y) for y in range(x, x + 4)] for x in range(3)]


def test_a_function_that_imports_modules_from_threads_gets_its_results(home) -> None:
    with lithops.FunctionExecutor(worker_processes=2) as fexec:
        assert fexec.get_result(fexec.map(imports_in_threads, range(4)), timeout=30) == [0, 1, 2, 3]


def test_workers_fork_from_a_single_threaded_template_not_from_the_client(home) -> None:
    # A pool size no other test here uses: fresh workers, never ran a nested executor.
    with lithops.FunctionExecutor(worker_processes=3) as fexec:
        described = fexec.get_result(fexec.map(describe_worker, range(4)), timeout=30)
    for worker in described:
        assert worker["parent"] != os.getpid()
        assert worker["parent_threads"] == 1
        assert worker["session_leader"]
        # Its two pipes to the client, and nothing else of the client's or the template's.
        assert len(worker["pipes"]) == 2
        assert worker["others"] == [] or all(o.startswith("/dev/") for o in worker["others"])


def test_concurrent_futures_executor_maps_from_a_program_with_busy_threads(home, tmp_path) -> None:
    # The case that wedged: replacement workers forked while other client threads imported
    # modules and held locks. Here the client's threads import and spin during the whole map.
    program = tmp_path / "busy_client.py"
    program.write_text(
        textwrap.dedent(
            """
            import importlib, sys, threading, time
            from lithops.concurrent.futures import FunctionExecutor

            stop = threading.Event()

            def busy(n):
                names = ["json", "decimal", "fractions", "statistics", "email.parser", "csv"]
                while not stop.is_set():
                    for name in names:
                        sys.modules.pop(name, None)
                        importlib.import_module(name)

            def die_sometimes(x):
                import os
                if x % 7 == 3:
                    os._exit(1)  # the pool starts replacements while the client is busy
                return x * 2

            threads = [threading.Thread(target=busy, args=(i,), daemon=True) for i in range(3)]
            for t in threads:
                t.start()
            with FunctionExecutor(max_workers=2) as pool:
                print(list(pool.map(abs, range(-20, 0))))
                futures = [pool.submit(die_sometimes, x) for x in range(20)]
                outcomes = []
                for f in futures:
                    try:
                        outcomes.append(f.result(timeout=30))
                    except Exception as exc:
                        outcomes.append(type(exc).__name__)
                print(outcomes)
            stop.set()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == str(list(range(20, 0, -1)))
    expected = ["WorkerLostError" if x % 7 == 3 else x * 2 for x in range(20)]
    assert lines[1] == str(expected)


def test_a_process_forked_from_the_client_gets_executors_of_its_own(home, tmp_path) -> None:
    # The client's pools (and their worker template) are the client's: a fork of the client
    # (multiprocessing's fork context) has copies without threads, and must start its own.
    program = tmp_path / "forking_client.py"
    program.write_text(
        textwrap.dedent(
            """
            import multiprocessing
            import lithops

            def times_two(x):
                return 2 * x

            def in_child(n):
                with lithops.FunctionExecutor(worker_processes=1) as fexec:
                    return fexec.get_result(fexec.map(times_two, range(n)), timeout=30)

            if __name__ == "__main__":
                with lithops.FunctionExecutor(worker_processes=1) as fexec:
                    print(fexec.get_result(fexec.map(times_two, range(3)), timeout=30))
                    with multiprocessing.get_context("fork").Pool(2) as pool:
                        print(pool.map(in_child, [2, 3]))
                    print(fexec.get_result(fexec.map(times_two, range(2)), timeout=30))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=90, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["[0, 2, 4]", "[[0, 2], [0, 2, 4]]", "[0, 2]"]


def test_a_template_that_cannot_start_is_unavailable_and_says_what_to_do() -> None:
    from lithops.errors import BackendUnavailableError
    from lithops_localhost.forkserver import ForkServerLauncher

    launcher = ForkServerLauncher(python="/bin/false")
    try:
        with pytest.raises(BackendUnavailableError, match="exited with code 1") as info:
            launcher.start({})
    finally:
        launcher.close()
    assert "LITHOPS_WORKER_START=spawn" in str(info.value)
