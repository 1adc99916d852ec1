"""``lithops.storage.cloud_proxy`` on aws_s3, against moto's real server: the same round trips
as on the localhost storage (tests/core/cloud_proxy_checks.py)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from testbed import MotoServer

from lithops.storage.cloud_proxy import CloudFileProxy, CloudStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from cloud_proxy_checks import (
    check_large_streamed_write_and_read,
    check_os_functions,
    check_text_and_binary_round_trips,
)


@pytest.fixture
def s3_config(aws_env: MotoServer) -> dict[str, Any]:
    import boto3

    bucket = f"cloud-proxy-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return {
        "lithops": {"storage": "aws_s3"},
        "aws": {"region": "us-east-1"},
        "aws_s3": {"storage_bucket": bucket},
    }


@pytest.fixture
def proxy(s3_config: dict[str, Any]) -> CloudFileProxy:
    return CloudFileProxy(CloudStorage(s3_config))


def test_text_and_binary_files_round_trip_on_s3(proxy: CloudFileProxy) -> None:
    check_text_and_binary_round_trips(proxy)


def test_os_functions_see_the_written_tree_on_s3(proxy: CloudFileProxy) -> None:
    check_os_functions(proxy)


def test_large_files_stream_both_ways_on_s3(proxy: CloudFileProxy) -> None:
    check_large_streamed_write_and_read(proxy)


def test_files_are_objects_of_the_bucket(proxy: CloudFileProxy, s3_config: dict[str, Any]) -> None:
    import boto3

    with proxy.open("dir/f.txt", "w") as f:
        f.write("in s3")
    body = boto3.client("s3").get_object(
        Bucket=s3_config["aws_s3"]["storage_bucket"], Key="dir/f.txt"
    )
    assert body["Body"].read() == b"in s3"
