"""Locks, semaphores, events, conditions and barriers kept in Redis (see :mod:`.redis_object`
for how waiting blocks without polling)."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from lithops.multiprocessing.redis_object import WAKE_LUA, RedisObject

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "RLock",
    "Semaphore",
]


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + max(0.0, timeout)


# -- semaphores and locks ----------------------------------------------------------------------

#: KEYS: tokens. ARGV: bound (0: none), ttl. -1 when already at the bound.
_RELEASE_TOKEN = """
local bound = tonumber(ARGV[1])
if bound > 0 and redis.call('llen', KEYS[1]) >= bound then return -1 end
redis.call('rpush', KEYS[1], '1')
redis.call('expire', KEYS[1], ARGV[2])
return 1
"""


class Semaphore(RedisObject):
    """:class:`multiprocessing.Semaphore`: a Redis list holding one token per free slot;
    ``acquire`` blocks in ``BLPOP`` on it (first come, first served)."""

    _kind = "semaphore"

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        super().__init__("v")
        self._bound = 0
        if value:
            pipe = self._pipeline()
            pipe.rpush(self._k(), *([b"1"] * value))
            pipe.expire(self._k(), self._ttl)
            self._run(pipe)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if not block:
            return self._call("lpop", self._k()) is not None
        return self._pop(self._k(), timeout) is not None

    def release(self) -> None:
        if int(self._script(_RELEASE_TOKEN, [self._k()], self._bound, self._ttl)) < 0:
            raise ValueError("semaphore or lock released too many times")

    def get_value(self) -> int:
        return int(self._call("llen", self._k()))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """:class:`multiprocessing.BoundedSemaphore`: releasing past the initial value raises."""

    _kind = "boundedsemaphore"

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._bound = value


class Lock(BoundedSemaphore):
    """:class:`multiprocessing.Lock` (any process may release it, as in the stdlib)."""

    _kind = "lock"

    def __init__(self) -> None:
        super().__init__(1)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


#: KEYS: owner, count, waiters, ticket. ARGV: me, ttl, register (1: wait if held).
_RLOCK_ACQUIRE = """
local owner = redis.call('get', KEYS[1])
if not owner then
  redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
  redis.call('set', KEYS[2], 1, 'EX', ARGV[2])
  return 1
end
if owner == ARGV[1] then
  redis.call('incr', KEYS[2])
  redis.call('expire', KEYS[1], ARGV[2])
  redis.call('expire', KEYS[2], ARGV[2])
  return 1
end
if ARGV[3] == '1' then
  redis.call('rpush', KEYS[3], KEYS[4])
  redis.call('expire', KEYS[3], ARGV[2])
end
return 0
"""

#: KEYS: owner, count, waiters. ARGV: me, ttl. -1 when not the owner.
_RLOCK_RELEASE = (
    WAKE_LUA
    + """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local left = redis.call('decr', KEYS[2])
if left > 0 then return left end
redis.call('del', KEYS[1], KEYS[2])
wake(KEYS[3], 1, '1', ARGV[2])
return 0
"""
)


#: KEYS: owner, count, waiters. ARGV: me, ttl. The recursion count released, -1 when not
#: the owner.
_RLOCK_RELEASE_ALL = (
    WAKE_LUA
    + """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local count = tonumber(redis.call('get', KEYS[2]) or '1')
redis.call('del', KEYS[1], KEYS[2])
wake(KEYS[3], 1, '1', ARGV[2])
return count
"""
)


class RLock(RedisObject):
    """:class:`multiprocessing.RLock`: reentrant for the same thread of the same process;
    a release wakes one waiter, which then tries again."""

    _kind = "rlock"

    def __init__(self) -> None:
        super().__init__("owner", "count", "waiters")

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        me = _me()
        deadline = _deadline(timeout)
        keys = [self._k("owner"), self._k("count"), self._k("waiters")]
        while True:
            ticket = self._ticket()
            remaining = _remaining(deadline)
            register = block and (remaining is None or remaining > 0)
            if self._script(_RLOCK_ACQUIRE, [*keys, ticket], me, self._ttl, int(register)):
                return True
            if not register:
                return False
            if self._await(keys[2], ticket, remaining) is None:
                return False  # timed out, and no release came first

    def release(self) -> None:
        keys = [self._k("owner"), self._k("count"), self._k("waiters")]
        if int(self._script(_RLOCK_RELEASE, keys, _me(), self._ttl)) < 0:
            raise AssertionError("cannot release un-acquired lock")

    def release_all(self) -> int:
        """Release however many times it was acquired (a Condition's wait); that count."""
        keys = [self._k("owner"), self._k("count"), self._k("waiters")]
        count = int(self._script(_RLOCK_RELEASE_ALL, keys, _me(), self._ttl))
        if count < 0:
            raise AssertionError("cannot release un-acquired lock")
        return count

    def acquire_restore(self, count: int) -> None:
        """Acquire it again ``count`` times deep (after :meth:`release_all`)."""
        self.acquire()
        if count > 1:
            self._call("set", self._k("count"), count, self._ttl)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- events and conditions ---------------------------------------------------------------------

#: KEYS: flag, waiters. ARGV: ttl.
_EVENT_SET = (
    WAKE_LUA
    + """
redis.call('set', KEYS[1], 1, 'EX', ARGV[1])
return wake(KEYS[2], -1, '1', ARGV[1])
"""
)

#: KEYS: flag, waiters, ticket. ARGV: ttl. 1 when set, else the ticket is registered.
_EVENT_CHECK = """
if redis.call('exists', KEYS[1]) == 1 then return 1 end
redis.call('rpush', KEYS[2], KEYS[3])
redis.call('expire', KEYS[2], ARGV[1])
return 0
"""


class Event(RedisObject):
    """:class:`multiprocessing.Event`: ``set`` wakes every waiter at once."""

    _kind = "event"

    def __init__(self) -> None:
        super().__init__("v", "waiters")

    def is_set(self) -> bool:
        return bool(self._call("exists", self._k()))

    def set(self) -> None:
        self._script(_EVENT_SET, [self._k(), self._k("waiters")], self._ttl)

    def clear(self) -> None:
        self._call("delete", self._k())

    def wait(self, timeout: float | None = None) -> bool:
        ticket = self._ticket()
        if self._script(_EVENT_CHECK, [self._k(), self._k("waiters"), ticket], self._ttl):
            return True
        return self._await(self._k("waiters"), ticket, timeout) is not None


class Condition(RedisObject):
    """:class:`multiprocessing.Condition` over an :class:`RLock` (or the lock given)."""

    _kind = "condition"

    def __init__(self, lock: Any = None) -> None:
        super().__init__("waiters")
        self._lock = lock if lock is not None else RLock()
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("acquire")
        state.pop("release")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    def __enter__(self) -> bool:
        return bool(self._lock.acquire())

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        ticket = self._ticket()
        pipe = self._pipeline()
        pipe.rpush(self._k("waiters"), ticket)
        pipe.expire(self._k("waiters"), self._ttl)
        self._run(pipe)  # registered before the lock goes: a notify after it wakes us
        depth = self._lock.release_all() if isinstance(self._lock, RLock) else 0
        if not depth:
            self._lock.release()
        try:
            woken = self._await(self._k("waiters"), ticket, timeout) is not None
        finally:
            if depth:
                self._lock.acquire_restore(depth)
            else:
                self._lock.acquire()
        return woken

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        deadline = _deadline(timeout)
        result = predicate()
        while not result:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        if n > 0:
            self._wake(self._k("waiters"), n)

    def notify_all(self) -> None:
        self._wake(self._k("waiters"), -1)


# -- barriers ----------------------------------------------------------------------------------

#: KEYS: state, waiters, ticket. ARGV: parties, ttl, has_action (1/0), the prefix of the
#: generations' ``released`` keys. Returns ``{count, generation}`` (count -1: broken). The last
#: arrival (count == parties) starts the next generation at once, so later arrivals wait for
#: that one: without an action it wakes this generation's waiters here; with one, it moves
#: them to this generation's ``released`` list and wakes them once the action has run.
_BARRIER_ARRIVE = (
    WAKE_LUA
    + """
local generation = tonumber(redis.call('hget', KEYS[1], 'generation') or '0')
if redis.call('hget', KEYS[1], 'broken') == '1' then return {-1, generation} end
local count = redis.call('hincrby', KEYS[1], 'count', 1)
redis.call('expire', KEYS[1], ARGV[2])
if count >= tonumber(ARGV[1]) then
  redis.call('hset', KEYS[1], 'count', 0)
  redis.call('hincrby', KEYS[1], 'generation', 1)
  if ARGV[3] == '1' then
    if redis.call('exists', KEYS[2]) == 1 then
      local released = ARGV[4] .. generation
      redis.call('rename', KEYS[2], released)
      redis.call('expire', released, ARGV[2])
    end
  else
    wake(KEYS[2], -1, 'go', ARGV[2])
  end
  return {count, generation}
end
redis.call('rpush', KEYS[2], KEYS[3])
redis.call('expire', KEYS[2], ARGV[2])
return {count, generation}
"""
)

#: KEYS: state, released. ARGV: ttl. After the action: wakes the generation (-1 and
#: BrokenBarrierError for all when the barrier broke meanwhile).
_BARRIER_RELEASE = (
    WAKE_LUA
    + """
if redis.call('hget', KEYS[1], 'broken') == '1' then
  wake(KEYS[2], -1, 'broken', ARGV[1])
  return -1
end
wake(KEYS[2], -1, 'go', ARGV[1])
return 0
"""
)

_BREAK_LUA = """
local function break_barrier(state, waiters, ttl)
  redis.call('hset', state, 'broken', 1, 'count', 0)
  redis.call('expire', state, ttl)
  wake(waiters, -1, 'broken', ttl)
end
"""

#: KEYS: state, waiters. ARGV: ttl.
_BARRIER_ABORT = WAKE_LUA + _BREAK_LUA + "break_barrier(KEYS[1], KEYS[2], ARGV[1]) return 0"

#: KEYS: state, waiters. ARGV: ttl. Waiters get BrokenBarrierError; a new generation begins.
_BARRIER_RESET = (
    WAKE_LUA
    + """
wake(KEYS[2], -1, 'broken', ARGV[1])
redis.call('hset', KEYS[1], 'broken', 0, 'count', 0)
redis.call('hincrby', KEYS[1], 'generation', 1)
redis.call('expire', KEYS[1], ARGV[1])
return 0
"""
)

#: KEYS: state, waiters, ticket, released. ARGV: ttl. A waiter whose timeout passed breaks
#: the barrier (nil) while its ticket is still waiting (also in a generation whose action
#: runs), unless a token reached it first (that token).
_BARRIER_TIMEOUT = (
    WAKE_LUA
    + _BREAK_LUA
    + """
local waiting = redis.call('lrem', KEYS[2], 1, KEYS[3]) == 1
if not waiting and redis.call('lrem', KEYS[4], 1, KEYS[3]) == 1 then
  waiting = true
  wake(KEYS[4], -1, 'broken', ARGV[1])
end
if waiting then
  break_barrier(KEYS[1], KEYS[2], ARGV[1])
  return false
end
return redis.call('lpop', KEYS[3])
"""
)


class Barrier(RedisObject):
    """:class:`multiprocessing.Barrier` for ``parties`` processes: reusable, with ``abort``,
    ``reset`` and ``broken``; a wait that times out breaks it, as in :mod:`threading`
    (:class:`threading.BrokenBarrierError` for every waiter then, and for later waits until
    :meth:`reset`). ``action`` runs in the last process to arrive, before the others go;
    arrivals past ``parties`` wait for the next round."""

    _kind = "barrier"

    def __init__(self, parties: int, action: Any = None, timeout: float | None = None) -> None:
        if parties < 1:
            raise ValueError("parties must be > 0")
        super().__init__("state", "waiters")
        self._parties = parties
        self._action = action
        self._timeout = timeout

    def _released(self, generation: int) -> str:
        """The list of a generation's waiters while its action runs (gone once woken)."""
        return f"{self._base}:released:{generation}"

    def _arrive(self, ticket: str) -> tuple[int, int]:
        keys = [self._k("state"), self._k("waiters"), ticket]
        prefix = self._released(0)[:-1]
        has_action = int(self._action is not None)
        found = self._script(_BARRIER_ARRIVE, keys, self._parties, self._ttl, has_action, prefix)
        return int(found[0]), int(found[1])

    def wait(self, timeout: float | None = None) -> int:
        timeout = self._timeout if timeout is None else timeout
        ticket = self._ticket()
        state, waiters = self._k("state"), self._k("waiters")
        arrived, generation = self._arrive(ticket)
        if arrived < 0:
            raise threading.BrokenBarrierError
        released = self._released(generation)
        index = arrived - 1
        if arrived >= self._parties:
            if self._action is not None:
                try:
                    self._action()
                except BaseException:
                    self._script(_BARRIER_ABORT, [state, waiters], self._ttl)
                    self._script(_BARRIER_RELEASE, [state, released], self._ttl)
                    raise
                if int(self._script(_BARRIER_RELEASE, [state, released], self._ttl)) < 0:
                    raise threading.BrokenBarrierError
            return index
        token = self._pop(ticket, timeout)
        if token is None:
            found = self._script(_BARRIER_TIMEOUT, [state, waiters, ticket, released], self._ttl)
            token = None if found is None else bytes(found)
            if token is None:  # still listed: it broke the barrier
                raise threading.BrokenBarrierError
        if token != b"go":
            raise threading.BrokenBarrierError
        return index

    def abort(self) -> None:
        """Break the barrier: current and later waits raise BrokenBarrierError."""
        self._script(_BARRIER_ABORT, [self._k("state"), self._k("waiters")], self._ttl)

    def reset(self) -> None:
        """Back to the empty, unbroken state; current waiters get BrokenBarrierError."""
        self._script(_BARRIER_RESET, [self._k("state"), self._k("waiters")], self._ttl)

    @property
    def parties(self) -> int:
        return self._parties

    @property
    def n_waiting(self) -> int:
        """How many processes wait at the barrier now."""
        if self.broken:
            return 0
        return int(self._call("hget", self._k("state"), "count") or 0)

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken (``abort``, a timed-out wait, a failed action)."""
        return self._call("hget", self._k("state"), "broken") in (b"1", "1")
