"""The one wire format every backend speaks between client and worker.

A stream (pipe, SSH channel, socket) carries frames: a 4-byte big-endian length, then a pickled
``dict`` message whose ``"t"`` key names its type. Serverless backends carry one encoded message
as the invocation payload and one as the response, without the length prefix.

The first frame a worker writes is ``hello``, carrying ``WIRE_VERSION``. Peers with the same
major version interoperate (a minor bump only adds optional keys, which readers ignore when
unknown and default when missing); a different major fails at once with :class:`WireVersionError`.

Messages (client -> worker):

* ``batch``: ``wire`` (the sender's ``WIRE_VERSION``; a worker refuses another major, see
  :func:`check_batch`), ``job_key``, ``func_key``, ``func`` (cloudpickled function, or ``None``
  when the worker already has ``func_key`` or gets it from a ``function`` message first),
  ``calls`` (list of call ids), ``args`` (cloudpickled list of ``(args, kwargs)``, one per call),
  ``timeout``, ``env`` (extra environment), ``storage`` (non-secret storage settings: backend
  name, bucket, root), ``inject``, ``runtime_memory``
* ``function``: ``wire``, ``func_key``, ``func``: a job's function, cached by the worker under
  its key for the batches that follow (since 1.1)
* ``cancel``: ``keys`` (list of ``(job_key, call_id)``)
* ``stop``: the worker exits after the current call

Messages (worker -> client):

* ``hello``: ``wire``, ``lithops`` (version), ``python`` (``"3.11"``), ``pid``, ``host``
* ``results``: ``wire``, ``records`` (result records, see :mod:`lithops.worker`), ``running``
  (the call now running as ``[job_key, call_id, since]`` or ``None``)
* ``log``: ``key``, ``lines`` (list of ``(tstamp, text)``)
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
import sys
from typing import IO, Any

from lithops.errors import WireVersionError
from lithops.version import __version__

__all__ = [
    "FUNCTION_CACHE_SIZE",
    "OUT_OF_BAND_BYTES",
    "WIRE_VERSION",
    "check_batch",
    "check_hello",
    "decode",
    "encode",
    "function_message",
    "hello_message",
    "read_frame",
    "read_message",
    "write_frame",
    "write_message",
]

#: (major, minor). Bump minor for additive changes, major for anything a peer cannot ignore.
WIRE_VERSION = (1, 1)

#: Functions a worker keeps unpickled, by key (least recently used dropped first). Backends
#: that send a function once per worker mirror it (``lithops.plugins.types.FunctionTracker``).
FUNCTION_CACHE_SIZE = 16

_HEADER = struct.Struct(">I")
_PROTOCOL = 5
#: Set in a frame's length word: a multipart frame (pickle + out-of-band buffers) follows.
_MULTIPART = 0x8000_0000
_COUNT = struct.Struct(">I")
_SIZE = struct.Struct(">Q")

#: ``bytes`` this large, wrapped in ``pickle.PickleBuffer`` by the sender, travel out of band:
#: written and read once, never copied into or out of the message's pickle.
OUT_OF_BAND_BYTES = 256 << 10


def encode(message: dict[str, Any]) -> bytes:
    return pickle.dumps(message, protocol=_PROTOCOL)


def decode(data: bytes) -> dict[str, Any]:
    message = pickle.loads(data)
    if not isinstance(message, dict) or "t" not in message:
        raise WireVersionError("received a frame that is not a lithops wire message")
    return message


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """Write one frame; the caller flushes (or holds a lock across several frames)."""
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)


def read_frame(stream: IO[bytes]) -> bytes | None:
    """Read one frame, or ``None`` at a clean end of stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    payload = _read_exactly(stream, size)
    if payload is None:
        raise EOFError("stream ended inside a frame")
    return payload


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if not data:
        return None
    if len(data) == size:
        return data
    chunks = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            raise EOFError("stream ended inside a frame")
        chunks.append(more)
        got += len(more)
    return b"".join(chunks)


def _python_minor() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def write_message(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write ``message``; ``pickle.PickleBuffer`` values in it go out of band (multipart
    frame), so large results cross a pipe without extra copies. The caller flushes."""
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(message, protocol=_PROTOCOL, buffer_callback=buffers.append)
    if not buffers:
        write_frame(stream, payload)
        return
    raws = [b.raw() for b in buffers]
    stream.write(_HEADER.pack(_MULTIPART | len(payload)) + _COUNT.pack(len(raws)))
    stream.write(b"".join(_SIZE.pack(r.nbytes) for r in raws))
    stream.write(payload)
    for raw in raws:
        stream.write(raw)


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """Read one message written by :func:`write_message` (or :func:`write_frame`), or
    ``None`` at a clean end of stream. Out-of-band values arrive as ``bytearray``."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if not size & _MULTIPART:
        payload = _read_exactly(stream, size)
        if payload is None:
            raise EOFError("stream ended inside a frame")
        return decode(payload)
    count_bytes = _read_exactly(stream, _COUNT.size)
    if count_bytes is None:
        raise EOFError("stream ended inside a frame")
    (count,) = _COUNT.unpack(count_bytes)
    sizes_bytes = _read_exactly(stream, _SIZE.size * count) if count else b""
    payload = _read_exactly(stream, size & ~_MULTIPART)
    if sizes_bytes is None or payload is None:
        raise EOFError("stream ended inside a frame")
    buffers = []
    for (length,) in _SIZE.iter_unpack(sizes_bytes):
        buffer = bytearray(length)
        view = memoryview(buffer)
        got = 0
        while got < length:
            n = stream.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                raise EOFError("stream ended inside a frame")
            got += n
        buffers.append(buffer)
    message = pickle.loads(payload, buffers=buffers)
    if not isinstance(message, dict) or "t" not in message:
        raise WireVersionError("received a frame that is not a lithops wire message")
    return message


def hello_message() -> dict[str, Any]:
    return {
        "t": "hello",
        "wire": WIRE_VERSION,
        "lithops": __version__,
        "python": _python_minor(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def check_hello(message: dict[str, Any], where: str) -> None:
    """Raise :class:`WireVersionError` unless ``message`` is a compatible ``hello``."""
    if message.get("t") != "hello":
        raise WireVersionError(f"worker at {where} did not greet with a lithops hello message")
    major = next(iter(message.get("wire", (0, 0))))
    if major != WIRE_VERSION[0]:
        raise WireVersionError(
            f"worker at {where} runs lithops {message.get('lithops')} speaking wire format "
            f"{major}.x, this client runs {__version__} speaking {WIRE_VERSION[0]}.x; install the "
            f"same lithops major version on both sides (`lithops clean` removes stale workers)"
        )
    mine = _python_minor()
    if message.get("python") != mine:
        raise WireVersionError(
            f"worker at {where} runs Python {message.get('python')}, this client runs Python "
            f"{mine}; pickled functions only travel between the same Python minor version. "
            f"Use a runtime (interpreter or image) with Python {mine}"
        )


def function_message(func_key: str, func: bytes) -> bytes:
    """An encoded ``function`` message: gives a worker a job's function ahead of its batches."""
    return encode({"t": "function", "wire": WIRE_VERSION, "func_key": func_key, "func": func})


def check_batch(message: dict[str, Any]) -> None:
    """On a worker: raise :class:`WireVersionError` unless ``message`` (a ``batch`` or
    ``function``) comes from a client of this wire major version. A message without ``wire``
    comes from a 1.0 client, which did not send it."""
    version = message.get("wire") or (1, 0)
    major = next(iter(version))
    if major != WIRE_VERSION[0]:
        raise WireVersionError(
            f"this worker runs lithops {__version__} (wire format {WIRE_VERSION[0]}.x) and "
            f"received a batch in wire format {major}.x: the client and the worker run different "
            f"lithops major versions. Install the client's lithops version in the runtime "
            f"(or the runtime's on the client); for a deployed serverless runtime, delete it "
            f"(`lithops runtime delete`) so that the client deploys its own"
        )
