"""Where object chunks begin and end, and a reader that yields exactly one chunk's bytes.

An object of ``size`` bytes is split into *nominal* byte ranges ``[lo, hi)``
(:func:`nominal_ranges`). Without a newline the chunk is its nominal range. With a newline
``nl`` the chunk is moved to line boundaries so that every line is in exactly one chunk, whole:

* a *line start* is position 0 or the position just after an occurrence of ``nl``;
* ``ls(x)`` is the first line start at or after ``x`` (``size`` when there is none);
* the chunk of nominal range ``[lo, hi)`` is ``[ls(lo), ls(hi))``; the first begins at 0 and
  the last ends at ``size``.

Consecutive chunks therefore share their boundary, so together they cover the object with no
byte twice and no byte missing (Lithops 3.x read overlapping ranges and could drop or repeat
lines). A chunk is empty when a line longer than a chunk swallows its whole nominal range.
Each chunk is computed alone from a little context before ``lo`` and the bytes up to the first
newline at or after ``hi``: no reader needs another chunk's result.

For separators that can overlap themselves (``"\\n\\n"``), "occurrence" means any position
where the separator occurs; ``"\\n"`` and ``"\\r\\n"`` have no such ambiguity.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from typing import IO, Any

from lithops.storage.utils import StorageError

__all__ = ["ChunkStream", "Fetch", "iter_chunk", "nominal_ranges"]

#: ``fetch(start, stop)``: a readable binary stream of the object's bytes ``[start, stop)``.
Fetch = Callable[[int, int], IO[bytes]]

_BLOCK = 1 << 16
#: Read this far past a chunk's nominal end in the first request, to finish its last line
#: without a second round trip in the common case.
_LOOKAHEAD = 1 << 16
_MAX_WINDOW = 1 << 24


def nominal_ranges(
    size: int, chunk_size: int | None = None, chunk_number: int | None = None
) -> list[tuple[int, int]]:
    """Split ``size`` bytes into nominal ``[lo, hi)`` ranges.

    ``chunk_number`` (which wins when both are given, as in Lithops) gives exactly that many
    ranges of near-equal size (fewer only when the object has fewer bytes); ``chunk_size``
    gives ranges of that many bytes, the last one shorter. Neither: one range. An empty object
    is one empty range, so each object still gets one call.
    """
    if size <= 0:
        return [(0, 0)]
    if chunk_number:
        k = max(1, min(int(chunk_number), size))
        bounds = [i * size // k for i in range(k + 1)]
        return list(itertools.pairwise(bounds))
    if chunk_size:
        cs = int(chunk_size)
        return [(lo, min(size, lo + cs)) for lo in range(0, size, cs)]
    return [(0, size)]


class _Cursor:
    """Sequential reads of an object from a position on, through ranged fetches."""

    def __init__(self, fetch: Fetch, pos: int, size: int, first_stop: int) -> None:
        self._fetch = fetch
        self.pos = pos
        self._size = size
        self._first_stop = min(size, first_stop)
        self._stream: IO[bytes] | None = None
        self._stream_stop = pos
        self._window = _LOOKAHEAD

    def read(self, n: int, limit: int | None = None) -> bytes:
        """Up to ``n`` bytes, never past ``limit``; ``b""`` at ``limit`` or the object's end."""
        limit = self._size if limit is None else min(limit, self._size)
        if self.pos >= limit:
            return b""
        if self._stream is None or self.pos >= self._stream_stop:
            self.close()
            stop = min(self._size, max(self._first_stop, self.pos + self._window))
            self._window = min(self._window * 2, _MAX_WINDOW)
            self._stream = self._fetch(self.pos, stop)
            self._stream_stop = stop
        data = self._stream.read(min(n, limit - self.pos, self._stream_stop - self.pos))
        if not data:
            raise StorageError(
                f"the object ended at byte {self.pos}, before the {self._size} bytes it had "
                f"when the job was built; was it changed or truncated while the job ran?"
            )
        self.pos += len(data)
        return data

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def iter_chunk(fetch: Fetch, lo: int, hi: int, size: int, newline: bytes | None) -> Iterator[bytes]:
    """Yield the bytes of the chunk whose nominal range is ``[lo, hi)`` (see module docs)."""
    if newline is not None and not newline:
        raise ValueError("the newline separator must not be empty; use None for byte chunks")
    if hi <= lo and not (lo == 0 and hi == size):
        return
    if newline is None or (lo == 0 and hi >= size):
        cursor = _Cursor(fetch, lo, size, hi)
        try:
            while block := cursor.read(_BLOCK, limit=hi):
                yield block
        finally:
            cursor.close()
        return

    nl, width = newline, len(newline)
    start = 0 if lo == 0 else max(0, lo - width)
    cursor = _Cursor(fetch, start, size, hi + _LOOKAHEAD)
    try:
        # Phase 1: find ls(lo), looking no further than hi (beyond it the chunk is empty).
        buf, tail = b"", b""  # tail: the last `width` raw bytes read, context for phase 3
        if lo > 0:
            while (idx := buf.find(nl)) < 0:
                block = cursor.read(_BLOCK, limit=hi)
                if not block:
                    return  # no line starts in [lo, hi)
                tail = (tail + block)[-width:]
                buf = buf[len(buf) - (width - 1) :] + block if width > 1 else block
            if cursor.pos - len(buf) + idx + width >= hi:
                return  # the first line start is at hi: it belongs to the next chunk
            buf = buf[idx + width :]
        # Phase 2: everything up to hi is ours.
        if buf:
            yield buf
        while block := cursor.read(_BLOCK, limit=hi):
            tail = (tail + block)[-width:]
            yield block
        if hi >= size:
            return
        # Phase 3: continue to the end of the first separator that ends at or after hi.
        data, emitted = tail, len(tail)
        while (idx := data.find(nl)) < 0:
            if emitted < len(data):
                yield data[emitted:]
            block = cursor.read(_BLOCK)
            if not block:
                return  # the last line has no separator: it ends with the object
            keep = data[len(data) - (width - 1) :] if width > 1 else b""
            data, emitted = keep + block, len(keep)
        if idx + width > emitted:
            yield data[emitted : idx + width]
    finally:
        cursor.close()


class ChunkStream(io.RawIOBase):
    """A raw file object over an iterator of bytes blocks (those of :func:`iter_chunk`, say);
    wrap it in a BufferedReader."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._blocks)
            except StopIteration:
                return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()
        super().close()
