"""``STREAM_STDOUT``: what processes and pool tasks print, on this terminal as they print it.

In the call, :func:`streaming` routes ``sys.stdout``/``sys.stderr``: the call's own output is
kept as usual, and each complete line the call's thread prints is also published on a Redis
pub/sub channel. In the
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
from lithops.multiprocessing.connection import KEY_PREFIX, RedisSettings, RedisUnavailableError

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


class _Publisher:
    """One call's lines of one stream: complete lines published as printed, the rest at
    ``flush``."""

    def __init__(self, target: StreamTarget, kind: bytes) -> None:
        self._target = target
        self._kind = kind
        self._partial = ""

    def add(self, text: str) -> None:
        self._partial += text
        head, newline, tail = self._partial.rpartition("\n")
        if newline:
            self._partial = tail
            self._publish(head + newline)

    def flush(self) -> None:
        pending, self._partial = self._partial, ""
        if pending:
            self._publish(pending)

    def _publish(self, text: str) -> bool:
        try:
            data = self._kind + text.encode()
            conn.call(self._target.where, "publish", self._target.channel, data)
        except LithopsError as exc:  # the output stays in the call's own log
            logger.warning("STREAM_STDOUT: %s", exc)
            return False
        return True


#: The publishers of the call the current thread runs, by stream (``_OUT``/``_ERR``).
_running = threading.local()


class _Router(io.TextIOBase):
    """Installed as ``sys.stdout``/``sys.stderr`` while calls stream: writes through to
    ``inner`` and hands the text to the publisher of the calling thread's call, if any (a
    backend may run several calls in threads of one process)."""

    def __init__(self, inner: TextIO, kind: bytes) -> None:
        self.inner = inner
        self._kind = kind

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        written = self.inner.write(text)
        publisher = getattr(_running, "publishers", {}).get(self._kind)
        if publisher is not None:
            publisher.add(text)
        return written

    def flush(self) -> None:
        self.inner.flush()


_routers_lock = threading.Lock()
_streaming_calls = 0


def _install_routers() -> None:
    global _streaming_calls
    with _routers_lock:
        _streaming_calls += 1
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout, _OUT)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr, _ERR)


def _remove_routers() -> None:
    global _streaming_calls
    with _routers_lock:
        _streaming_calls -= 1
        if _streaming_calls > 0:
            return
        if isinstance(sys.stdout, _Router):
            sys.stdout = sys.stdout.inner
        if isinstance(sys.stderr, _Router):
            sys.stderr = sys.stderr.inner


@contextmanager
def streaming(target: StreamTarget | None) -> Iterator[None]:
    """Publish what this thread prints to ``target`` (nothing when None) while the call runs;
    the output still goes where it went before."""
    if target is None:
        yield
        return
    publishers = {_OUT: _Publisher(target, _OUT), _ERR: _Publisher(target, _ERR)}
    _install_routers()
    _running.publishers = publishers
    try:
        yield
    finally:
        _running.publishers = {}
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for publisher in publishers.values():
            publisher.flush()
        _remove_routers()


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
                    raise RedisUnavailableError(
                        f"the Redis server at {where.where} did not confirm the STREAM_STDOUT "
                        f"subscription within 5 s; check the 'redis' config section"
                    )
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
        """Return once everything published so far on the channel has been written (at most
        ``SYNC_TIMEOUT_S``; a lost server is logged: the results do not depend on it)."""
        if self._stopped.is_set():
            return
        token = uuid.uuid4().hex.encode()
        done = threading.Event()
        with self._lock:
            self._waiting[token] = done
        try:
            conn.call(self.target.where, "publish", self.target.channel, _SYNC + token)
        except LithopsError as exc:
            with self._lock:
                self._waiting.pop(token, None)
            logger.warning("STREAM_STDOUT: %s", exc)
            return
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
