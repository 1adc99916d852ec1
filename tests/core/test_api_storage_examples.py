"""The ``lithops.Storage`` examples of the Lithops docs, on the embedded ``localhost`` storage:
objects, listings, files, ranged and streamed reads, and cloud objects shared between the
client and its functions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lithops
from lithops import Storage
from lithops.storage import CloudObject as CloudObjectFromStorage
from lithops.storage.utils import CloudObject, StorageNoSuchKeyError


@pytest.fixture(scope="module")
def storage(home: Path) -> Storage:
    return Storage()


# -- functions of the examples ---------------------------------------------------------------


def my_function(obj_id, storage):
    return storage.get_cloudobject(obj_id).decode()


def my_function_put(text, storage):
    co1 = storage.put_cloudobject(f"Cloudobject test 1: {text}")
    co2 = storage.put_cloudobject(f"Cloudobject test 2: {text}")
    return [co1, co2]


def my_function_get(co, storage):
    return storage.get_cloudobject(co).decode()


def write_in_worker(key, storage):
    storage.put_object(storage.bucket, key, f"written by a worker: {key}")
    return storage.head_object(storage.bucket, key)["content-length"]


# -- the Storage API -------------------------------------------------------------------------


def test_storage_without_arguments_uses_the_default_bucket(storage):
    assert storage.backend == "localhost"
    assert isinstance(storage.bucket, str) and storage.bucket
    assert lithops.Storage is Storage


def test_put_get_example_from_the_docs(storage):
    storage.put_object(bucket=storage.bucket, key="test.txt", body="Hello World")
    assert storage.get_object(bucket=storage.bucket, key="test.txt") == b"Hello World"


def test_storage_with_config_and_backend_arguments(home, tmp_path):
    config = {
        "lithops": {"storage": "localhost"},
        "localhost": {"storage_root": str(tmp_path / "root"), "storage_bucket": "mybucket"},
    }
    st = Storage(config=config)
    assert st.bucket == "mybucket"
    st.put_object(st.bucket, "a/b.txt", b"x")
    assert (tmp_path / "root" / "mybucket" / "a" / "b.txt").read_bytes() == b"x"
    assert Storage(config=config, backend="localhost").get_object("mybucket", "a/b.txt") == b"x"
    again = Storage(storage_config=st.get_storage_config())
    assert again.get_object("mybucket", "a/b.txt") == b"x"


def test_head_list_and_delete(storage):
    b = storage.bucket
    for name in ("one", "two", "three"):
        storage.put_object(b, f"listing/{name}.txt", name * 2)
    storage.put_object(b, "other/x.txt", b"x")
    assert storage.head_object(b, "listing/one.txt")["content-length"] in ("6", 6)
    assert sorted(storage.list_keys(b, prefix="listing/")) == [
        "listing/one.txt",
        "listing/three.txt",
        "listing/two.txt",
    ]
    listed = {o["Key"]: o["Size"] for o in storage.list_objects(b, prefix="listing/")}
    assert listed == {"listing/one.txt": 6, "listing/two.txt": 6, "listing/three.txt": 10}
    storage.delete_object(b, "listing/one.txt")
    storage.delete_objects(b, ["listing/two.txt", "listing/three.txt"])
    assert storage.list_keys(b, prefix="listing/") == []
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_object(b, "listing/one.txt")


def test_get_object_stream_and_range(storage):
    b = storage.bucket
    storage.put_object(b, "ranged.txt", b"0123456789")
    stream = storage.get_object(b, "ranged.txt", stream=True)
    assert stream.read() == b"0123456789"
    stream.close()
    assert storage.get_object(b, "ranged.txt", extra_get_args={"Range": "bytes=2-5"}) == b"2345"
    assert storage.get_object(b, "ranged.txt", extra_get_args={"Range": "bytes=7-"}) == b"789"
    part = storage.get_object(b, "ranged.txt", stream=True, extra_get_args={"Range": "bytes=0-1"})
    assert part.read() == b"01"


def test_upload_file_and_download_file(storage, tmp_path):
    src = tmp_path / "local.bin"
    src.write_bytes(b"\x00binary\xff" * 1000)
    storage.upload_file(str(src), storage.bucket, "uploaded/local.bin")
    dest = tmp_path / "downloaded.bin"
    storage.download_file(storage.bucket, "uploaded/local.bin", str(dest))
    assert dest.read_bytes() == src.read_bytes()
    storage.upload_file(str(src), storage.bucket)  # key defaults to the file's name
    assert storage.get_object(storage.bucket, "local.bin") == src.read_bytes()


def test_cloudobjects_put_get_delete(storage):
    co = storage.put_cloudobject("Hello cloudobject")
    assert isinstance(co, CloudObject) and CloudObject is CloudObjectFromStorage
    assert storage.get_cloudobject(co) == b"Hello cloudobject"
    assert storage.get_cloudobject(co, stream=True).read() == b"Hello cloudobject"
    named = storage.put_cloudobject(b"named", storage.bucket, "cobj/named.txt")
    assert (named.bucket, named.key) == (storage.bucket, "cobj/named.txt")
    storage.delete_cloudobject(co)
    storage.delete_cloudobjects([named])
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_cloudobject(named)


# -- storage together with functions ---------------------------------------------------------


def test_cloudobject_from_the_client_is_read_by_a_function(fexec, storage):
    obj_id = storage.put_cloudobject("Hello World!")
    fexec.call_async(my_function, obj_id)
    assert fexec.get_result() == "Hello World!"


def test_cloudobjects_made_by_functions_are_read_by_the_client_and_other_functions(fexec):
    storage = fexec.storage
    fexec.map(my_function_put, ["a", "b"])
    cloudobjects = fexec.get_result()
    assert [len(cos) for cos in cloudobjects] == [2, 2]
    assert storage.get_cloudobject(cloudobjects[1][0]) == b"Cloudobject test 1: b"
    got = fexec.map(my_function_get, cloudobjects[0]).get_result()
    assert got == ["Cloudobject test 1: a", "Cloudobject test 2: a"]
    fexec.clean(cs=cloudobjects[0])
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_cloudobject(cloudobjects[0][0])
    assert storage.get_cloudobject(cloudobjects[1][1]) == b"Cloudobject test 2: b"
    fexec.clean()  # clean_cloudobjects=True: what the functions put goes too
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_cloudobject(cloudobjects[1][1])


def put_then_sleep(text, storage):
    co = storage.put_cloudobject(text)
    time.sleep(1.0)
    return co


def test_clean_keeps_client_cloudobjects_and_those_of_unfinished_jobs(fexec, storage):
    mine = storage.put_cloudobject("client side")
    fut = fexec.call_async(put_then_sleep, "still running")
    prefix = f"lithops.jobs/tmp/{fut.job_key}/"
    deadline = time.monotonic() + 10
    while not storage.list_keys(storage.bucket, prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert storage.list_keys(storage.bucket, prefix)
    fexec.clean()
    assert storage.get_cloudobject(mine) == b"client side"
    assert storage.list_keys(storage.bucket, prefix)  # its job is still running
    co = fut.result()
    assert storage.get_cloudobject(co) == b"still running"
    fexec.clean(fs=[fut])
    assert storage.list_keys(storage.bucket, prefix) == []
    fexec.clean(cs=[mine])
    fexec.clean(cs=[mine])  # already gone: not an error


def test_objects_written_by_functions_are_visible_to_the_client(fexec, storage):
    sizes = fexec.map(write_in_worker, ["w/1", "w/22"]).get_result()
    assert [int(s) for s in sizes] == [
        len("written by a worker: w/1"),
        len("written by a worker: w/22"),
    ]
    assert storage.get_object(storage.bucket, "w/22") == b"written by a worker: w/22"


def storage_inside(key):
    st = Storage()  # no arguments, on the worker: the executor's storage, as in Lithops
    st.put_object(st.bucket, key, b"from Storage() in a function")
    return st.bucket


def test_storage_created_inside_a_function_is_the_executors_storage(home, tmp_path):
    config = {
        "lithops": {"storage": "localhost"},
        "localhost": {"storage_root": str(tmp_path / "own"), "storage_bucket": "ownbucket"},
    }
    with lithops.FunctionExecutor(config=config) as fx:
        assert fx.call_async(storage_inside, "inside.txt").result() == "ownbucket"
    assert (tmp_path / "own" / "ownbucket" / "inside.txt").read_bytes() == (
        b"from Storage() in a function"
    )


def test_a_storage_that_cannot_be_set_up_does_not_fail_jobs_that_do_not_use_it(home, monkeypatch):
    def broken(self):
        raise RuntimeError("storage credentials missing")

    monkeypatch.setattr(Storage, "worker_descriptor", broken)
    with lithops.FunctionExecutor() as fx:
        assert fx.map(abs, [-1, -2]).get_result() == [1, 2]
