"""gcp_storage on fake-gcs-server: the storage contract, and what GCS users rely on beyond it."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from gcs_emulator import PROJECT, GcsEmulator, new_bucket_name

from lithops.storage import Storage
from lithops.storage.contract import StorageContract
from lithops.storage.partition import expand_obj_calls, open_partition
from lithops.storage.utils import StorageNoSuchKeyError


class TestGcsStorage(StorageContract):
    backend = "gcp_storage"

    @pytest.fixture
    def storage_config(self, gcs_bucket: str) -> dict[str, Any]:
        return {
            "lithops": {"storage": "gcp_storage"},
            "gcp": {"project_name": PROJECT},
            "gcp_storage": {"storage_bucket": gcs_bucket},
        }


@pytest.fixture
def storage(gcs_bucket: str) -> Storage:
    return Storage(
        config={"gcp": {"project_name": PROJECT}, "gcp_storage": {"storage_bucket": gcs_bucket}},
        backend="gcp_storage",
    )


def test_large_upload_is_resumable_and_reads_back_in_ranges(storage: Storage) -> None:
    data = os.urandom(20 << 20)
    storage.put_object(storage.bucket, "big", data)
    assert int(storage.head_object(storage.bucket, "big")["content-length"]) == len(data)
    assert storage.get_object(storage.bucket, "big") == data
    part = storage.get_object(storage.bucket, "big", extra_get_args={"Range": "bytes=9999999-"})
    assert part == data[9999999:]
    tail = storage.get_object(storage.bucket, "big", extra_get_args={"Range": "bytes=-100"})
    assert tail == data[-100:]
    stream = storage.get_object(
        storage.bucket, "big", stream=True, extra_get_args={"Range": "bytes=1000-10000999"}
    )
    assert stream.read() == data[1000:10001000]  # type: ignore[union-attr]


def test_streams_of_unknown_length_upload_whole(storage: Storage, tmp_path: Any) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(300_000)))  # ~3.6 MB: several reads
    with open(path, encoding="utf-8") as text:
        storage.put_object(storage.bucket, "from-text", text)
    with open(path, "rb") as binary:
        storage.put_object(storage.bucket, "from-binary", binary)
    assert storage.get_object(storage.bucket, "from-text") == path.read_bytes()
    assert storage.get_object(storage.bucket, "from-binary") == path.read_bytes()
    stream = storage.get_object(storage.bucket, "from-text", stream=True)
    assert stream.readline() == b"line 0\n"  # type: ignore[union-attr]


def test_upload_and_download_files(storage: Storage, tmp_path: Any) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(9 << 20))
    storage.upload_file(str(source), storage.bucket, "files/in.bin")
    target = tmp_path / "out" / "in.bin"
    storage.download_file(storage.bucket, "files/in.bin", str(target))
    assert target.read_bytes() == source.read_bytes()


def test_listing_pages_through_more_than_a_page(storage: Storage) -> None:
    bucket = storage.get_client().bucket(storage.bucket)
    keys = [f"many/{i:05d}" for i in range(1105)]
    for key in keys:
        bucket.blob(key).upload_from_string(b"x")
    assert storage.list_keys(storage.bucket, "many/") == keys
    assert len(storage.list_objects(storage.bucket, "many/", match_pattern="many/010*")) == 100
    storage.delete_objects(storage.bucket, keys)
    assert storage.list_keys(storage.bucket, "many/") == []


def test_range_past_the_end_is_empty_and_missing_bucket_is_no_such_key(storage: Storage) -> None:
    storage.put_object(storage.bucket, "short", b"0123")
    assert storage.get_object(storage.bucket, "short", extra_get_args={"Range": "bytes=10-"}) == b""
    with pytest.raises(StorageNoSuchKeyError):
        storage.head_bucket(new_bucket_name())
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_object(new_bucket_name(), "k")
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_object(storage.bucket, "missing", stream=True)


def test_gs_urls_partition_objects(storage: Storage) -> None:
    text = b"".join(b"%d\n" % i for i in range(2000))
    storage.put_object(storage.bucket, "in/a.txt", text)
    storage.put_object(storage.bucket, "in/b.txt", b"x\ny\n")
    calls = expand_obj_calls([{"obj": f"gs://{storage.bucket}/in/"}], storage, 3000, None)
    assert len(calls) > 2
    data = [open_partition(c["obj"]).data_stream.read() for c in calls]
    assert b"".join(data) == text + b"x\ny\n"


def test_api_endpoint_key_and_anonymous_credentials_are_logged(
    gcp_env: GcsEmulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    bucket = new_bucket_name()
    config = {
        "gcp": {"project_name": PROJECT},
        "gcp_storage": {"storage_bucket": bucket, "api_endpoint": gcp_env.endpoint},
    }
    with caplog.at_level(logging.INFO, logger="lithops_gcp"):
        storage = Storage(config=config, backend="gcp_storage")
    assert "anonymous credentials" in caplog.text
    storage.create_bucket(bucket)
    storage.put_object(bucket, "k", b"v")
    assert storage.get_object(bucket, "k") == b"v"
    descriptor = storage.worker_descriptor()
    assert descriptor["settings"]["api_endpoint"] == gcp_env.endpoint


def test_default_bucket_is_named_after_project_and_region(gcp_env: GcsEmulator) -> None:
    storage = Storage(
        config={"gcp": {"project_name": PROJECT, "region": "europe-west1"}}, backend="gcp_storage"
    )
    assert storage.bucket == f"lithops-{PROJECT}-europe-west1"
    storage.head_bucket(storage.bucket)
