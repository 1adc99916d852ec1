"""Object partitioning as Lithops documents it: a function with an ``obj`` parameter over a
prefix of local files (in the ``localhost`` storage or a plain directory), split by
``obj_chunk_size`` or ``obj_chunk_number``, where every line is read exactly once."""

from __future__ import annotations

import http.server
import io
import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from lithops.storage.utils import CloudObject


def make_lines(name: str, count: int, seed: int, trailing_newline: bool = True) -> str:
    """Lines of very different lengths (some longer than the chunks), all distinct."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        width = rng.choice([0, 1, 5, 40, 200, 3000]) if i % 7 else rng.randint(0, 30)
        lines.append(f"{name}:{i}:" + "x" * width)
    text = "\n".join(lines)
    return text + "\n" if trailing_newline else text


FILES = {
    "a.txt": make_lines("a", 400, 1),
    "b.csv": make_lines("b", 250, 2, trailing_newline=False),
    "c.txt": make_lines("c", 3, 3),
    "sub/d.txt": make_lines("d", 120, 4),
}


def expected_lines(top_level_only: bool = False) -> Counter:
    return Counter(
        line
        for key, text in FILES.items()
        if not (top_level_only and "/" in key)
        for line in text.splitlines()
    )


@pytest.fixture(scope="module")
def in_storage(fexec) -> str:
    """The files under ``partition/`` in the executor's storage bucket."""
    st = fexec.storage
    for key, text in FILES.items():
        st.put_object(st.bucket, f"partition/{key}", text.encode())
    st.put_object(st.bucket, "elsewhere/e.txt", b"not under the prefix\n")
    return st.bucket


@pytest.fixture(scope="module")
def in_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")
    for key, text in FILES.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(text)
    return root


# -- functions -------------------------------------------------------------------------------


def lines_of(obj):
    data = obj.data_stream.read().decode()
    return data.splitlines()


def describe(obj):
    return {
        "bucket": obj.bucket,
        "key": obj.key,
        "part": obj.part,
        "range": obj.data_byte_range,
        "chunk_size": obj.chunk_size,
    }


def readline_count(obj):
    n = 0
    for line in obj.data_stream:
        assert line.endswith(b"\n") or obj.key.endswith("b.csv")
        n += 1
    return n


def tagged(obj, tag, id, storage):
    return (tag, id, storage.bucket, len(obj.data_stream.read()))


def all_lines(results):
    return [line for chunk in results for line in chunk]


def count_words(obj):
    return len(obj.data_stream.read().split())


def merge_counts(results):
    return sum(results)


def assert_every_line_once(results, top_level_only: bool = False) -> None:
    got = Counter(line for chunk in results for line in chunk)
    assert got == expected_lines(top_level_only)


# -- the localhost storage -------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["localhost://", ""])
@pytest.mark.parametrize(
    "split",
    [{}, {"obj_chunk_size": 1000}, {"obj_chunk_size": 64 * 1024}, {"obj_chunk_number": 7}],
    ids=["whole", "size1000", "size64k", "number7"],
)
def test_a_storage_prefix_reads_every_line_exactly_once(fexec, in_storage, scheme, split):
    fs = fexec.map(lines_of, f"{scheme}{in_storage}/partition/", **split)
    assert_every_line_once(fs.get_result())
    if split:
        assert len(fs) > len(FILES)


def test_chunk_number_gives_that_many_chunks_per_object(fexec, in_storage):
    fs = fexec.map(describe, f"localhost://{in_storage}/partition/", obj_chunk_number=3)
    parts = Counter(d["key"] for d in fs.get_result())
    assert parts == {f"partition/{k}": 3 for k in FILES}


def test_obj_attributes_as_lithops_documents_them(fexec, in_storage):
    key = "partition/a.txt"
    size = len(FILES["a.txt"].encode())
    described = fexec.map(describe, f"{in_storage}/{key}", obj_chunk_size=4096).get_result()
    assert [d["part"] for d in described] == list(range(1, len(described) + 1))
    assert all(d["bucket"] == in_storage and d["key"] == key for d in described)
    ranges = [d["range"] for d in described]
    assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert all(d["chunk_size"] <= 4096 for d in described)


def test_a_list_of_keys_and_cloudobjects(fexec, in_storage):
    st = fexec.storage
    co = CloudObject(st.backend, in_storage, "partition/c.txt")
    fs = fexec.map(lines_of, [f"{in_storage}/partition/a.txt", co], obj_chunk_number=2)
    got = Counter(all_lines(fs.get_result()))
    assert got == Counter(FILES["a.txt"].splitlines() + FILES["c.txt"].splitlines())


def test_a_whole_bucket_and_a_list_of_buckets(fexec):
    st = fexec.storage
    st.put_object("partbucket1", "x/one.txt", FILES["a.txt"])
    st.put_object("partbucket1", "two.txt", FILES["c.txt"])
    st.put_object("partbucket2", "three.txt", FILES["b.csv"])
    fs = fexec.map(lines_of, "partbucket1", obj_chunk_number=2)
    assert Counter(all_lines(fs.get_result())) == Counter(
        FILES["a.txt"].splitlines() + FILES["c.txt"].splitlines()
    )
    fs = fexec.map(lines_of, ["localhost://partbucket1", "partbucket2/"], obj_chunk_size=900)
    assert Counter(all_lines(fs.get_result())) == Counter(
        FILES["a.txt"].splitlines() + FILES["c.txt"].splitlines() + FILES["b.csv"].splitlines()
    )


def test_data_stream_iterates_by_line(fexec, in_storage):
    fs = fexec.map(readline_count, f"{in_storage}/partition/", obj_chunk_size=2000)
    assert sum(fs.get_result()) == sum(expected_lines().values())


def test_obj_with_other_arguments_id_and_storage(fexec, in_storage):
    data = [{"obj": f"{in_storage}/partition/c.txt", "tag": "t1"}]
    fs = fexec.map(tagged, data)
    assert fs.get_result() == [("t1", 0, in_storage, len(FILES["c.txt"]))]
    fs = fexec.map(tagged, [(f"{in_storage}/partition/c.txt", "t2")], obj_chunk_number=2)
    assert [r[:3] for r in fs.get_result()] == [("t2", 0, in_storage), ("t2", 1, in_storage)]
    fs = fexec.map(tagged, [f"{in_storage}/partition/c.txt"], extra_args=("t3",))
    assert fs.get_result()[0][0] == "t3"


def test_map_reduce_over_a_prefix_documented_example(fexec, in_storage):
    fs = fexec.map_reduce(
        count_words, f"localhost://{in_storage}/partition/", merge_counts, obj_chunk_size=5000
    )
    assert fs.get_result() == sum(len(t.split()) for t in FILES.values())


def test_custom_newline_keeps_records_whole(fexec, in_storage):
    st = fexec.storage
    records = [f"record {i} " + "y" * (i * 37 % 300) for i in range(300)]
    st.put_object(st.bucket, "records/r.dat", "|".join(records).encode())
    fs = fexec.map(
        lambda obj: obj.data_stream.read().decode().split("|"),
        f"{in_storage}/records/r.dat",
        obj_chunk_size=700,
        obj_newline="|",
    )
    got = [r for chunk in fs.get_result() for r in chunk if r]
    assert Counter(got) == Counter(records)


def raw_bytes(obj):
    return (obj.part, obj.data_stream.read())


def test_obj_newline_none_splits_at_exact_byte_offsets(fexec, in_storage):
    whole = FILES["a.txt"].encode()
    fs = fexec.map(raw_bytes, f"{in_storage}/partition/a.txt", obj_chunk_size=999, obj_newline=None)
    parts = fs.get_result()
    assert [len(data) for _, data in parts[:-1]] == [999] * (len(parts) - 1)
    assert b"".join(data for _, data in sorted(parts)) == whole


def test_a_prefix_without_objects_is_a_clear_error(fexec, in_storage):
    with pytest.raises(Exception, match="no objects"):
        fexec.map(lines_of, f"{in_storage}/no-such-prefix/")


# -- local files ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", [{}, {"obj_chunk_size": 777}, {"obj_chunk_number": 5}], ids=str)
def test_a_local_directory_reads_every_line_exactly_once(fexec, in_directory, split):
    # as in Lithops, a directory means the files directly in it (sub/ is not read)
    fs = fexec.map(lines_of, str(in_directory), **split)
    assert_every_line_once(fs.get_result(), top_level_only=True)


def test_a_local_directory_with_trailing_slash_and_a_single_file(fexec, in_directory):
    fs = fexec.map(lines_of, str(in_directory) + "/", obj_chunk_size=4000)
    assert_every_line_once(fs.get_result(), top_level_only=True)
    fs = fexec.map(lines_of, [str(in_directory / "a.txt")], obj_chunk_number=4)
    assert Counter(all_lines(fs.get_result())) == Counter(FILES["a.txt"].splitlines())
    assert len(fs) == 4


def test_local_file_obj_names_its_directory_and_file(fexec, in_directory):
    (d,) = fexec.map(describe, str(in_directory / "c.txt")).get_result()
    assert (d["bucket"], d["key"]) == (str(in_directory), "c.txt")


# -- http(s) URLs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(in_directory: Path) -> Iterator[str]:
    """A plain ``http.server`` on 127.0.0.1: it ignores Range, so each URL is one chunk."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(in_directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``bytes=a-b`` ranges, as object stores and most web servers do."""

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return super().send_head()
        data = path.read_bytes()
        header = self.headers.get("Range")
        if header:
            start_s, _, end_s = header.removeprefix("bytes=").partition("-")
            start = int(start_s)
            end = min(int(end_s), len(data) - 1) if end_s else len(data) - 1
            body = data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture(scope="module")
def ranged_http_server(in_directory: Path) -> Iterator[str]:
    handler = partial(RangeHandler, directory=str(in_directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_urls_with_range_support_are_split_and_every_line_read_once(fexec, ranged_http_server):
    urls = [f"{ranged_http_server}/a.txt", f"{ranged_http_server}/b.csv"]
    fs = fexec.map(lines_of, urls, obj_chunk_size=1000)
    assert len(fs) > 2
    got = Counter(all_lines(fs.get_result()))
    assert got == Counter(FILES["a.txt"].splitlines() + FILES["b.csv"].splitlines())


def test_urls_without_range_support_are_one_chunk_each(fexec, http_server):
    urls = [f"{http_server}/a.txt", f"{http_server}/b.csv"]
    fs = fexec.map(lines_of, urls, obj_chunk_size=1000)
    assert len(fs) == 2
    got = Counter(all_lines(fs.get_result()))
    assert got == Counter(FILES["a.txt"].splitlines() + FILES["b.csv"].splitlines())
