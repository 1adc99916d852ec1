"""The Storage API over the embedded filesystem backend, on a real directory tree."""

from __future__ import annotations

import io
import os
import pickle

import pytest

from lithops.storage import CloudObject, Storage, StorageNoSuchKeyError
from lithops.storage.utils import StorageError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("LITHOPS_CONFIG_FILE", "LITHOPS_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def storage(home):
    return Storage()


def test_default_storage_is_files_under_home_in_the_storage_bucket(storage, home):
    assert storage.backend == "localhost"
    assert storage.bucket == "storage"
    storage.put_object(storage.bucket, "dir/obj.txt", b"data")
    assert (home / ".lithops" / "storage" / "storage" / "dir" / "obj.txt").read_bytes() == b"data"
    assert storage.get_storage_config() == {
        "backend": "localhost",
        "localhost": {"storage_bucket": "storage"},
    }


def test_storage_root_and_bucket_come_from_the_localhost_section(home, tmp_path):
    root = tmp_path / "elsewhere"
    st = Storage(
        config={
            "lithops": {"storage": "localhost"},
            "localhost": {"storage_root": str(root), "storage_bucket": "mine"},
        }
    )
    assert st.bucket == "mine"
    st.put_object("b", "k", "v")
    assert (root / "b" / "k").read_text() == "v"


def test_storage_config_argument_is_what_get_storage_config_returns(storage):
    again = Storage(storage_config=storage.get_storage_config())
    assert (again.backend, again.bucket) == (storage.backend, storage.bucket)


def test_put_accepts_bytes_text_and_file_objects(storage):
    b = storage.bucket
    storage.put_object(b, "bytes", b"\x00\x01")
    storage.put_object(b, "text", "héllo")
    storage.put_object(b, "binfile", io.BytesIO(b"x" * 3_000_000))
    storage.put_object(b, "textfile", io.StringIO("line\n"))
    storage.put_object(b, "view", memoryview(b"mv"))
    assert storage.get_object(b, "bytes") == b"\x00\x01"
    assert storage.get_object(b, "text") == "héllo".encode()
    assert storage.get_object(b, "binfile") == b"x" * 3_000_000
    assert storage.get_object(b, "textfile") == b"line\n"
    assert storage.get_object(b, "view") == b"mv"
    with pytest.raises(StorageError, match="put_object takes bytes, str or a readable"):
        storage.put_object(b, "bad", 42)


def test_put_replaces_an_object(storage):
    storage.put_object(storage.bucket, "k", b"old contents")
    storage.put_object(storage.bucket, "k", b"new")
    assert storage.get_object(storage.bucket, "k") == b"new"


def test_a_failed_put_leaves_the_old_object_and_no_temporary_file(storage, home):
    storage.put_object(storage.bucket, "k", b"old")

    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk on fire")
            return b"partial"

    with pytest.raises(OSError, match="disk on fire"):
        storage.put_object(storage.bucket, "k", Broken())
    assert storage.get_object(storage.bucket, "k") == b"old"
    assert os.listdir(home / ".lithops" / "storage" / ".tmp") == []
    assert storage.list_keys(storage.bucket) == ["k"]


def test_missing_key_raises_no_such_key_naming_bucket_and_key(storage):
    with pytest.raises(StorageNoSuchKeyError) as info:
        storage.get_object(storage.bucket, "nope/missing.txt")
    assert "nope/missing.txt" in str(info.value) and "storage" in str(info.value)
    assert isinstance(info.value, KeyError)
    for call in (storage.head_object, lambda b, k: storage.get_object(b, k, stream=True)):
        with pytest.raises(StorageNoSuchKeyError):
            call(storage.bucket, "missing")
    with pytest.raises(StorageNoSuchKeyError, match="no bucket 'ghost'"):
        storage.get_object("ghost", "k")
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.key == "nope/missing.txt"


def test_ranges_follow_http_semantics(storage):
    b = storage.bucket
    storage.put_object(b, "r", b"0123456789")

    def rng(value):
        return storage.get_object(b, "r", extra_get_args={"Range": value})

    assert rng("bytes=0-0") == b"0"
    assert rng("bytes=2-5") == b"2345"
    assert rng("bytes=7-") == b"789"
    assert rng("bytes=-3") == b"789"
    assert rng("bytes=8-100") == b"89"  # clamped
    assert rng("bytes=10-20") == b""  # past the end: empty, not an error
    for bad in ("bytes=5-2", "items=0-1", "bytes=0-1,4-5", "bytes=-"):
        with pytest.raises(StorageError, match="Range"):
            rng(bad)


def test_stream_returns_a_file_object_limited_to_the_range(storage):
    b = storage.bucket
    storage.put_object(b, "s", b"line one\nline two\nline three\n")
    with storage.get_object(b, "s", stream=True) as f:
        assert f.readline() == b"line one\n"
        assert f.read() == b"line two\nline three\n"
    with storage.get_object(b, "s", stream=True, extra_get_args={"Range": "bytes=9-17"}) as f:
        assert list(f) == [b"line two\n"]
        assert f.read() == b""


def test_head_object_reports_size_date_and_etag(storage):
    storage.put_object(storage.bucket, "h", b"12345")
    head = storage.head_object(storage.bucket, "h")
    assert head["content-length"] == "5" and head["ContentLength"] == 5
    assert head["LastModified"].tzinfo is not None
    first = head["ETag"]
    storage.put_object(storage.bucket, "h", b"123456")
    assert storage.head_object(storage.bucket, "h")["ETag"] != first


def test_head_bucket_succeeds_only_for_existing_buckets(storage):
    storage.create_bucket("made")
    assert storage.head_bucket("made")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(StorageNoSuchKeyError):
        storage.head_bucket("absent")


def test_list_objects_is_sorted_and_filters_by_plain_prefix(storage):
    b = storage.bucket
    for key in ("z.txt", "a/b/c.txt", "a/bc.txt", "a/b.txt", "ab.txt"):
        storage.put_object(b, key, key)
    assert storage.list_keys(b) == ["a/b.txt", "a/b/c.txt", "a/bc.txt", "ab.txt", "z.txt"]
    assert storage.list_keys(b, "a/b") == ["a/b.txt", "a/b/c.txt", "a/bc.txt"]
    assert storage.list_keys(b, "a/b/") == ["a/b/c.txt"]
    assert storage.list_keys(b, "a") == ["a/b.txt", "a/b/c.txt", "a/bc.txt", "ab.txt"]
    assert storage.list_keys(b, "nothing/") == []
    listed = storage.list_objects(b, "a/")
    assert [(o["Key"], o["Size"]) for o in listed] == [
        ("a/b.txt", 7),
        ("a/b/c.txt", 9),
        ("a/bc.txt", 8),
    ]
    assert [o["Key"] for o in storage.list_objects(b, "a/", match_pattern="a/*c.txt")] == [
        "a/b/c.txt",
        "a/bc.txt",
    ]
    with pytest.raises(StorageNoSuchKeyError):
        storage.list_objects("no-such-bucket")


def test_delete_removes_objects_and_their_empty_folders_but_not_the_bucket(storage, home):
    b = storage.bucket
    storage.put_object(b, "x/y/z.txt", b"1")
    storage.put_object(b, "x/keep.txt", b"2")
    storage.delete_object(b, "x/y/z.txt")
    bucket_dir = home / ".lithops" / "storage" / b
    assert not (bucket_dir / "x" / "y").exists()
    storage.delete_object(b, "x/y/z.txt")  # missing: not an error
    storage.delete_objects(b, ["x/keep.txt", "never-was"])
    assert storage.list_keys(b) == []
    assert bucket_dir.is_dir()


def test_upload_and_download_files(storage, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(100_000))
    assert storage.upload_file(str(src), storage.bucket) is True
    assert storage.get_object(storage.bucket, "in.bin") == src.read_bytes()
    assert storage.upload_file(str(src), storage.bucket, "nested/copy.bin")
    dest = tmp_path / "out" / "deep" / "copy.bin"
    assert storage.download_file(storage.bucket, "nested/copy.bin", str(dest)) is True
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(StorageNoSuchKeyError):
        storage.download_file(storage.bucket, "missing", str(tmp_path / "m"))


def test_cloudobjects_round_trip_and_are_deleted(storage):
    co = storage.put_cloudobject(b"payload")
    assert isinstance(co, CloudObject)
    assert (co.backend, co.bucket) == ("localhost", storage.bucket)
    assert co.key.startswith("lithops.jobs/tmp/")
    assert storage.get_cloudobject(co) == b"payload"
    assert storage.get_cloudobject(co, stream=True).read() == b"payload"
    named = storage.put_cloudobject("text", bucket="other", key="my/key")
    assert named == CloudObject("localhost", "other", "my/key")
    second = storage.put_cloudobject(b"2")
    assert second.key != co.key
    storage.delete_cloudobjects([co, named])
    storage.delete_cloudobject(second)
    for gone in (co, named, second):
        with pytest.raises(StorageNoSuchKeyError):
            storage.get_cloudobject(gone)


def test_a_cloudobject_of_another_backend_is_refused_before_anything_is_deleted(storage):
    mine = storage.put_cloudobject(b"1")
    foreign = CloudObject("aws_s3", "bucket", "key")
    with pytest.raises(StorageError, match="aws_s3"):
        storage.delete_cloudobjects([mine, foreign])
    assert storage.get_cloudobject(mine) == b"1"


def test_keys_cannot_escape_the_bucket(storage):
    for bad in ("../outside", "a/../../x", "/abs", ""):
        with pytest.raises(StorageError, match="invalid key"):
            storage.put_object(storage.bucket, bad, b"x")
    for bad in ("", "a/b", ".hidden"):
        with pytest.raises(StorageError, match="invalid bucket"):
            storage.put_object(bad, "k", b"x")


def test_folder_marker_keys_make_folders_and_are_not_listed(storage):
    storage.put_object(storage.bucket, "folder/", b"")
    assert storage.list_keys(storage.bucket) == []
    with pytest.raises(StorageError, match="names a folder"):
        storage.put_object(storage.bucket, "folder2/", b"data")


def test_a_key_and_a_folder_of_the_same_name_clash_with_a_clear_error(storage):
    storage.put_object(storage.bucket, "a", b"file")
    with pytest.raises(StorageError, match="clash"):
        storage.put_object(storage.bucket, "a/b", b"x")


def test_get_client_returns_something_usable(storage):
    client = storage.get_client()
    client.put_object(storage.bucket, "via-client", b"ok")
    assert storage.get_object(storage.bucket, "via-client") == b"ok"
