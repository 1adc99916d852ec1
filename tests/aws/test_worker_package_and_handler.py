"""The two core pieces serverless backends build on: the worker package and the JSON handler."""

from __future__ import annotations

import base64
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from lithops import wire
from lithops.errors import BackendUnavailableError, CallTimeoutError, WireVersionError
from lithops.packaging import worker_package
from lithops.storage import Storage
from lithops.worker.serverless import decode_event_response, handler


def test_package_holds_the_worker_runtime_as_source_only() -> None:
    package = worker_package()
    names = {name for name, _ in package.files}
    assert "lithops/worker/serverless.py" in names and "cloudpickle/__init__.py" in names
    assert not any(n.endswith((".pyc", ".so")) or "__pycache__" in n for n in names)
    assert package.tag.startswith("0.1.0-") and len(package.digest) == 64
    archive = zipfile.ZipFile(io.BytesIO(package.zip()))
    assert set(archive.namelist()) == names
    assert package.zip() == package.zip()  # deterministic: the digest names the bytes


def test_digest_follows_the_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "digestprobe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = worker_package(extra=("digestprobe",))
    assert worker_package(extra=("digestprobe",)) is first  # computed once per process
    import lithops.packaging as packaging

    packaging._cache.clear()
    (pkg / "__init__.py").write_text("VALUE = 2\n")
    assert worker_package(extra=("digestprobe",)).digest != first.digest
    with pytest.raises(BackendUnavailableError, match="pip install nosuchpackage"):
        worker_package(extra=("nosuchpackage",))
    assert "nosuchpackage" not in worker_package(optional=("nosuchpackage",)).packages


def _batch(func: Any, args: list[Any], timeout: float | None = None) -> bytes:
    message = {
        "t": "batch",
        "job_key": "e1/M000",
        "func_key": f"f-{id(func)}",
        "func": cloudpickle.dumps(func),
        "calls": [f"{i:05d}" for i in range(len(args))],
        "args": cloudpickle.dumps([((a,), {}) for a in args]),
        "timeout": timeout,
        "env": {},
        "inject": (),
        "storage": None,
    }
    return wire.encode(message)


def _event(payload: bytes, **extra: Any) -> dict[str, Any]:
    event = {"t": "batch", "wire": list(wire.WIRE_VERSION)}
    event["message"] = base64.b64encode(payload).decode()
    event.update(extra)
    return json.loads(json.dumps(event))  # exactly what JSON can carry


def test_metadata_answers_the_wire_hello() -> None:
    hello = handler({"t": "metadata"}, None)
    wire.check_hello(hello, "test")
    assert hello["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_batch_event_returns_json_records_with_output() -> None:
    def shout(x: str) -> str:
        print("saw", x)
        return x.upper()

    response = json.loads(json.dumps(handler(_event(_batch(shout, ["a", "b"])), None)))
    records = decode_event_response(response)
    assert [r["key"] for r in records] == [("e1/M000", "00000"), ("e1/M000", "00001")]
    assert [cloudpickle.loads(r["value"]) for r in records] == ["A", "B"]
    assert records[1]["output"] == "saw b\n"


def test_large_response_spills_to_storage_and_is_read_back_once(tmp_path: Path) -> None:
    storage = Storage(config={"localhost": {"storage_root": str(tmp_path)}}, backend="localhost")
    storage.create_bucket(storage.bucket)
    event = _event(
        _batch(bytes, [300_000]),
        storage=storage.worker_descriptor(),
        spill={"limit": 100_000, "prefix": "lithops.jobs/e1/M000/spill"},
    )
    response = json.loads(json.dumps(handler(event, None)))
    assert response["records"] == [] and response["records_ref"]
    records = decode_event_response(response, storage)
    assert cloudpickle.loads(records[0]["value"]) == bytes(300_000)
    assert storage.list_keys(storage.bucket, "lithops.jobs/") == []


def test_per_call_timeout_fails_that_call_only() -> None:
    import time

    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    response = handler(_event(_batch(nap, [30, 0.01], timeout=0.5)), None)
    first, second = decode_event_response(json.loads(json.dumps(response)))
    assert not first["ok"] and first["exc_type"] == "lithops.errors.CallTimeoutError"
    assert isinstance(cloudpickle.loads(first["error"]), CallTimeoutError)
    assert second["ok"] and cloudpickle.loads(second["value"]) == 0.01


def test_an_event_of_another_wire_major_is_refused() -> None:
    event = _event(_batch(abs, [1]))
    event["wire"] = [wire.WIRE_VERSION[0] + 1, 0]
    with pytest.raises(WireVersionError, match="delete this function"):
        handler(event, None)
