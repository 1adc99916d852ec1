"""Barrier (``abort``, ``reset``, ``broken``, timeouts) and blocking waits of the
synchronization primitives, on a real redis-server: waits block in Redis instead of polling
it, honour their timeouts, lose no wake-up, leave no key behind, and fail at once when the
server dies."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

import lithops.multiprocessing as lmp
from lithops.multiprocessing import config as mp_config


@pytest.fixture
def configured(redis_server: RedisServer, lithops_home: Path) -> Iterator[RedisServer]:
    mp_config.set_parameter(
        mp_config.LITHOPS_CONFIG,
        {
            "lithops": {"backend": "localhost", "storage": "localhost"},
            "localhost": {"worker_processes": 3, "runtime": sys.executable},
            "redis": redis_server.section(),
        },
    )
    yield redis_server
    mp_config.reset()


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` in a thread; the list gets its result or the exception it raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_until(predicate: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def held_elsewhere(lock: Any) -> threading.Event:
    """Acquire ``lock`` in a thread that stays alive (so its ident is not reused) until the
    returned event is set."""
    acquired, done = threading.Event(), threading.Event()

    def hold() -> None:
        lock.acquire()
        acquired.set()
        done.wait(60)

    threading.Thread(target=hold, daemon=True).start()
    assert acquired.wait(15)
    return done


def commands(server: RedisServer) -> int:
    return int(server.client().info("stats")["total_commands_processed"])


def no_tickets(server: RedisServer) -> bool:
    names = server.keys()
    return not [k for k in names if b":ticket:" in k]


# -- Barrier -----------------------------------------------------------------------------------


def test_abort_breaks_the_barrier_for_waiters_and_later_waits(configured: RedisServer) -> None:
    barrier = lmp.Barrier(3)
    waiters = [in_thread(lambda: barrier.wait(30)) for _ in range(2)]
    wait_until(lambda: barrier.n_waiting == 2)
    assert not barrier.broken
    barrier.abort()
    for thread, out in waiters:
        thread.join(15)
        assert isinstance(out[0], threading.BrokenBarrierError)
    assert barrier.broken and barrier.n_waiting == 0
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(5)
    barrier.reset()
    assert not barrier.broken
    waiters = [in_thread(lambda: barrier.wait(30)) for _ in range(2)]
    index = barrier.wait(30)
    for thread, _ in waiters:
        thread.join(15)
    assert sorted([index, *(out[0] for _, out in waiters)]) == [0, 1, 2]
    assert barrier.parties == 3
    assert no_tickets(configured)


def test_a_wait_that_times_out_breaks_the_barrier(configured: RedisServer) -> None:
    barrier = lmp.Barrier(3, timeout=0.3)
    other, out = in_thread(lambda: barrier.wait(30))
    wait_until(lambda: barrier.n_waiting == 1)
    started = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait()  # the barrier's default timeout
    assert time.monotonic() - started < 15
    other.join(15)
    assert isinstance(out[0], threading.BrokenBarrierError)  # the other waiter too
    assert barrier.broken
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(0.1)
    assert no_tickets(configured)


def test_reset_releases_waiters_with_broken_barrier_error(configured: RedisServer) -> None:
    barrier = lmp.Barrier(2)
    waiter, out = in_thread(lambda: barrier.wait(30))
    wait_until(lambda: barrier.n_waiting == 1)
    barrier.reset()
    waiter.join(15)
    assert isinstance(out[0], threading.BrokenBarrierError)
    assert not barrier.broken  # reset leaves it usable
    waiter, out = in_thread(lambda: barrier.wait(30))
    assert barrier.wait(30) in (0, 1)
    waiter.join(15)
    assert out[0] in (0, 1)


def test_a_failing_action_breaks_the_barrier(configured: RedisServer) -> None:
    def action() -> None:
        raise RuntimeError("action failed")

    barrier = lmp.Barrier(2, action=action)
    waiter, out = in_thread(lambda: barrier.wait(30))
    wait_until(lambda: barrier.n_waiting == 1)
    with pytest.raises(RuntimeError, match="action failed"):
        barrier.wait(30)
    waiter.join(15)
    assert isinstance(out[0], threading.BrokenBarrierError)
    assert barrier.broken


@pytest.mark.parametrize("with_action", [False, True])
def test_arrivals_past_parties_wait_for_the_next_round(
    configured: RedisServer, with_action: bool
) -> None:
    rounds: list[int] = []
    barrier = lmp.Barrier(2, action=(lambda: rounds.append(1)) if with_action else None)
    waiters = [in_thread(lambda: barrier.wait(30)) for _ in range(3)]
    wait_until(lambda: sum(1 for _, out in waiters if out) == 2)
    assert barrier.n_waiting == 1  # the third waits for a partner of its own round
    index = barrier.wait(30)
    for thread, _ in waiters:
        thread.join(15)
    assert sorted([index, *(out[0] for _, out in waiters)]) == [0, 0, 1, 1]
    assert rounds == ([1, 1] if with_action else [])
    assert not barrier.broken
    wait_until(lambda: no_tickets(configured))
    names = configured.keys()
    assert not [k for k in names if b":released:" in k]


def meet(barrier: Any, results: Any) -> None:
    try:
        results.put(("passed", barrier.wait(60)))
    except threading.BrokenBarrierError:
        results.put(("broken", None))


def test_barrier_between_processes_passes_then_aborts(configured: RedisServer) -> None:
    barrier = lmp.Barrier(3)
    results = lmp.Queue()
    procs = [lmp.Process(target=meet, args=(barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    index = barrier.wait(60)
    got = sorted([results.get(timeout=60), results.get(timeout=60)])
    assert [kind for kind, _ in got] == ["passed", "passed"]
    assert sorted([index, *(i for _, i in got)]) == [0, 1, 2]
    procs += [lmp.Process(target=meet, args=(barrier, results)) for _ in range(2)]
    for p in procs[2:]:
        p.start()
    wait_until(lambda: barrier.n_waiting == 2, 60)
    barrier.abort()
    assert sorted([results.get(timeout=60), results.get(timeout=60)]) == [("broken", None)] * 2
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]


# -- blocking, not polling ---------------------------------------------------------------------


def idle_commands(server: RedisServer, wait: Callable[[], Any], seconds: float = 1.5) -> int:
    """How many commands Redis processed while ``wait`` (running ``seconds``) waited."""
    before = commands(server)
    wait()
    return commands(server) - before - 1  # the INFO of `before`


def test_waits_block_in_redis_instead_of_polling(configured: RedisServer) -> None:
    event = lmp.Event()
    lock = lmp.RLock()
    holder = held_elsewhere(lock)
    cond = lmp.Condition(lmp.Lock())
    full = lmp.Queue(maxsize=1)
    full.put(0)
    here, _there = lmp.Pipe()
    joinable = lmp.JoinableQueue()
    joinable.put("unfinished")
    sem = lmp.Semaphore(0)

    def cond_wait() -> bool:
        with cond:
            return cond.wait(1.5)

    def put_into_full() -> None:
        with pytest.raises(queue.Full):
            full.put(1, timeout=1.5)

    def join_for_a_while() -> Any:
        thread, out = in_thread(joinable.join)
        thread.join(1.5)
        return out

    waits: dict[str, Callable[[], Any]] = {
        "Event.wait": lambda: event.wait(1.5),
        "RLock.acquire": lambda: lock.acquire(timeout=1.5),
        "Condition.wait": cond_wait,
        "Queue.put (full)": put_into_full,
        "Connection.poll": lambda: here.poll(1.5),
        "Semaphore.acquire": lambda: sem.acquire(timeout=1.5),
        "JoinableQueue.join": join_for_a_while,
    }
    counts = {name: idle_commands(configured, wait) for name, wait in waits.items()}
    # a 10 ms poll would be ~150 commands in 1.5 s; blocking (rounds of <= 1 s, script
    # loads, new connections' handshakes) a few dozen at most
    assert all(n <= 40 for n in counts.values()), counts
    assert lock.acquire(block=False) is False
    holder.set()
    joinable.get()
    joinable.task_done()  # wakes the join left waiting above
    wait_until(lambda: no_tickets(configured))


def test_wake_ups_are_not_lost_and_timeouts_are_honoured(configured: RedisServer) -> None:
    event = lmp.Event()
    waiters = [in_thread(lambda: event.wait(60)) for _ in range(5)]
    time.sleep(0.2)
    event.set()
    for thread, out in waiters:
        thread.join(15)
        assert out == [True]
    event.clear()
    started = time.monotonic()
    assert event.wait(0.3) is False
    assert 0.25 <= time.monotonic() - started < 15

    lock = lmp.RLock()
    counter = [0]

    def bump() -> None:
        for _ in range(20):
            with lock:
                value = counter[0]
                time.sleep(0.001)
                counter[0] = value + 1

    threads = [in_thread(bump)[0] for _ in range(4)]
    for thread in threads:
        thread.join(60)
    assert counter[0] == 80

    cond = lmp.Condition()
    items: list[int] = []

    def consume() -> int:
        with cond:
            assert cond.wait_for(lambda: bool(items), timeout=30)
            return items.pop()

    consumers = [in_thread(consume) for _ in range(3)]
    time.sleep(0.2)
    for i in range(3):
        with cond:
            items.append(i)
            cond.notify()
    for thread, _ in consumers:
        thread.join(30)
    assert sorted(out[0] for _, out in consumers) == [0, 1, 2]

    bounded = lmp.Queue(maxsize=2)
    producer, produced = in_thread(lambda: [bounded.put(i) for i in range(6)])
    got = [bounded.get(timeout=30) for _ in range(6)]
    producer.join(30)
    assert got == list(range(6)) and len(produced[0]) == 6

    joinable = lmp.JoinableQueue()
    for i in range(3):
        joinable.put(i)
    joiner, joined = in_thread(lambda: joinable.join() or "joined")
    for _ in range(3):
        joinable.get(timeout=10)
        joinable.task_done()
    joiner.join(15)
    assert joined == ["joined"]
    with pytest.raises(ValueError, match="too many"):
        joinable.task_done()
    assert no_tickets(configured)


def test_condition_wait_releases_a_reentrant_lock_fully(configured: RedisServer) -> None:
    cond = lmp.Condition(lmp.RLock())
    ready = threading.Event()

    def notifier() -> bool:
        assert ready.wait(15)
        with cond:  # only possible if the waiter released every level of the lock
            cond.notify()
        return True

    thread, out = in_thread(notifier)
    with cond, cond:  # acquired twice; leaving both blocks needs the depth restored
        ready.set()
        assert cond.wait(30)
    thread.join(15)
    assert out == [True]
    with pytest.raises(AssertionError):
        cond.release()


def test_a_redis_that_dies_under_a_blocked_wait_is_a_clear_error(
    configured: RedisServer,
) -> None:
    event, lock, barrier = lmp.Event(), lmp.RLock(), lmp.Barrier(2)
    holder = held_elsewhere(lock)
    blocked = [in_thread(event.wait), in_thread(lock.acquire), in_thread(barrier.wait)]
    wait_until(lambda: barrier.n_waiting == 1)
    time.sleep(0.2)
    started = time.monotonic()
    configured.stop()
    for thread, out in blocked:
        thread.join(15)
        assert not thread.is_alive(), "a wait hung after Redis died"
        assert isinstance(out[0], lmp.RedisUnavailableError), out
        assert "'redis' config section" in str(out[0])
    assert time.monotonic() - started < 15
    holder.set()
