"""File objects over the raw socket of a Docker exec attached with ``tty=False``.

Docker multiplexes the exec's stdout and stderr onto one stream: each chunk comes after an
8-byte header (stream type: 1 stdout, 2 stderr; three zero bytes; big-endian payload size).
Stdin goes the other way unframed, and half-closing the socket is the exec's end of stdin.

:class:`ExecStream` demultiplexes on the reading thread itself, with no thread of its own: the
stdout reader (the worker pool's reader thread) handles stderr chunks as it meets them.
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

_HEADER = struct.Struct(">B3sI")
_STDIN, _STDOUT, _STDERR = 0, 1, 2
_STDERR_TAIL = 50

log = logging.getLogger(__name__)


class ExecStream:
    """One exec's socket: ``stdout`` (demultiplexed), ``stdin`` (buffered), stderr tail.

    :param sock: the exec's raw socket (``exec_start(..., socket=True)._sock``).
    :param name: how stderr lines are labelled in the log.
    :param on_first_stderr_line: receives the exec's first stderr line instead of the log and
        the tail (the worker's PID, written before the worker starts).
    """

    def __init__(
        self,
        sock: Any,
        name: str,
        on_first_stderr_line: Callable[[str], None] | None = None,
    ) -> None:
        self._sock = sock
        # ssh:// engines hand back a paramiko channel, which has recv but no recv_into.
        self._has_recv_into = hasattr(sock, "recv_into")
        self.name = name
        self._first_line_hook = on_first_stderr_line
        self._kind = 0  # stream type of the chunk being read
        self._left = 0  # payload bytes of that chunk still in the socket
        self._stderr_partial = bytearray()
        self._stderr_lines: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        self._eof = False
        self._stdin_closed = False
        self._lock = threading.Lock()  # closing is called from the reader and writer sides
        self.stdout: io.BufferedReader = io.BufferedReader(_StdoutRaw(self))
        self.stdin: io.BufferedWriter = io.BufferedWriter(_StdinRaw(self))

    # -- reading -----------------------------------------------------------------------------

    def read_stdout_into(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with stdout bytes; 0 only at the end of the stream."""
        while self._next_chunk():
            if self._kind == _STDOUT:
                return self._recv_into(buffer[: min(len(buffer), self._left)])
            self._drain_chunk()
        return 0

    def stderr_tail(self) -> list[str]:
        """The last stderr lines seen so far (at most 50)."""
        tail = list(self._stderr_lines)
        if self._stderr_partial:
            tail.append(self._stderr_partial.decode("utf-8", "replace"))
        return tail

    def _next_chunk(self) -> bool:
        """Make sure a chunk with unread payload is current; ``False`` at the end of stream."""
        while self._left == 0:
            if self._eof:
                return False
            header = self._recv_exactly(_HEADER.size)
            if len(header) < _HEADER.size:
                self._at_eof()
                return False
            kind, padding, size = _HEADER.unpack(header)
            if kind > _STDERR or padding != b"\0\0\0":
                # Not multiplexed: the engine wrote an error of its own (e.g. the exec could not
                # start). Keep it all as stderr text, for exit_description, and end stdout.
                self._keep_stderr(header + self._recv_rest())
                self._flush_partial_line()
                self._at_eof()
                return False
            self._kind, self._left = kind, size
        return True

    def _drain_chunk(self) -> None:
        data = self._recv_exactly(self._left)
        self._left = 0
        if self._kind == _STDERR:
            self._keep_stderr(data)

    def _keep_stderr(self, data: bytes) -> None:
        self._stderr_partial += data
        *lines, rest = self._stderr_partial.split(b"\n")
        self._stderr_partial = bytearray(rest)
        for raw in lines:
            self._stderr_line(raw.decode("utf-8", "replace"))

    def _flush_partial_line(self) -> None:
        if self._stderr_partial:
            line = self._stderr_partial.decode("utf-8", "replace")
            self._stderr_partial.clear()
            self._stderr_line(line)

    def _stderr_line(self, line: str) -> None:
        if self._first_line_hook is not None:
            hook, self._first_line_hook = self._first_line_hook, None
            hook(line)
            return
        self._stderr_lines.append(line)
        log.debug("%s stderr: %s", self.name, line)

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
        """``size`` bytes, or fewer at the end of the stream."""
        chunks = bytearray()
        while len(chunks) < size:
            data = self._recv(size - len(chunks))
            if not data:
                break
            chunks += data
        return bytes(chunks)

    def _recv_rest(self) -> bytes:
        chunks = bytearray()
        while data := self._recv(65536):
            chunks += data
        return bytes(chunks)

    def _recv(self, size: int) -> bytes:
        try:
            return bytes(self._sock.recv(size))
        except OSError:
            return b""  # the socket was closed under us (kill() fallback, close()): EOF

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
