"""The base of every shared object kept in Redis, and how a process waits for one.

An object holds only its Redis settings and key names: pickled into a call, it reconnects
there. Each write renews the keys' expiry (``REDIS_EXPIRY_TIME`` seconds), and the process that
created an object deletes its keys at a clean exit.

Waiting never polls. A process that must wait registers a *ticket* (a key name of its own) in
one of the object's waiter lists, in the same Lua script that found it must wait, and blocks
on the ticket with ``BLPOP``. Whoever changes the state pops tickets from that list and pushes
a token onto each, again in one script, so no wake-up falls between a check and a wait. A
waiter whose timeout passes takes its ticket back atomically; if a wake-up came first, it gets
the token instead. ``BLPOP`` runs in rounds of at most a second, so a Redis server that dies
under a waiter is a :class:`~lithops.multiprocessing.connection.RedisUnavailableError` at once,
never a hang.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from lithops.multiprocessing import connection as conn
from lithops.multiprocessing.connection import RedisSettings

__all__ = ["BLOCK_S", "WAKE_LUA", "RedisObject"]

#: Longest single blocking Redis command: longer waits loop, so a dead server is noticed.
BLOCK_S = 1.0

#: Lua helper prepended to scripts that wake waiters: pops up to ``n`` tickets (all if n < 0)
#: from list ``waiters`` and pushes ``token`` onto each (with the keys' expiry).
WAKE_LUA = """
local function wake(waiters, n, token, ttl)
  local woken = 0
  while n < 0 or woken < n do
    local ticket = redis.call('lpop', waiters)
    if not ticket then break end
    redis.call('rpush', ticket, token)
    redis.call('expire', ticket, ttl)
    woken = woken + 1
  end
  return woken
end
"""

#: KEYS: waiters. ARGV: n (-1: all), token, ttl.
_WAKE = WAKE_LUA + "return wake(KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3])"

#: KEYS: waiters, ticket. Takes the ticket back (nil), or returns the token a waker pushed.
_CANCEL = """
if redis.call('lrem', KEYS[1], 1, KEYS[2]) == 1 then return false end
return redis.call('lpop', KEYS[2])
"""


class RedisObject:
    """Settings and keys; the keys are created (and owned) by the constructing process."""

    _kind = "object"

    def __init__(self, *parts: str) -> None:
        self._where: RedisSettings = conn.settings()
        conn.client(self._where)  # a missing redis client is an error here, not at first use
        self._base = conn.new_key(self._kind)
        self._keys = {p: f"{self._base}:{p}" for p in (parts or ("v",))}
        self._ttl = conn.expiry()
        conn.register_keys(self._where, *self._keys.values())

    def _k(self, part: str = "v") -> str:
        return self._keys[part]

    def _call(self, method: str, *args: Any) -> Any:
        return conn.call(self._where, method, *args)

    def _script(self, source: str, keys: list[str], *args: Any) -> Any:
        return conn.call_script(self._where, source, keys, [*args])

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

    # -- waiting -------------------------------------------------------------------------------

    def _pop(self, key: str, timeout: float | None) -> bytes | None:
        """BLPOP ``key`` in rounds of at most ``BLOCK_S``; None past ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            if deadline is None:
                wait = BLOCK_S
            else:
                wait = min(BLOCK_S, deadline - time.monotonic())
                if wait <= 0:
                    popped = self._call("lpop", key)
                    return None if popped is None else bytes(popped)
            found = self._call("blpop", [key], max(wait, 0.001))
            if found is not None:
                return bytes(found[1])

    def _ticket(self) -> str:
        """A fresh ticket name (a key that exists only while a token waits on it)."""
        return f"{self._base}:ticket:{uuid.uuid4().hex}"

    def _await(self, waiters: str, ticket: str, timeout: float | None) -> bytes | None:
        """Block until a waker pushes a token onto ``ticket`` (registered in list ``waiters``);
        past ``timeout``, take the ticket back: None, unless a token came first."""
        token = self._pop(ticket, timeout)
        if token is not None:
            return token
        found = self._script(_CANCEL, [waiters, ticket])
        return None if found is None else bytes(found)

    def _wake(self, waiters: str, n: int = -1, token: bytes = b"1") -> int:
        """Wake ``n`` waiters of list ``waiters`` (all when negative); how many were woken."""
        return int(self._script(_WAKE, [waiters], n, token, self._ttl))
