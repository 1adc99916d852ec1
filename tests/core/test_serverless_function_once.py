"""The serverless handler gets a job's function once: inline in the event when small, through
storage when large, and a warm instance reads nothing for a function it has."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from lithops import wire
from lithops.plugins.types import CallBatch
from lithops.storage import Storage
from lithops.testing.kit import build_batch
from lithops.worker.serverless import FunctionUploads, decode_event_response, handler


def _event(batch: CallBatch, storage: Storage | None, uploads: FunctionUploads) -> Any:
    event: dict[str, Any] = {"t": "batch", "wire": list(wire.WIRE_VERSION)}
    event["message"] = base64.b64encode(batch.message).decode()
    if storage is not None:
        event["storage"] = storage.worker_descriptor()
    function = uploads.event_field(batch, storage)
    if function is not None:
        event["function"] = function
    return json.loads(json.dumps(event))  # exactly what JSON can carry


def _values(response: dict[str, Any]) -> list[Any]:
    records = decode_event_response(json.loads(json.dumps(response)))
    assert all(r["ok"] for r in records), records
    return [cloudpickle.loads(r["value"]) for r in records]


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    store = Storage(config={"localhost": {"storage_root": str(tmp_path)}}, backend="localhost")
    store.create_bucket(store.bucket)
    return store


def test_a_small_function_travels_inline_and_not_in_the_message() -> None:
    tag = "inline"
    batch = build_batch(lambda x: (tag, x), [1, 2], job_key="s1/M000", function_once=True)
    assert wire.decode(batch.message)["func"] is None
    event = _event(batch, None, FunctionUploads())
    assert "b64" in event["function"]
    assert _values(handler(event)) == [("inline", 1), ("inline", 2)]


def test_a_large_function_goes_through_storage_once_per_job(storage: Storage) -> None:
    big = bytes(200_000)
    uploads = FunctionUploads(inline_limit=10_000)

    def with_big(x: int) -> int:
        return len(big) + x

    first = build_batch(with_big, [1], job_key="s2/M000", function_once=True)
    second = build_batch(with_big, [2], job_key="s2/M000", function_once=True)
    e1, e2 = _event(first, storage, uploads), _event(second, storage, uploads)
    assert e1["function"]["ref"] == e2["function"]["ref"]  # put once
    assert len(json.dumps(e1)) < 100_000  # the function is not in the event
    assert storage.list_keys(storage.bucket, "lithops.jobs/tmp/s2/M000/functions/")
    assert _values(handler(e1)) == [200_001]
    # a warm instance has it: it reads nothing (the object may be gone already)
    storage.delete_objects(storage.bucket, [e1["function"]["ref"]["key"]])
    assert _values(handler(e2)) == [200_002]


def test_an_instance_without_the_function_fails_the_calls_clearly() -> None:
    batch = build_batch(lambda x: x, [1], job_key="s3/M000", function_once=True)
    event = {"t": "batch", "wire": list(wire.WIRE_VERSION)}
    event["message"] = base64.b64encode(batch.message).decode()
    records = decode_event_response(handler(event))
    assert not records[0]["ok"]
    assert "did not carry it" in records[0]["exc_msg"]
