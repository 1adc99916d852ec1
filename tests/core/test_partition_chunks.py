"""Chunk boundaries: every line in exactly one chunk, whole; byte chunks exact.

Property-style: seeded random objects and chunkings, checked against a direct statement of the
rule. A failure prints the object, separator and ranges that broke it.
"""

from __future__ import annotations

import io
import random

import pytest

import lithops.storage.chunks as chunks
from lithops.storage.chunks import iter_chunk, nominal_ranges
from lithops.storage.utils import StorageError


def fetcher(data: bytes, log: list | None = None):
    def fetch(start: int, stop: int):
        assert 0 <= start <= stop <= len(data), (start, stop)
        if log is not None:
            log.append((start, stop))
        return io.BytesIO(data[start:stop])

    return fetch


def read_all(data: bytes, ranges, newline: bytes | None) -> list[bytes]:
    return [b"".join(iter_chunk(fetcher(data), lo, hi, len(data), newline)) for lo, hi in ranges]


def lines_of(data: bytes, nl: bytes) -> list[bytes]:
    """The object's lines, each with its separator (the last may have none)."""
    out, pos = [], 0
    while (i := data.find(nl, pos)) >= 0:
        out.append(data[pos : i + len(nl)])
        pos = i + len(nl)
    if pos < len(data):
        out.append(data[pos:])
    return out


def expected(data: bytes, ranges, nl: bytes) -> list[bytes]:
    """The rule, stated directly: chunk = [ls(lo), ls(hi)), first from 0, last to the end."""
    starts = {0} | {i + len(nl) for i in range(len(data)) if data.startswith(nl, i)}

    def ls(x):
        return min([p for p in starts if p >= x], default=len(data))

    out = []
    for n, (lo, hi) in enumerate(ranges):
        begin = 0 if n == 0 else ls(lo)
        end = len(data) if n == len(ranges) - 1 else ls(hi)
        out.append(data[begin : max(begin, end)])
    return out


@pytest.fixture(params=[False, True], ids=["big-blocks", "tiny-blocks"])
def tiny_blocks(request, monkeypatch):
    # Tiny blocks and windows push every boundary through the multi-read paths.
    if request.param:
        monkeypatch.setattr(chunks, "_BLOCK", 3)
        monkeypatch.setattr(chunks, "_LOOKAHEAD", 2)
    return request.param


def _random_object(rnd: random.Random, nl: bytes) -> bytes:
    shape = rnd.choice(["short", "long", "mixed", "no-newline", "only-newlines", "empty"])
    if shape == "empty":
        return b""
    if shape == "only-newlines":
        return nl * rnd.randint(1, 20)
    if shape == "no-newline":
        return bytes(rnd.choice(b"abc") for _ in range(rnd.randint(1, 60)))
    max_len = {"short": 4, "long": 80, "mixed": 30}[shape]
    lines = [
        bytes(rnd.choice(b"xyz \r") for _ in range(rnd.randint(0, max_len))) + nl
        for _ in range(rnd.randint(1, 25))
    ]
    data = b"".join(lines)
    if rnd.random() < 0.4:
        data += b"tail-without-newline"
    return data


@pytest.mark.parametrize("nl", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_every_line_is_in_exactly_one_chunk_whole(nl, tiny_blocks):
    rnd = random.Random(20261121)
    for case in range(1500):
        data = _random_object(rnd, nl)
        if rnd.random() < 0.5:
            ranges = nominal_ranges(len(data), chunk_size=rnd.randint(1, 40))
        else:
            ranges = nominal_ranges(len(data), chunk_number=rnd.randint(1, 12))
        got = read_all(data, ranges, nl)
        ctx = f"case {case}: data={data!r} nl={nl!r} ranges={ranges}"
        assert b"".join(got) == data, ctx
        assert got == expected(data, ranges, nl), ctx
        # Whole lines only: splitting each chunk gives exactly the object's lines, once each.
        assert [line for chunk in got for line in lines_of(chunk, nl)] == lines_of(data, nl), ctx


def test_a_boundary_exactly_after_a_newline_starts_the_next_chunk_there():
    data = b"aaa\nbbb\nccc\n"  # nominal boundaries at 4 and 8 fall right after newlines
    assert read_all(data, nominal_ranges(len(data), chunk_size=4), b"\n") == [
        b"aaa\n",
        b"bbb\n",
        b"ccc\n",
    ]


def test_a_boundary_exactly_on_a_newline_keeps_that_newline_in_the_earlier_chunk():
    data = b"aaa\nbbb\nccc\n"
    # nominal [0,3) ends on the '\n' at 3: chunk 1 is "aaa\n", chunk 2 starts at 4
    assert read_all(data, [(0, 3), (3, 7), (7, 12)], b"\n") == [b"aaa\n", b"bbb\n", b"ccc\n"]


def test_a_line_longer_than_a_chunk_goes_whole_to_the_chunk_it_starts_in():
    data = b"short\n" + b"L" * 50 + b"\nend\n"
    got = read_all(data, nominal_ranges(len(data), chunk_size=8), b"\n")
    assert got[0] == b"short\n" + b"L" * 50 + b"\n"
    assert got[-1] == b"end\n"
    assert all(c == b"" for c in got[1:-1])


def test_the_last_line_without_a_newline_is_kept():
    data = b"one\ntwo\nthree"
    assert read_all(data, nominal_ranges(len(data), chunk_size=5), b"\n") == [
        b"one\ntwo\n",
        b"three",
        b"",
    ]
    assert read_all(data, nominal_ranges(len(data), chunk_size=4), b"\n") == [
        b"one\n",
        b"two\n",
        b"three",
        b"",
    ]


def test_crlf_lines_split_on_lf_keep_their_cr():
    data = b"a,b\r\nc,d\r\ne,f\r\n"
    got = read_all(data, nominal_ranges(len(data), chunk_number=3), b"\n")
    assert got == [b"a,b\r\n", b"c,d\r\n", b"e,f\r\n"]
    assert read_all(data, nominal_ranges(len(data), chunk_number=3), b"\r\n") == got


def test_an_empty_object_is_one_empty_chunk():
    assert nominal_ranges(0, chunk_size=10) == [(0, 0)]
    assert nominal_ranges(0, chunk_number=4) == [(0, 0)]
    assert read_all(b"", [(0, 0)], b"\n") == [b""]


def test_without_newline_chunks_are_exact_byte_ranges(tiny_blocks):
    rnd = random.Random(7)
    for _ in range(300):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 200)))
        ranges = nominal_ranges(len(data), chunk_size=rnd.randint(1, 50))
        assert read_all(data, ranges, None) == [data[lo:hi] for lo, hi in ranges]


def test_chunk_number_gives_that_many_near_equal_ranges():
    assert nominal_ranges(10, chunk_number=3) == [(0, 3), (3, 6), (6, 10)]
    assert nominal_ranges(9, chunk_number=6) == [(0, 1), (1, 3), (3, 4), (4, 6), (6, 7), (7, 9)]
    assert nominal_ranges(2, chunk_number=5) == [(0, 1), (1, 2)]
    assert nominal_ranges(10, chunk_size=4) == [(0, 4), (4, 8), (8, 10)]
    assert nominal_ranges(10, chunk_size=4, chunk_number=2) == [(0, 5), (5, 10)]
    assert nominal_ranges(10) == [(0, 10)]


def test_a_chunk_reads_little_beyond_its_range():
    data = b"".join(b"line %04d\n" % i for i in range(10_000))  # 100 kB
    log: list = []
    lo, hi = 50_003, 60_007
    out = b"".join(iter_chunk(fetcher(data, log), lo, hi, len(data), b"\n"))
    assert out.startswith(b"line 5001\n") and out.endswith(b"line 6000\n")
    assert log[0][0] == lo - 1
    assert max(stop for _, stop in log) <= hi + (1 << 16)
    assert len(log) == 1


def test_an_object_that_shrank_since_listing_is_an_error_not_silent_loss():
    def short_fetch(start, stop):
        return io.BytesIO(b"x" * max(0, (stop - start) // 2))

    with pytest.raises(StorageError, match="changed or truncated"):
        b"".join(iter_chunk(short_fetch, 0, 100, 100, None))
