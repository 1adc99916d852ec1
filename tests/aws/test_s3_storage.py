"""aws_s3 against moto's real S3: the storage contract, and what S3 users rely on beyond it."""

from __future__ import annotations

import os
import pickle
import uuid
from typing import Any

import boto3
import pytest
from testbed import MotoServer

from lithops.storage import Storage
from lithops.storage.contract import StorageContract
from lithops.storage.partition import expand_obj_calls, open_partition
from lithops.storage.utils import StorageNoSuchKeyError


def _bucket() -> str:
    return f"lithops-test-{uuid.uuid4().hex[:10]}"


class TestS3Storage(StorageContract):
    backend = "aws_s3"

    @pytest.fixture
    def storage_config(self, aws_env: MotoServer) -> dict[str, Any]:
        return {"lithops": {"storage": "aws_s3"}, "aws_s3": {"storage_bucket": _bucket()}}


@pytest.fixture
def storage(aws_env: MotoServer) -> Storage:
    storage = Storage(config={"aws_s3": {"storage_bucket": _bucket()}}, backend="aws_s3")
    storage.create_bucket(storage.bucket)
    return storage


def test_large_upload_goes_in_parts_and_reads_back_in_ranges(storage: Storage) -> None:
    data = os.urandom(20 << 20)
    storage.put_object(storage.bucket, "big", data)
    head = storage.head_object(storage.bucket, "big")
    assert int(head["content-length"]) == len(data)
    assert "-" in head["ETag"]  # a multipart upload's ETag is "<md5 of md5s>-<parts>"
    assert storage.get_object(storage.bucket, "big") == data
    part = storage.get_object(storage.bucket, "big", extra_get_args={"Range": "bytes=9999999-"})
    assert part == data[9999999:]


def test_file_objects_and_text_streams_upload_whole(storage: Storage, tmp_path: Any) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    with open(path, encoding="utf-8") as text:
        storage.put_object(storage.bucket, "from-text", text)
    with open(path, "rb") as binary:
        storage.put_object(storage.bucket, "from-binary", binary)
    assert storage.get_object(storage.bucket, "from-text") == path.read_bytes()
    assert storage.get_object(storage.bucket, "from-binary") == path.read_bytes()
    stream = storage.get_object(storage.bucket, "from-text", stream=True)
    assert stream.readline() == b"line 0\n"  # type: ignore[union-attr]


def test_listing_pages_through_more_than_a_thousand_keys(storage: Storage) -> None:
    client = storage.get_client()
    keys = [f"many/{i:05d}" for i in range(1105)]
    for key in keys:
        client.put_object(Bucket=storage.bucket, Key=key, Body=b"x")
    assert storage.list_keys(storage.bucket, "many/") == keys
    storage.delete_objects(storage.bucket, keys)
    assert storage.list_keys(storage.bucket, "many/") == []


def test_range_past_the_end_is_empty_and_missing_bucket_is_no_such_key(storage: Storage) -> None:
    storage.put_object(storage.bucket, "short", b"0123")
    assert storage.get_object(storage.bucket, "short", extra_get_args={"Range": "bytes=10-"}) == b""
    with pytest.raises(StorageNoSuchKeyError):
        storage.head_bucket(_bucket())
    with pytest.raises(StorageNoSuchKeyError):
        storage.get_object(_bucket(), "k")


def test_default_bucket_is_created_when_missing(aws_env: MotoServer) -> None:
    storage = Storage(config={"lithops": {"storage": "aws_s3"}})
    assert storage.bucket.startswith("lithops-") and storage.bucket.endswith("-us-east-1")
    storage.head_bucket(storage.bucket)


def test_aws_section_and_endpoint_key_are_used(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    config = {
        "lithops": {"storage": "aws_s3"},
        "aws": {"region": "eu-west-1", "access_key_id": "AKIDX", "secret_access_key": "s"},
        "aws_s3": {"storage_bucket": _bucket(), "endpoint": aws_env.endpoint},
    }
    storage = Storage(config=config)
    storage.create_bucket(storage.bucket)
    storage.put_object(storage.bucket, "k", b"v")
    client = storage.get_client()
    assert client.meta.region_name == "eu-west-1"
    assert client.get_bucket_location(Bucket=storage.bucket)["LocationConstraint"] == "eu-west-1"
    # The worker gets region and endpoint, never the keys.
    desc = storage.worker_descriptor()
    assert desc["settings"] == {"region": "eu-west-1", "endpoint": aws_env.endpoint}
    assert "AKIDX" not in repr(pickle.dumps(storage))


def test_s3_scheme_partitions_objects_under_a_prefix(storage: Storage) -> None:
    text = b"".join(b"row %d\n" % i for i in range(300))
    storage.put_object(storage.bucket, "part/a.txt", text)
    storage.put_object(storage.bucket, "part/b.txt", text[:100])
    calls = expand_obj_calls([{"obj": f"s3://{storage.bucket}/part/"}], storage, 500, None)
    chunks = [open_partition(pickle.loads(pickle.dumps(c["obj"]))) for c in calls]
    assert len(chunks) > 2
    assert b"".join(o.data_stream.read() for o in chunks) == text + text[:100]


def test_boto3_sees_what_storage_wrote(storage: Storage, aws_env: MotoServer) -> None:
    storage.put_object(storage.bucket, "seen", b"by boto3")
    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=storage.bucket, Key="seen")["Body"].read() == b"by boto3"
