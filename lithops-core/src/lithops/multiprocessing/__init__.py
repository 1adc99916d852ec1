"""The :mod:`multiprocessing` API with lithops calls as the processes.

Programs written for :mod:`multiprocessing` run by changing the import::

    from lithops.multiprocessing import Pool, Process

    def square(x):
        return x * x

    with Pool() as pool:
        print(pool.map(square, range(10)))

    p = Process(target=print, args=("hello",))
    p.start()
    p.join()

Every task of a :class:`Pool` and every :class:`Process` runs as a call on the backend the
configuration names (``lithops.multiprocessing.config.set_parameter(LITHOPS_CONFIG, {...})``,
else lithops' usual lookup; localhost with no configuration). ``Queue``, ``Pipe``, ``Lock``,
``Value``, ``Manager().dict()`` and the other shared objects live in the Redis server of the
``redis`` config section (``host``, ``port``, ``password``, ``db``, ``ssl``); they need the
``redis`` client: ``pip install 'lithops-core[multiprocessing]'``.
"""

from __future__ import annotations

from multiprocessing import (
    AuthenticationError,
    BufferTooShort,
    ProcessError,
    TimeoutError,
)

from lithops.multiprocessing import config
from lithops.multiprocessing.connection import MissingRedisClientError, RedisUnavailableError
from lithops.multiprocessing.managers import Manager, SyncManager
from lithops.multiprocessing.pool import ApplyResult, AsyncResult, MapResult, Pool
from lithops.multiprocessing.process import (
    Process,
    active_children,
    cpu_count,
    current_process,
)
from lithops.multiprocessing.state import (
    Array,
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    JoinableQueue,
    Lock,
    Pipe,
    Queue,
    RLock,
    Semaphore,
    SimpleQueue,
    Value,
)

__all__ = [
    "ApplyResult",
    "Array",
    "AsyncResult",
    "AuthenticationError",
    "Barrier",
    "BoundedSemaphore",
    "BufferTooShort",
    "Condition",
    "Event",
    "JoinableQueue",
    "Lock",
    "Manager",
    "MapResult",
    "MissingRedisClientError",
    "Pipe",
    "Pool",
    "Process",
    "ProcessError",
    "Queue",
    "RLock",
    "RedisUnavailableError",
    "Semaphore",
    "SimpleQueue",
    "SyncManager",
    "TimeoutError",
    "Value",
    "active_children",
    "config",
    "cpu_count",
    "current_process",
]
