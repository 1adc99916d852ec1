"""expand_obj_calls (client) and open_partition (worker) over real storage, files and HTTP."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lithops.errors import UnknownBackendError
from lithops.storage import CloudObject, Storage, StorageNoSuchKeyError
from lithops.storage.partition import (
    DataObject,
    NoObjectsFoundError,
    ObjectPartition,
    expand_obj_calls,
    group_key,
    open_partition,
    parts_per_object,
)
from lithops.storage.utils import StorageError

TEXT = b"".join(b"row %03d,%s\n" % (i, b"v" * (i % 17)) for i in range(200))


@pytest.fixture
def storage(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    st = Storage()
    st.put_object("data", "csv/a.csv", TEXT)
    st.put_object("data", "csv/b.csv", b"x,y\n1,2\n")
    st.put_object("data", "csv/empty.csv", b"")
    st.put_object("data", "other/c.txt", b"c\n")
    return st


def read_back(calls) -> dict[str, bytes]:
    """Open every partition as a worker would (after pickling) and join them per object."""
    joined: dict[str, bytes] = {}
    for call in calls:
        obj = open_partition(pickle.loads(pickle.dumps(call["obj"])))
        joined[group_key(call["obj"])] = joined.get(group_key(call["obj"]), b"") + (
            obj.data_stream.read()
        )
    return joined


def test_a_prefix_gives_one_call_per_chunk_of_each_object_in_key_order(storage):
    calls = expand_obj_calls([{"obj": "data/csv/", "tag": 7}], storage, 500, None)
    keys = [c["obj"].key for c in calls]
    assert keys == sorted(keys) and set(keys) == {"csv/a.csv", "csv/b.csv", "csv/empty.csv"}
    assert all(c["tag"] == 7 for c in calls)
    assert parts_per_object(calls) == [-(-len(TEXT) // 500), 1, 1]
    a_parts = [c["obj"] for c in calls if c["obj"].key == "csv/a.csv"]
    assert [p.part for p in a_parts] == list(range(1, len(a_parts) + 1))
    assert {p.total_parts for p in a_parts} == {len(a_parts)}
    assert read_back(calls) == {
        "localhost://data/csv/a.csv": TEXT,
        "localhost://data/csv/b.csv": b"x,y\n1,2\n",
        "localhost://data/csv/empty.csv": b"",
    }


def test_each_chunk_holds_whole_rows_only(storage):
    calls = expand_obj_calls([{"obj": "data/csv/a.csv"}], storage, None, 7)
    assert len(calls) == 7
    rows = []
    for call in calls:
        chunk = open_partition(call["obj"]).data_stream.read()
        assert chunk == b"" or chunk.endswith(b"\n")
        rows += chunk.splitlines()
    assert rows == TEXT.splitlines()


def test_the_descriptor_is_small_and_carries_no_data(storage):
    calls = expand_obj_calls([{"obj": "data/csv/a.csv"}], storage, 1000, None)
    desc = calls[0]["obj"]
    assert isinstance(desc, ObjectPartition)
    blob = pickle.dumps(desc)
    assert len(blob) < 1000 and b"row 000" not in blob
    assert desc.storage == storage.worker_descriptor()
    assert len({desc, pickle.loads(blob)}) == 1  # hashable, equal after the trip


def test_the_worker_obj_has_the_lithops_attributes(storage):
    calls = expand_obj_calls([{"obj": "data/csv/a.csv"}], storage, 1000, None)
    obj = open_partition(calls[1]["obj"])
    assert isinstance(obj, DataObject)
    assert (obj.backend, obj.bucket, obj.key) == ("localhost", "data", "csv/a.csv")
    assert (obj.part, obj.total_parts, obj.chunk_size) == (2, len(calls), 1000)
    assert obj.data_byte_range == (1000, 1999)
    assert obj.newline == "\n"
    first = obj.data_stream.readline()
    rest = list(obj.data_stream)
    assert first.endswith(b"\n") and all(line.endswith(b"\n") for line in rest)
    assert (first + b"".join(rest)) in TEXT


def test_reading_is_lazy_and_read_n_works(storage):
    calls = expand_obj_calls([{"obj": "data/csv/b.csv"}], storage, None, None)
    obj = open_partition(calls[0]["obj"])
    storage.put_object("data", "csv/b.csv", b"X,Y\n3,4\n")  # same size, new contents
    assert obj.data_stream.read(2) == b"X,"
    assert obj.data_stream.read() == b"Y\n3,4\n"


def test_specs_name_buckets_keys_folders_patterns_and_schemes(storage):
    def keys(spec):
        return [c["obj"].key for c in expand_obj_calls([{"obj": spec}], storage, None, None)]

    assert keys("data") == ["csv/a.csv", "csv/b.csv", "csv/empty.csv", "other/c.txt"]
    assert keys("data/") == keys("data")
    assert keys("data/csv/b.csv") == ["csv/b.csv"]
    assert keys("data/csv") == ["csv/a.csv", "csv/b.csv", "csv/empty.csv"]  # forgot the '/'
    assert keys("data/csv/*.csv") == ["csv/a.csv", "csv/b.csv", "csv/empty.csv"]
    assert keys("data/csv/?.csv") == ["csv/a.csv", "csv/b.csv"]
    assert keys("localhost://data/other/") == ["other/c.txt"]
    assert keys(CloudObject("localhost", "data", "other/c.txt")) == ["other/c.txt"]


def test_a_missing_key_and_an_empty_match_are_clear_errors(storage):
    with pytest.raises(StorageNoSuchKeyError, match=r"csv/nope\.csv"):
        expand_obj_calls([{"obj": "data/csv/nope.csv"}], storage, None, None)
    with pytest.raises(NoObjectsFoundError, match="data/empty-prefix/"):
        expand_obj_calls([{"obj": "data/empty-prefix/"}], storage, None, None)
    with pytest.raises(TypeError, match="no 'obj' argument"):
        expand_obj_calls([{"x": 1}], storage, None, None)
    with pytest.raises(ValueError, match="obj_chunk_size"):
        expand_obj_calls([{"obj": "data/"}], storage, 0, None)
    with pytest.raises(UnknownBackendError, match="no_such_backend"):
        expand_obj_calls([{"obj": "no_such_backend://b/k"}], storage, None, None)


def test_without_a_storage_argument_the_default_storage_is_used(storage):
    calls = expand_obj_calls([{"obj": "data/other/c.txt"}], None, None, None)
    assert open_partition(calls[0]["obj"]).data_stream.read() == b"c\n"


def test_byte_chunks_without_newline_are_exact(storage):
    calls = expand_obj_calls([{"obj": "data/csv/a.csv"}], storage, 333, None, obj_newline=None)
    chunks = [open_partition(c["obj"]).data_stream.read() for c in calls]
    assert [len(c) for c in chunks[:-1]] == [333] * (len(chunks) - 1)
    assert b"".join(chunks) == TEXT


def test_local_files_and_directories(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.txt").write_bytes(TEXT)
    (folder / "two.txt").write_bytes(b"2\n")
    (folder / "sub").mkdir()  # only the files directly inside count
    (folder / "sub" / "deep.txt").write_bytes(b"deep\n")
    calls = expand_obj_calls([{"obj": str(folder)}], None, 1024, None)
    assert read_back(calls) == {str(folder / "one.txt"): TEXT, str(folder / "two.txt"): b"2\n"}
    obj = open_partition(calls[0]["obj"])
    assert (obj.path, obj.bucket, obj.key) == (str(folder / "one.txt"), str(folder), "one.txt")
    assert obj.url is None
    single = expand_obj_calls([{"obj": f"file://{folder / 'two.txt'}"}], None, None, None)
    assert read_back(single) == {str(folder / "two.txt"): b"2\n"}
    with pytest.raises(FileNotFoundError, match="no such file"):
        expand_obj_calls([{"obj": str(tmp_path / "missing")}], None, None, None)


def test_several_sources_in_one_map_keep_the_items_order(storage, tmp_path):
    path = tmp_path / "local.txt"
    path.write_bytes(b"local\n")
    calls = expand_obj_calls(
        [{"obj": str(path), "i": 0}, {"obj": "data/other/c.txt", "i": 1}], storage, None, None
    )
    assert [(c["i"], c["obj"].source) for c in calls] == [(0, "path"), (1, "storage")]


# -- HTTP ------------------------------------------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    ranges = True
    length_on_head = True
    seen: list[str | None] = []

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._headers(self.files.get(self.path))

    def _headers(self, body, status=200, extra=None):
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        self.send_response(status)
        if self.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if self.length_on_head or self.command == "GET":
            self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        return True

    def do_GET(self):
        body = self.files.get(self.path)
        rng = self.headers.get("Range")
        type(self).seen.append(rng)
        if body is not None and rng and self.ranges:
            first, _, last = rng.removeprefix("bytes=").partition("-")
            start, stop = int(first), (int(last) + 1 if last else len(body))
            part = body[start:stop]
            extra = {"Content-Range": f"bytes {start}-{stop - 1}/{len(body)}"}
            self.send_response(206)
            self.send_header("Content-Length", str(len(part)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(part)
            return
        if self._headers(body):
            self.wfile.write(body)


@pytest.fixture
def http_server():
    servers = []

    def start(ranges: bool, length_on_head: bool = True):
        handler = type(
            "Handler",
            (_Files,),
            {
                "files": {"/data.csv": TEXT, "/small.txt": b"s\n"},
                "ranges": ranges,
                "length_on_head": length_on_head,
                "seen": [],
            },
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_url_that_accepts_ranges_is_split_with_ranged_gets(http_server):
    base, handler = http_server(ranges=True)
    calls = expand_obj_calls([{"obj": f"{base}/data.csv"}], None, 600, None)
    assert len(calls) == -(-len(TEXT) // 600)
    assert read_back(calls) == {f"{base}/data.csv": TEXT}
    assert all(r is not None and r.startswith("bytes=") for r in handler.seen)
    obj = open_partition(calls[0]["obj"])
    assert obj.url == f"{base}/data.csv" and obj.part == 1


def test_a_url_without_ranges_is_one_chunk_read_whole(http_server):
    base, handler = http_server(ranges=False)
    calls = expand_obj_calls(
        [{"obj": f"{base}/data.csv"}, {"obj": f"{base}/small.txt"}], None, 600, None
    )
    assert [c["obj"].total_parts for c in calls] == [1, 1]
    assert read_back(calls) == {f"{base}/data.csv": TEXT, f"{base}/small.txt": b"s\n"}
    assert handler.seen == [None, None]


def test_a_url_of_unknown_size_is_one_chunk(http_server):
    base, _ = http_server(ranges=True, length_on_head=False)
    calls = expand_obj_calls([{"obj": f"{base}/data.csv"}], None, 600, None)
    assert len(calls) == 1 and calls[0]["obj"].size is None
    assert open_partition(calls[0]["obj"]).data_stream.read() == TEXT


def test_a_server_that_ignores_range_on_get_still_gives_the_right_chunk(http_server):
    base, handler = http_server(ranges=True)
    calls = expand_obj_calls([{"obj": f"{base}/data.csv"}], None, 700, None)
    handler.ranges = False  # HEAD said it would; GET now ignores Range and sends everything
    handler.seen.clear()
    assert read_back(calls) == {f"{base}/data.csv": TEXT}


def test_a_missing_url_fails_at_listing(http_server):
    base, _ = http_server(ranges=True)
    with pytest.raises(StorageError, match="404"):
        expand_obj_calls([{"obj": f"{base}/nothing"}], None, None, None)


# -- grouping and the worker path ---------------------------------------------------------


def test_group_key_gives_one_reducer_per_object(storage):
    calls = expand_obj_calls([{"obj": "data/csv/"}], storage, 1000, None)
    groups = [group_key(c["obj"]) for c in calls]
    assert len(set(groups)) == 3
    assert groups == sorted(groups)
    assert sum(parts_per_object(calls)) == len(calls)


def test_open_partition_passes_other_values_through():
    assert open_partition("not a descriptor") == "not a descriptor"


def test_a_worker_opens_partitions_without_the_plugin_host(storage, tmp_path):
    calls = expand_obj_calls([{"obj": "data/csv/a.csv"}], storage, None, 3)
    blob = pickle.dumps([c["obj"] for c in calls])
    code = textwrap.dedent(
        f"""
        import importlib.metadata, pickle
        def forbidden(*a, **k):
            raise AssertionError("entry points scanned on the worker path")
        importlib.metadata.entry_points = forbidden
        from lithops.storage.partition import open_partition
        import lithops.plugins.manager as m
        data = b"".join(open_partition(d).data_stream.read() for d in pickle.loads({blob!r}))
        assert m._host is None
        import sys; sys.stdout.buffer.write(data)
        """
    )
    env = dict(os.environ, HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=env, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == TEXT
