"""The helpers of ``lithops.storage.backend`` that every storage backend (localhost, aws_s3,
gcp_storage, a third party's) builds its answers with."""

from __future__ import annotations

import io

import pytest

from lithops.storage.backend import (
    body_bytes,
    body_reader,
    buffered_reader,
    ensure_bucket,
    filter_listing,
    parse_range,
    range_bounds,
)
from lithops.storage.utils import StorageError, StorageNoSuchKeyError


@pytest.mark.parametrize(
    ("value", "bounds", "in_ten_bytes"),
    [
        ("bytes=2-5", (2, 5), (2, 6)),
        ("bytes=2-", (2, None), (2, 10)),
        ("bytes=-3", (None, 3), (7, 10)),
        ("bytes=-30", (None, 30), (0, 10)),
        ("bytes=8-100", (8, 100), (8, 10)),
        ("bytes=12-20", (12, 20), (10, 10)),
        (" bytes = 1 - 1 ", (1, 1), (1, 2)),
    ],
)
def test_a_range_parses_alone_and_against_the_object_size(
    value: str, bounds: tuple[int | None, int | None], in_ten_bytes: tuple[int, int]
) -> None:
    assert range_bounds(value) == bounds
    assert parse_range(value, 10) == in_ten_bytes


@pytest.mark.parametrize("value", ["bytes=-", "items=0-4", "bytes=0-1,4-5", "bytes=5-2"])
def test_a_range_the_contract_does_not_know_is_an_error_saying_what_works(value: str) -> None:
    with pytest.raises(StorageError, match="Range"):
        range_bounds(value)
    with pytest.raises(StorageError, match="Range"):
        parse_range(value, 10)


def test_a_listing_is_filtered_by_the_whole_key_and_sorted() -> None:
    raw = [{"Key": "b/2.csv"}, {"Key": "a/1.csv"}, {"Key": "a/1.csv.bak"}, {"Key": "c.txt"}]
    assert [o["Key"] for o in filter_listing(raw, "*.csv")] == ["a/1.csv", "b/2.csv"]
    assert [o["Key"] for o in filter_listing(raw, None)] == sorted(o["Key"] for o in raw)


def test_a_body_is_bytes_when_it_is_bytes_like_or_text_and_none_when_a_file() -> None:
    assert body_bytes("é") == "é".encode()
    assert body_bytes(memoryview(b"ab")) == b"ab"
    assert body_bytes(io.BytesIO(b"ab")) is None


def test_any_body_reads_as_one_binary_file() -> None:
    for body in (b"one\ntwo\n", "one\ntwo\n", io.StringIO("one\ntwo\n"), io.BytesIO(b"one\ntwo\n")):
        with body_reader(body) as reader:
            assert reader.readlines() == [b"one\n", b"two\n"]


def test_a_read_only_stream_becomes_a_buffered_file_that_closes_it() -> None:
    class Body:
        closed = False

        def __init__(self) -> None:
            self._data = io.BytesIO(b"x" * 100_000 + b"\nend")

        def read(self, n: int) -> bytes:
            return self._data.read(n)

        def close(self) -> None:
            self.closed = True

    body = Body()
    reader = buffered_reader(body, buffer_size=1 << 16)
    assert len(reader.readline()) == 100_001
    assert reader.read() == b"end"
    reader.close()
    assert body.closed


def test_ensure_bucket_creates_only_a_missing_bucket() -> None:
    class Backend:
        def __init__(self, existing: set[str]) -> None:
            self.existing = existing
            self.created: list[str] = []

        def head_bucket(self, bucket: str) -> dict[str, str]:
            if bucket not in self.existing:
                raise StorageNoSuchKeyError(bucket)
            return {}

        def create_bucket(self, bucket: str) -> None:
            self.created.append(bucket)

    backend = Backend({"there"})
    ensure_bucket(backend, "there")
    ensure_bucket(backend, "new")
    assert backend.created == ["new"]
