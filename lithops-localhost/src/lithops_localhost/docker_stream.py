"""File objects over the raw socket of a Docker exec attached with ``tty=False``.

Docker multiplexes the exec's stdout and stderr onto one stream: each chunk comes after an
8-byte header (stream type: 1 stdout, 2 stderr; three zero bytes; big-endian payload size).
Stdin goes the other way unframed, and half-closing the socket is the exec's end of stdin.

:class:`ExecStream` demultiplexes on the reading thread itself, with no thread of its own: the
stdout reader (the worker pool's reader thread) drains stderr chunks as it meets them.
"""

from __future__ import annotations

import collections
import io
import logging
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ExecStream"]

_HEADER = struct.Struct(">BxxxI")
_STDOUT, _STDERR = 1, 2
_STDERR_TAIL = 50

log = logging.getLogger(__name__)


class ExecStream:
    """One exec's socket: ``stdout`` (demultiplexed), ``stdin`` (buffered), stderr tail.

    :param sock: the exec's raw socket (``exec_start(..., socket=True)._sock``).
    :param name: how stderr lines are labelled in the log.
    """

    def __init__(self, sock: socket.socket, name: str) -> None:
        self._sock = sock
        # ssh:// engines hand back a paramiko channel, which has recv but no recv_into.
        self._has_recv_into = hasattr(sock, "recv_into")
        self._name = name
        self._kind = 0  # stream type of the chunk being read; 0 between chunks
        self._left = 0  # payload bytes of that chunk still in the socket
        self._stdout_early = bytearray()  # stdout met while waiting for a stderr line
        self._stderr_partial = bytearray()
        self._stderr_lines: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self._new_stderr: collections.deque[str] = collections.deque()
        self._eof = False
        self._stdin_closed = False
        self._lock = threading.Lock()  # closing is called from the reader and writer sides
        self.on_stderr_line: Callable[[str], None] | None = None
        self.stdout: io.BufferedReader = io.BufferedReader(_StdoutRaw(self))
        self.stdin: io.BufferedWriter = io.BufferedWriter(_StdinRaw(self))

    # -- reading -----------------------------------------------------------------------------

    def read_stdout_into(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with stdout bytes; 0 only at the end of the stream."""
        if self._stdout_early:
            size = min(len(buffer), len(self._stdout_early))
            buffer[:size] = self._stdout_early[:size]
            del self._stdout_early[:size]
            return size
        while True:
            if not self._next_chunk():
                return 0
            if self._kind == _STDOUT:
                got = self._recv_into(buffer[: min(len(buffer), self._left)])
                if got:
                    return got
                return 0
            self._drain_chunk()

    def read_stderr_line(self) -> str | None:
        """The next stderr line (stdout met meanwhile is kept for ``stdout``); ``None`` at EOF."""
        while not self._new_stderr:
            if not self._next_chunk():
                return None
            if self._kind == _STDOUT:
                self._stdout_early += self._recv_exactly(self._left)
            else:
                self._drain_chunk()
        return self._new_stderr.popleft()

    def stderr_tail(self) -> list[str]:
        """The last stderr lines seen so far (at most 50)."""
        tail = list(self._stderr_lines)
        if self._stderr_partial:
            tail.append(self._stderr_partial.decode("utf-8", "replace"))
        return tail

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def _next_chunk(self) -> bool:
        """Make sure a chunk with unread payload is current; ``False`` at the end of stream."""
        while self._left == 0:
            header = self._recv_exactly(_HEADER.size)
            if len(header) < _HEADER.size:
                self._at_eof()
                return False
            self._kind, self._left = _HEADER.unpack(header)
        return True

    def _drain_chunk(self) -> None:
        """Consume the current non-stdout chunk; stderr lines go to the log and the tail."""
        data = self._recv_exactly(self._left)
        if self._kind != _STDERR:
            return
        self._stderr_partial += data
        *lines, rest = self._stderr_partial.split(b"\n")
        self._stderr_partial = bytearray(rest)
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            self._stderr_lines.append(line)
            self._new_stderr.append(line)
            log.debug("%s stderr: %s", self._name, line)
            if self.on_stderr_line is not None:
                self.on_stderr_line(line)
        # Nobody waits for lines once the PID line has been read; keep only the tail.
        while len(self._new_stderr) > _STDERR_TAIL:
            self._new_stderr.popleft()

    def _recv_into(self, buffer: memoryview) -> int:
        try:
            if self._has_recv_into:
                got = self._sock.recv_into(buffer)
            else:
                data = self._sock.recv(len(buffer))
                got = len(data)
                buffer[:got] = data
        except OSError:
            got = 0
        if got == 0:
            self._left = 0
            self._at_eof()
            return 0
        self._left -= got
        return got

    def _recv_exactly(self, size: int) -> bytes:
        """``size`` bytes, or fewer at the end of the stream (a socket timeout propagates)."""
        chunks = bytearray()
        while len(chunks) < size:
            try:
                data = self._sock.recv(size - len(chunks))
            except TimeoutError:
                raise
            except OSError:
                data = b""
            if not data:
                self._left = 0
                break
            chunks += data
            if self._left:
                self._left -= len(data)
        return bytes(chunks)

    # -- writing and closing -----------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_stdin(self) -> None:
        """Half-close: the exec sees EOF on stdin, its output still flows back."""
        with self._lock:
            if self._stdin_closed:
                return
            self._stdin_closed = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # already gone: the process died or the socket was closed
            self._close_if_done()

    def close(self) -> None:
        """Drop the connection entirely: a blocked stdout read returns EOF."""
        with self._lock:
            self._stdin_closed = True
            self._eof = True
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()

    def _at_eof(self) -> None:
        with self._lock:
            self._eof = True
            self._close_if_done()

    def _close_if_done(self) -> None:
        # Both directions finished: release the file descriptor now rather than at GC.
        if self._eof and self._stdin_closed:
            self._sock.close()


class _StdoutRaw(io.RawIOBase):
    def __init__(self, stream: ExecStream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # any writable buffer
        return self._stream.read_stdout_into(memoryview(buffer).cast("B"))


class _StdinRaw(io.RawIOBase):
    def __init__(self, stream: ExecStream) -> None:
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # any bytes-like object
        view = memoryview(data)
        self._stream.send(view.tobytes())
        return len(view)

    def close(self) -> None:
        if not self.closed:
            self._stream.close_stdin()
        super().close()
