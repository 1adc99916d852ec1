"""``lithops.multiprocessing``'s shared objects on a real redis-server, with the calls on the
localhost backend."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis_server import RedisServer

import lithops.multiprocessing as lmp
from lithops.multiprocessing import config as mp_config

HERE = Path(__file__).resolve().parent


def localhost_config(server: RedisServer) -> dict[str, Any]:
    return {
        "lithops": {"backend": "localhost", "storage": "localhost"},
        "localhost": {"worker_processes": 3, "runtime": sys.executable},
        "redis": server.section(),
    }


@pytest.fixture
def configured(redis_server: RedisServer, lithops_home: Path) -> Iterator[RedisServer]:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, localhost_config(redis_server))
    yield redis_server
    mp_config.reset()


def producer(q: Any, n: int) -> None:
    for i in range(n):
        q.put({"i": i})


def add_many(counter: Any, times: int) -> None:
    for _ in range(times):
        with counter.get_lock():
            counter.value += 1


def pinger(conn: Any) -> None:
    conn.send(("ping", os.getpid()))
    conn.send(conn.recv() * 2)


def record(args: tuple[Any, Any, Any, int]) -> int:
    shared, items, ns, k = args
    shared[k] = str(k)
    items.append(k)
    ns.last = k
    return k


def test_queue_between_caller_and_processes(configured: RedisServer) -> None:
    q = lmp.Queue()
    procs = [lmp.Process(target=producer, args=(q, 5)) for _ in range(2)]
    for p in procs:
        p.start()
    got = sorted(q.get(timeout=30)["i"] for _ in range(10))
    for p in procs:
        p.join(30)
    assert got == sorted(list(range(5)) * 2)
    assert [p.exitcode for p in procs] == [0, 0]
    with pytest.raises(queue.Empty):
        q.get(timeout=0.2)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    bounded = lmp.Queue(maxsize=1)
    bounded.put(1)
    assert bounded.full()
    with pytest.raises(queue.Full):
        bounded.put(2, timeout=0.1)


def test_value_with_its_lock_counts_every_increment(configured: RedisServer) -> None:
    counter = lmp.Value("i", 0)
    procs = [lmp.Process(target=add_many, args=(counter, 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert counter.value == 45


def test_pipe_both_ways(configured: RedisServer) -> None:
    here, there = lmp.Pipe()
    p = lmp.Process(target=pinger, args=(there,))
    p.start()
    word, pid = here.recv()
    assert word == "ping" and pid != os.getpid()
    here.send(21)
    assert here.poll(30)
    assert here.recv() == 42
    p.join(30)
    reader, writer = lmp.Pipe(duplex=False)
    writer.send_bytes(b"raw")
    assert reader.recv_bytes() == b"raw"
    with pytest.raises(OSError):
        reader.send(1)


def test_manager_objects_filled_by_pool_tasks(configured: RedisServer) -> None:
    with lmp.Manager() as manager:
        shared, items, ns = manager.dict(), manager.list(), manager.Namespace()
        with lmp.Pool(3) as pool:
            pool.map(record, [(shared, items, ns, k) for k in range(6)])
        assert dict(shared.items()) == {k: str(k) for k in range(6)}
        assert sorted(items) == list(range(6))
        assert ns.last in range(6)
        shared.update({"a": 1})
        assert shared.get("a") == 1 and "a" in shared and len(shared) == 7
        assert configured.keys() != []
    assert configured.keys() == []  # shutdown removed them


def test_synchronization_primitives(configured: RedisServer) -> None:
    sem = lmp.BoundedSemaphore(2)
    assert sem.acquire() and sem.acquire()
    assert not sem.acquire(timeout=0.1)
    sem.release()
    sem.release()
    with pytest.raises(ValueError):
        sem.release()
    lock = lmp.Lock()
    assert lock.acquire() and not lock.acquire(block=False)
    lock.release()
    rlock = lmp.RLock()
    assert rlock.acquire() and rlock.acquire()
    rlock.release()
    rlock.release()
    event = lmp.Event()
    assert not event.wait(0.1)
    threading.Timer(0.2, event.set).start()
    assert event.wait(10) and event.is_set()
    cond = lmp.Condition()
    flag = lmp.Value("i", 0)

    def notifier() -> None:
        time.sleep(0.2)
        with cond:
            flag.value = 1
            cond.notify_all()

    threading.Thread(target=notifier).start()
    with cond:
        assert cond.wait_for(lambda: flag.value == 1, timeout=10)
    barrier = lmp.Barrier(2)
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(barrier.wait(10)))
    t.start()
    out.append(barrier.wait(10))
    t.join(10)
    assert sorted(out) == [0, 1]
    jq = lmp.JoinableQueue()
    jq.put("x")
    assert jq.get() == "x"
    jq.task_done()
    jq.join()
    sq = lmp.SimpleQueue()
    sq.put(3)
    assert not sq.empty() and sq.get() == 3
    arr = lmp.Array("d", [1.0, 2.0, 3.0])
    arr[1] = 5.0
    assert arr[:] == [1.0, 5.0, 3.0] and len(arr) == 3 and arr[-1] == 3.0


def test_keys_expire_after_redis_expiry_time(configured: RedisServer) -> None:
    mp_config.set_parameter(mp_config.REDIS_EXPIRY_TIME, 120)
    q = lmp.Queue()
    q.put(1)
    counter = lmp.Value("i", 3)
    keys = configured.keys()
    assert keys
    client = configured.client()
    assert all(0 < client.ttl(k) <= 120 for k in keys), {k: client.ttl(k) for k in keys}
    del q, counter


def test_nothing_is_left_in_redis_after_a_clean_exit(
    configured: RedisServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(localhost_config(configured)))
    program = textwrap.dedent(
        """
        import lithops.multiprocessing as mp
        q = mp.Queue(); q.put("left behind")
        v = mp.Value("i", 1); l = mp.Lock(); a, b = mp.Pipe(); a.send(1)
        d = mp.Manager().dict(); d["k"] = 1
        print(len(d), q.qsize())
        """
    )
    env = {**os.environ, "LITHOPS_CONFIG_FILE": str(config)}
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]
    assert configured.keys() == []


def test_a_dead_redis_is_a_clear_error_not_a_hang(configured: RedisServer) -> None:
    q = lmp.Queue()
    configured.stop()
    started = time.monotonic()
    with pytest.raises(lmp.RedisUnavailableError, match=r"127\.0\.0\.1:\d+.*'redis' config"):
        q.get(timeout=60)
    with pytest.raises(lmp.RedisUnavailableError):
        lmp.Lock()
    assert time.monotonic() - started < 15


def test_a_wrong_password_names_the_setting(configured: RedisServer) -> None:
    section = {**configured.section(), "password": "wrong"}
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, {"redis": section})
    with pytest.raises(lmp.RedisUnavailableError, match="password"):
        lmp.Queue().put(1)


def test_objects_do_not_show_the_password(configured: RedisServer) -> None:
    q = lmp.Queue()
    assert configured.password not in repr(q) + repr(q._where)


def test_missing_client_names_the_extra(configured: RedisServer) -> None:
    program = (
        "import sys; sys.modules['redis'] = None\n"
        "import lithops.multiprocessing as mp\n"
        "from lithops.multiprocessing import config\n"
        f"config.set_parameter(config.LITHOPS_CONFIG, {{'redis': {configured.section()!r}}})\n"
        "mp.Queue()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "MissingRedisClientError" in out.stderr
    assert "lithops-core[multiprocessing]" in out.stderr


def test_unknown_redis_key_is_an_error(lithops_home: Path) -> None:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, {"redis": {"hostname": "x"}})
    try:
        with pytest.raises(ValueError, match=r"hostname.*valid: host, port"):
            lmp.Queue()
    finally:
        mp_config.reset()


def run_bar(module: str, config: Path | None, cwd: Path) -> str:
    env = dict(os.environ)
    if config is not None:
        env["LITHOPS_CONFIG_FILE"] = str(config)
    out = subprocess.run(
        [sys.executable, str(HERE / "bar_program.py"), module],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_bar_program_same_output_as_multiprocessing(
    configured: RedisServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(localhost_config(configured)))
    expected = run_bar("multiprocessing", None, tmp_path)
    ours = run_bar("lithops.multiprocessing", config, tmp_path)
    assert "value 60 [0, 0, 0]" in expected
    assert ours == expected
    assert configured.keys() == []
