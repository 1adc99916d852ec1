"""Messages between a client and a host's agent (through the relay), on top of the core wire
format (:mod:`lithops.wire` framing and encoding).

Client -> agent:

* ``attach``: ``client`` (a label), ``runtime`` (``None``: the host's python3; else a Docker
  image), ``workers`` (``None``: CPU count), ``soft``/``hard`` (dismantle timeouts, s),
  ``on_dismantle`` (shell command run after an idle dismantle, or ``None``). Answered by ``hello``.
* ``submit``: ``job_key``, ``calls`` (keys), ``timeout``, ``func_key``, ``message`` (the encoded
  wire ``batch`` for exactly these calls).
* ``cancel``: ``keys``.  ``ping``: liveness, both ways.
* ``detach``: ``dismantle`` (stop the agent as soon as no client and no work remain).
* ``status``: answered by ``status`` (what ``lithops worker list`` shows).
* ``stop``: dismantle now (``lithops standalone clean``).

Agent -> client: ``hello`` (the wire hello plus ``slots``, ``agent_pid``, ``started``), ``results``
(``records``), ``lost`` (``keys``, ``error``: the exception), ``requeue`` (``keys``), ``log``
(``key``, ``lines``), ``ping``, ``status``, ``error`` (``message``: attach failed).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import IO, Any, cast

from lithops import wire
from lithops.plugins.types import CallKey

__all__ = [
    "PING_INTERVAL",
    "SILENCE_TIMEOUT",
    "STATUS_PREFIX",
    "ActivityReader",
    "SocketWriter",
    "call_key",
    "out_of_band",
]

#: Both sides send a ``ping`` at least this often (seconds).
PING_INTERVAL = 1.0
#: A peer silent for this long is gone: the client fails its calls, the agent drops the client.
SILENCE_TIMEOUT = 6.0
#: The first stdout line of the attach command starts with this (see :mod:`.bootstrap`).
STATUS_PREFIX = b"LITHOPS-STATUS "


def call_key(value: Any) -> CallKey:
    """A call key as a tuple (pickled frames may carry it as a list)."""
    return (value[0], value[1])


class ActivityReader:
    """A blocking byte stream over ``recv`` that notes when bytes last arrived.

    Liveness is judged per chunk, not per frame: a peer sending one huge frame (a 1 GB
    result) is alive as long as its bytes keep coming.
    """

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self.last_data = time.monotonic()

    def read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        got = 0
        while got < size:
            data = self._recv(min(size - got, 1 << 20))
            if not data:
                break
            self.last_data = time.monotonic()
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def readinto(self, view: memoryview) -> int:
        data = self._recv(min(len(view), 1 << 20))
        if data:
            self.last_data = time.monotonic()
            view[: len(data)] = data
        return len(data)

    def readline(self, limit: int = 4096) -> bytes:
        """One ``\n``-terminated line, byte by byte (nothing is read past it)."""
        line = bytearray()
        while len(line) < limit:
            data = self._recv(1)
            if not data:
                break
            line += data
            if data == b"\n":
                break
        self.last_data = time.monotonic()
        return bytes(line)

    def read_message(self) -> dict[str, Any] | None:
        """The next message (:func:`lithops.wire.read_message`: plain or multipart frame)."""
        return wire.read_message(cast(IO[bytes], self))


class SocketWriter:
    """What :func:`lithops.wire.write_message` writes to: every write goes out at once."""

    def __init__(self, sendall: Callable[[bytes], None]) -> None:
        self._sendall = sendall

    def write(self, data: bytes) -> int:
        self._sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


def out_of_band(message: dict[str, Any]) -> dict[str, Any]:
    """Mark the large result values of a ``results`` message to travel out of band (as the
    worker sent them), so relaying them copies nothing into a pickle."""
    if message.get("t") != "results":
        return message
    for record in message["records"]:
        value = record.get("value")
        if isinstance(value, memoryview | bytearray) or (
            isinstance(value, bytes) and len(value) >= wire.OUT_OF_BAND_BYTES
        ):
            record["value"] = pickle.PickleBuffer(value)
    return message
