"""The stateful ``multiprocessing`` objects, kept in Redis so calls on any host share them.

Every object holds only its Redis settings and key names: pickled into a call, it reconnects
there. Each write renews the keys' expiry (``REDIS_EXPIRY_TIME`` seconds), and the process that
created an object deletes its keys at a clean exit.
"""

from __future__ import annotations

import os
import pickle
import queue
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lithops.multiprocessing import connection as conn
from lithops.multiprocessing.connection import RedisSettings

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
    "Semaphore",
    "SimpleQueue",
    "Value",
]

#: Longest single blocking Redis command: longer waits loop, so a dead server is noticed.
_BLOCK_S = 1.0
_POLL_S = 0.01


class RedisObject:
    """Settings and keys; the keys are created (and owned) by the constructing process."""

    _kind = "object"

    def __init__(self, *parts: str) -> None:
        self._where: RedisSettings = conn.settings()
        conn.client(self._where)  # a missing redis client is an error here, not at first use
        base = conn.new_key(self._kind)
        self._keys = {p: f"{base}:{p}" for p in (parts or ("v",))}
        self._ttl = conn.expiry()
        conn.register_keys(self._where, *self._keys.values())

    def _k(self, part: str = "v") -> str:
        return self._keys[part]

    def _call(self, method: str, *args: Any) -> Any:
        return conn.call(self._where, method, *args)

    def _touch(self, *parts: str) -> None:
        for part in parts or tuple(self._keys):
            self._call("expire", self._keys[part], self._ttl)

    def _pipeline(self) -> Any:
        return conn.client(self._where).pipeline()

    def _run(self, pipe: Any) -> Any:
        return conn.call_pipeline(self._where, pipe)

    def delete_keys(self) -> None:
        """Remove this object from Redis now (a Manager's ``shutdown`` does this)."""
        conn.forget_keys(self._where, *self._keys.values())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {self._where.where}>"


def _blocking_pop(obj: RedisObject, key: str, timeout: float | None) -> bytes | None:
    """BLPOP in rounds of at most ``_BLOCK_S``; None past ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        if deadline is None:
            wait = _BLOCK_S
        else:
            wait = min(_BLOCK_S, deadline - time.monotonic())
            if wait <= 0:
                popped = obj._call("lpop", key)
                return None if popped is None else bytes(popped)
        found = obj._call("blpop", [key], max(wait, 0.01))
        if found is not None:
            return bytes(found[1])


# -- queues ------------------------------------------------------------------------------------


class Queue(RedisObject):
    """:class:`multiprocessing.Queue`: FIFO of pickled objects (``queue.Empty``/``queue.Full``)."""

    _kind = "queue"

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__("v", "unfinished")
        self._maxsize = maxsize

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        if self._maxsize > 0:
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.qsize() >= self._maxsize:
                if not block or (deadline is not None and time.monotonic() >= deadline):
                    raise queue.Full
                time.sleep(_POLL_S)
        pipe = self._pipeline()
        pipe.rpush(self._k(), pickle.dumps(obj))
        pipe.incr(self._k("unfinished"))
        pipe.expire(self._k(), self._ttl)
        pipe.expire(self._k("unfinished"), self._ttl)
        self._run(pipe)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not block:
            raw = self._call("lpop", self._k())
        else:
            raw = _blocking_pop(self, self._k(), timeout)
        if raw is None:
            raise queue.Empty
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
    """:class:`multiprocessing.JoinableQueue`: ``task_done`` and ``join`` as well."""

    _kind = "joinablequeue"

    def task_done(self) -> None:
        left = int(self._call("decr", self._k("unfinished")))
        if left < 0:
            self._call("incr", self._k("unfinished"))
            raise ValueError("task_done() called too many times")

    def join(self) -> None:
        while int(self._call("get", self._k("unfinished")) or 0) > 0:
            time.sleep(_POLL_S)


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
        pipe = self._channel._pipeline()
        pipe.rpush(key, data)
        pipe.expire(key, self._channel._ttl)
        self._channel._run(pipe)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        key = self._check(writing=False)
        raw = _blocking_pop(self._channel, key, None)
        assert raw is not None
        if maxlength is not None and len(raw) > maxlength:
            raise OSError("bad message length")
        return raw

    def send(self, obj: Any) -> None:
        self.send_bytes(pickle.dumps(obj))

    def recv(self) -> Any:
        return pickle.loads(self.recv_bytes())

    def poll(self, timeout: float | None = 0.0) -> bool:
        key = self._check(writing=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if int(self._channel._call("llen", key)) > 0:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)

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


def Pipe(duplex: bool = True) -> tuple[Connection, Connection]:
    """:func:`multiprocessing.Pipe`: two connected ends (one-way when ``duplex=False``:
    the first end receives, the second sends)."""
    channel = _Channel()
    a, b = channel._k("a"), channel._k("b")
    if duplex:
        return Connection(channel, a, b, True), Connection(channel, b, a, True)
    return Connection(channel, a, None, True), Connection(channel, "", a, False)


# -- synchronization ---------------------------------------------------------------------------


class Semaphore(RedisObject):
    """:class:`multiprocessing.Semaphore`: a Redis list holding one token per free slot."""

    _kind = "semaphore"

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        super().__init__("v")
        self._bound: int | None = None
        if value:
            pipe = self._pipeline()
            pipe.rpush(self._k(), *([b"1"] * value))
            pipe.expire(self._k(), self._ttl)
            self._run(pipe)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        if not block:
            return self._call("lpop", self._k()) is not None
        return _blocking_pop(self, self._k(), timeout) is not None

    def release(self) -> None:
        if self._bound is not None and int(self._call("llen", self._k())) >= self._bound:
            raise ValueError("semaphore or lock released too many times")
        pipe = self._pipeline()
        pipe.rpush(self._k(), b"1")
        pipe.expire(self._k(), self._ttl)
        self._run(pipe)

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


class RLock(RedisObject):
    """:class:`multiprocessing.RLock`: reentrant for the same thread of the same process."""

    _kind = "rlock"

    def __init__(self) -> None:
        super().__init__("owner", "count")

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        me = _me()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._call("set", self._k("owner"), me, self._ttl, None, True):
                self._call("set", self._k("count"), 1, self._ttl)
                return True
            if (self._call("get", self._k("owner")) or b"").decode() == me:
                self._call("incr", self._k("count"))
                return True
            if not block or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(_POLL_S)

    def release(self) -> None:
        if (self._call("get", self._k("owner")) or b"").decode() != _me():
            raise AssertionError("cannot release un-acquired lock")
        if int(self._call("decr", self._k("count"))) <= 0:
            self._call("delete", self._k("owner"), self._k("count"))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class Event(RedisObject):
    """:class:`multiprocessing.Event`."""

    _kind = "event"

    def is_set(self) -> bool:
        return bool(self._call("exists", self._k()))

    def set(self) -> None:
        self._call("set", self._k(), 1, self._ttl)

    def clear(self) -> None:
        self._call("delete", self._k())

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True


class Condition(RedisObject):
    """:class:`multiprocessing.Condition` over a :class:`Lock` (or the lock given)."""

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
        ticket = conn.new_key("ticket")
        pipe = self._pipeline()
        pipe.rpush(self._k("waiters"), ticket)
        pipe.expire(self._k("waiters"), self._ttl)
        self._run(pipe)
        self._lock.release()
        try:
            woken = _blocking_pop(self, ticket, timeout) is not None
        finally:
            self._lock.acquire()
        if not woken:
            self._call("lrem", self._k("waiters"), 1, ticket)
        return woken

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        for _ in range(n):
            ticket = self._call("lpop", self._k("waiters"))
            if ticket is None:
                return
            key = bytes(ticket).decode()
            pipe = self._pipeline()
            pipe.rpush(key, b"1")
            pipe.expire(key, self._ttl)
            self._run(pipe)

    def notify_all(self) -> None:
        self.notify(int(self._call("llen", self._k("waiters"))))


class Barrier(RedisObject):
    """:class:`multiprocessing.Barrier` for ``parties`` processes (reusable, generation
    counted; ``abort``/``broken`` are not supported)."""

    _kind = "barrier"

    def __init__(self, parties: int, action: Any = None, timeout: float | None = None) -> None:
        if parties < 1:
            raise ValueError("parties must be > 0")
        super().__init__("count", "generation")
        self.parties = parties
        self._action = action
        self._timeout = timeout

    def wait(self, timeout: float | None = None) -> int:
        timeout = self._timeout if timeout is None else timeout
        generation = int(self._call("get", self._k("generation")) or 0)
        arrived = int(self._call("incr", self._k("count")))
        self._touch()
        index = arrived - 1
        if arrived == self.parties:
            if self._action is not None:
                self._action()
            pipe = self._pipeline()
            pipe.set(self._k("count"), 0, self._ttl)
            pipe.incr(self._k("generation"))
            self._run(pipe)
            return index
        deadline = None if timeout is None else time.monotonic() + timeout
        while int(self._call("get", self._k("generation")) or 0) == generation:
            if deadline is not None and time.monotonic() >= deadline:
                raise threading.BrokenBarrierError
            time.sleep(_POLL_S)
        return index

    @property
    def n_waiting(self) -> int:
        return int(self._call("get", self._k("count")) or 0)


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
