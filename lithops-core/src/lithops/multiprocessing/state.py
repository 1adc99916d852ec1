"""The stateful ``multiprocessing`` objects, kept in Redis so calls on any host share them:
queues, pipes and shared values here, locks and the other synchronization primitives in
:mod:`.synchronize` (re-exported). See :mod:`.redis_object` for expiry, cleanup and waiting.
"""

from __future__ import annotations

import pickle
import queue
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lithops.multiprocessing.redis_object import BLOCK_S, WAKE_LUA, RedisObject
from lithops.multiprocessing.synchronize import (
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    Lock,
    RLock,
    Semaphore,
)

__all__ = [
    "Array",
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Connection",
    "Event",
    "JoinableQueue",
    "Lock",
    "Pipe",
    "Queue",
    "RLock",
    "RedisObject",
    "Semaphore",
    "SimpleQueue",
    "Value",
]

# -- queues ------------------------------------------------------------------------------------

#: KEYS: items, unfinished, putters, ticket. ARGV: maxsize, item, ttl, register (1: wait if
#: full). 1 when put, 0 when full.
_PUT_BOUNDED = """
if redis.call('llen', KEYS[1]) >= tonumber(ARGV[1]) then
  if ARGV[4] == '1' then
    redis.call('rpush', KEYS[3], KEYS[4])
    redis.call('expire', KEYS[3], ARGV[3])
  end
  return 0
end
redis.call('rpush', KEYS[1], ARGV[2])
redis.call('incr', KEYS[2])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('expire', KEYS[2], ARGV[3])
return 1
"""

#: KEYS: unfinished, joiners. ARGV: ttl. -1 when called too often; wakes joiners at zero.
_TASK_DONE = (
    WAKE_LUA
    + """
local left = redis.call('decr', KEYS[1])
if left < 0 then
  redis.call('incr', KEYS[1])
  return -1
end
if left == 0 then wake(KEYS[2], -1, '1', ARGV[1]) end
return left
"""
)

#: KEYS: unfinished, joiners, ticket. ARGV: ttl. 1 when no task is unfinished, else waits.
_JOIN_CHECK = """
if tonumber(redis.call('get', KEYS[1]) or '0') <= 0 then return 1 end
redis.call('rpush', KEYS[2], KEYS[3])
redis.call('expire', KEYS[2], ARGV[1])
return 0
"""


class Queue(RedisObject):
    """:class:`multiprocessing.Queue`: FIFO of pickled objects (``queue.Empty``/``queue.Full``);
    ``get`` blocks in ``BLPOP``, a ``put`` into a full bounded queue until a ``get``."""

    _kind = "queue"

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__("v", "unfinished", "putters", "joiners")
        self._maxsize = maxsize

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        data = pickle.dumps(obj)
        if self._maxsize > 0:
            self._put_bounded(data, block, timeout)
            return
        pipe = self._pipeline()
        pipe.rpush(self._k(), data)
        pipe.incr(self._k("unfinished"))
        pipe.expire(self._k(), self._ttl)
        pipe.expire(self._k("unfinished"), self._ttl)
        self._run(pipe)

    def _put_bounded(self, data: bytes, block: bool, timeout: float | None) -> None:
        keys = [self._k(), self._k("unfinished"), self._k("putters")]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ticket = self._ticket()
            remaining = None if deadline is None else deadline - time.monotonic()
            register = block and (remaining is None or remaining > 0)
            args = (self._maxsize, data, self._ttl, int(register))
            if self._script(_PUT_BOUNDED, [*keys, ticket], *args):
                return
            if not register or self._await(keys[2], ticket, remaining) is None:
                raise queue.Full

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        raw = self._pop(self._k(), timeout) if block else self._call("lpop", self._k())
        if raw is None:
            raise queue.Empty
        if self._maxsize > 0:
            self._wake(self._k("putters"), 1)  # a slot is free: one blocked put tries again
        return pickle.loads(raw)

    def put_nowait(self, obj: Any) -> None:
        self.put(obj, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def qsize(self) -> int:
        return int(self._call("llen", self._k()))

    def empty(self) -> bool:
        return self.qsize() == 0

    def full(self) -> bool:
        return self._maxsize > 0 and self.qsize() >= self._maxsize

    def close(self) -> None:
        """Nothing to flush: every ``put`` is in Redis when it returns."""

    def join_thread(self) -> None:
        """Nothing to join (no feeder thread)."""

    def cancel_join_thread(self) -> None:
        """Nothing to cancel (no feeder thread)."""


class SimpleQueue(Queue):
    """:class:`multiprocessing.SimpleQueue`: ``put``, ``get``, ``empty``, ``close``."""

    _kind = "simplequeue"

    def __init__(self) -> None:
        super().__init__()


class JoinableQueue(Queue):
    """:class:`multiprocessing.JoinableQueue`: ``task_done`` and ``join`` as well (``join``
    blocks until the last ``task_done`` wakes it)."""

    _kind = "joinablequeue"

    def task_done(self) -> None:
        keys = [self._k("unfinished"), self._k("joiners")]
        if int(self._script(_TASK_DONE, keys, self._ttl)) < 0:
            raise ValueError("task_done() called too many times")

    def join(self) -> None:
        keys = [self._k("unfinished"), self._k("joiners")]
        while True:
            ticket = self._ticket()
            if self._script(_JOIN_CHECK, [*keys, ticket], self._ttl):
                return
            self._await(keys[1], ticket, None)


# -- pipes -------------------------------------------------------------------------------------


class Connection:
    """One end of a :func:`Pipe`: ``send``/``recv``/``poll``/``send_bytes``/``recv_bytes``."""

    def __init__(self, channel: _Channel, inbox: str, outbox: str | None, readable: bool) -> None:
        self._channel = channel
        self._inbox = inbox if readable else None
        self._outbox = outbox
        self.closed = False

    @property
    def readable(self) -> bool:
        return self._inbox is not None

    @property
    def writable(self) -> bool:
        return self._outbox is not None

    def _check(self, writing: bool) -> str:
        if self.closed:
            raise OSError("handle is closed")
        key = self._outbox if writing else self._inbox
        if key is None:
            raise OSError("connection is write-only" if not writing else "connection is read-only")
        return key

    def send_bytes(self, buf: bytes, offset: int = 0, size: int | None = None) -> None:
        data = bytes(memoryview(buf)[offset : None if size is None else offset + size])
        key = self._check(writing=True)
        self._channel.push(key, data)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        key = self._check(writing=False)
        raw = self._channel.pop(key, None)
        assert raw is not None
        if maxlength is not None and len(raw) > maxlength:
            raise OSError("bad message length")
        return raw

    def send(self, obj: Any) -> None:
        self.send_bytes(pickle.dumps(obj))

    def recv(self) -> Any:
        return pickle.loads(self.recv_bytes())

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether there is something to receive, waiting up to ``timeout`` seconds (forever
        for None) without taking it."""
        return self._channel.peek(self._check(writing=False), timeout)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Channel(RedisObject):
    _kind = "pipe"

    def __init__(self) -> None:
        super().__init__("a", "b")

    def ends(self) -> tuple[str, str]:
        """The keys of the two inboxes."""
        return self._k("a"), self._k("b")

    def push(self, key: str, data: bytes) -> None:
        pipe = self._pipeline()
        pipe.rpush(key, data)
        pipe.expire(key, self._ttl)
        self._run(pipe)

    def pop(self, key: str, timeout: float | None) -> bytes | None:
        return self._pop(key, timeout)

    def peek(self, key: str, timeout: float | None) -> bool:
        """Block until list ``key`` is not empty (BLMOVE of its head onto itself: a no-op
        move, so nothing is taken), in rounds, up to ``timeout``."""
        if timeout is not None and timeout <= 0:
            return int(self._call("llen", key)) > 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = BLOCK_S if deadline is None else min(BLOCK_S, deadline - time.monotonic())
            if wait <= 0:
                return int(self._call("llen", key)) > 0
            if self._call("blmove", key, key, max(wait, 0.001), "LEFT", "LEFT") is not None:
                return True


def Pipe(duplex: bool = True) -> tuple[Connection, Connection]:
    """:func:`multiprocessing.Pipe`: two connected ends (one-way when ``duplex=False``:
    the first end receives, the second sends)."""
    channel = _Channel()
    a, b = channel.ends()
    if duplex:
        return Connection(channel, a, b, True), Connection(channel, b, a, True)
    return Connection(channel, a, None, True), Connection(channel, "", a, False)


# -- shared values -----------------------------------------------------------------------------


class Value(RedisObject):
    """:func:`multiprocessing.Value`: ``.value`` in Redis, ``get_lock()`` (or
    ``acquire``/``release``) for read-modify-write sequences."""

    _kind = "value"

    def __init__(self, typecode_or_type: Any, *args: Any, lock: Any = True) -> None:
        super().__init__("v")
        self._typecode = typecode_or_type
        self._lock = Lock() if lock is True else (RLock() if lock is False else lock)
        self.value = args[0] if args else _zero(typecode_or_type)

    @property
    def value(self) -> Any:
        raw = self._call("get", self._k())
        if raw is None:
            raise LookupError(f"{self!r} expired or was removed (REDIS_EXPIRY_TIME)")
        return pickle.loads(raw)

    @value.setter
    def value(self, new: Any) -> None:
        self._call("set", self._k(), pickle.dumps(new), self._ttl)

    def get_lock(self) -> Any:
        return self._lock

    def get_obj(self) -> Value:
        return self

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._lock.acquire(*args, **kwargs))

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _zero(typecode: Any) -> Any:
    if isinstance(typecode, str):
        return 0.0 if typecode in "fd" else (b"\0" if typecode == "c" else 0)
    try:
        return typecode().value
    except Exception:
        return 0


class Array(RedisObject):
    """:func:`multiprocessing.Array`: a fixed-length sequence in a Redis list."""

    _kind = "array"

    def __init__(
        self, typecode_or_type: Any, size_or_initializer: Any, *, lock: Any = True
    ) -> None:
        super().__init__("v")
        if isinstance(size_or_initializer, int):
            items = [_zero(typecode_or_type)] * size_or_initializer
        else:
            items = list(size_or_initializer)
        self._length = len(items)
        self._lock = Lock() if lock is True else (RLock() if lock is False else lock)
        if items:
            pipe = self._pipeline()
            pipe.rpush(self._k(), *(pickle.dumps(i) for i in items))
            pipe.expire(self._k(), self._ttl)
            self._run(pipe)

    def __len__(self) -> int:
        return self._length

    def _index(self, i: int) -> int:
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError("invalid index")
        return i

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            everything = [pickle.loads(r) for r in self._call("lrange", self._k(), 0, -1)]
            return everything[i]
        return pickle.loads(self._call("lindex", self._k(), self._index(i)))

    def __setitem__(self, i: int | slice, value: Any) -> None:
        if isinstance(i, slice):
            indices = range(*i.indices(self._length))
            values = list(value)
            if len(values) != len(indices):
                raise ValueError("can only assign a sequence of the same length")
            pipe = self._pipeline()
            for index, v in zip(indices, values, strict=True):
                pipe.lset(self._k(), index, pickle.dumps(v))
            self._run(pipe)
            return
        self._call("lset", self._k(), self._index(i), pickle.dumps(value))
        self._touch()

    def __iter__(self) -> Iterator[Any]:
        return iter(self[:])

    def get_lock(self) -> Any:
        return self._lock

    def get_obj(self) -> Array:
        return self

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._lock.acquire(*args, **kwargs))

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _items(values: Iterable[Any]) -> list[bytes]:
    return [pickle.dumps(v) for v in values]
