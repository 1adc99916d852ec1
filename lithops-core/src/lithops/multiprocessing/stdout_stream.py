"""``STREAM_STDOUT``: what processes and pool tasks print, on this terminal as they print it.

In the call, :func:`streaming` tees ``sys.stdout``/``sys.stderr``: the call's own output is
kept as usual, and each complete line is also published on a Redis pub/sub channel. In the
caller, one :class:`OutputFeed` per Redis server (a daemon thread, subscribed before any call
starts) writes what arrives to ``sys.stdout``/``sys.stderr``. :meth:`OutputFeed.sync` publishes
a marker and waits until the feed has seen it: Redis delivers a channel's messages in the order
it received them, so everything a finished call printed has been written by then. Channels
are not keys: nothing is left in Redis.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from lithops.errors import LithopsError
from lithops.multiprocessing import config as mp_config
from lithops.multiprocessing import connection as conn
from lithops.multiprocessing.connection import KEY_PREFIX, RedisSettings

__all__ = ["OutputFeed", "StreamTarget", "current_feed", "feed_for", "streaming"]

logger = logging.getLogger(__name__)

_OUT, _ERR, _SYNC = b"o", b"e", b"s"
#: Longest wait of ``sync`` for the feed: a feed that lost its server must not hang a join.
SYNC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class StreamTarget:
    """Where a call publishes its output (travels, pickled, with the call)."""

    where: RedisSettings
    channel: str


class _Tee(io.TextIOBase):
    """Writes through to ``inner`` and publishes complete lines (the rest at ``flush``)."""

    def __init__(self, inner: TextIO, target: StreamTarget, kind: bytes) -> None:
        self.inner = inner
        self._target = target
        self._kind = kind
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.inner.write(text)
        with self._lock:
            self._partial += text
            head, newline, tail = self._partial.rpartition("\n")
            if not newline:
                return len(text)
            self._partial = tail
        self._publish(head + newline)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            pending, self._partial = self._partial, ""
        if pending:
            self._publish(pending)
        self.inner.flush()

    def _publish(self, text: str) -> None:
        try:
            data = self._kind + text.encode()
            conn.call(self._target.where, "publish", self._target.channel, data)
        except LithopsError as exc:  # the output stays in the call's own log
            self.inner.write(f"[lithops.multiprocessing] STREAM_STDOUT: {exc}\n")


@contextmanager
def streaming(target: StreamTarget | None) -> Iterator[None]:
    """Tee this call's stdout and stderr to ``target`` (nothing when None)."""
    if target is None:
        yield
        return
    out = _Tee(sys.stdout, target, _OUT)
    err = _Tee(sys.stderr, target, _ERR)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        for tee in (out, err):
            tee.flush()
        if sys.stdout is out:
            sys.stdout = out.inner
        if sys.stderr is err:
            sys.stderr = err.inner


class OutputFeed:
    """Subscribed to one channel of ``where``; writes what calls print to this terminal."""

    def __init__(self, where: RedisSettings) -> None:
        self.target = StreamTarget(where, f"{KEY_PREFIX}:stdout:{uuid.uuid4().hex}")
        self._pubsub = conn.client(where).pubsub()

        def subscribe() -> None:  # confirmed before any call can publish
            self._pubsub.subscribe(self.target.channel)
            while True:
                message = self._pubsub.get_message(timeout=5.0)
                if message is None:
                    raise TimeoutError(f"no SUBSCRIBE confirmation from {where.where}")
                if message["type"] == "subscribe":
                    return

        conn.call_with(where, subscribe)
        self._waiting: dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True, name="lithops-mp-out")
        self._thread.start()

    def _follow(self) -> None:
        try:
            while not self._stopped.is_set():
                message = conn.call_with(
                    self.target.where, lambda: self._pubsub.get_message(timeout=1.0)
                )
                if message is None or message["type"] != "message":
                    continue
                data = bytes(message["data"])
                kind, body = data[:1], data[1:]
                if kind == _SYNC:
                    with self._lock:
                        done = self._waiting.pop(body, None)
                    if done is not None:
                        done.set()
                    continue
                stream = sys.stderr if kind == _ERR else sys.stdout
                stream.write(body.decode(errors="replace"))
                stream.flush()
        except LithopsError as exc:
            logger.warning("STREAM_STDOUT stopped: %s", exc)
        finally:
            self._stopped.set()
            with self._lock:
                for done in self._waiting.values():
                    done.set()
                self._waiting.clear()
            try:
                self._pubsub.close()
            except Exception:  # closing a connection to a server that is gone
                pass

    def sync(self) -> None:
        """Return once everything published so far on the channel has been written."""
        if self._stopped.is_set():
            return
        token = uuid.uuid4().hex.encode()
        done = threading.Event()
        with self._lock:
            self._waiting[token] = done
        try:
            conn.call(self.target.where, "publish", self.target.channel, _SYNC + token)
        except LithopsError:
            with self._lock:
                self._waiting.pop(token, None)
            raise
        if not done.wait(SYNC_TIMEOUT_S):
            logger.warning("STREAM_STDOUT: the output feed lags more than %s s", SYNC_TIMEOUT_S)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)


_feeds: dict[tuple[int, RedisSettings], OutputFeed] = {}
_feeds_lock = threading.Lock()


def feed_for(where: RedisSettings) -> OutputFeed:
    """This process's feed for ``where`` (subscribed at first use, stopped at exit)."""
    key = (os.getpid(), where)
    with _feeds_lock:
        feed = _feeds.get(key)
        if feed is None or not feed._thread.is_alive():
            if not _feeds:
                atexit.register(_stop_all)
            feed = _feeds[key] = OutputFeed(where)
        return feed


def _stop_all() -> None:
    with _feeds_lock:
        feeds = list(_feeds.values())
        _feeds.clear()
    for feed in feeds:
        feed.stop()


def current_feed() -> OutputFeed | None:
    """The feed of the calls started now: None unless ``STREAM_STDOUT`` is on."""
    if not mp_config.get_parameter(mp_config.STREAM_STDOUT):
        return None
    return feed_for(conn.settings())
