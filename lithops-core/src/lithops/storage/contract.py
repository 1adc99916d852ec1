"""The storage backend contract suite: what every storage plugin must do.

A storage backend's test module subclasses :class:`StorageContract`::

    import pytest
    from lithops.storage.contract import StorageContract

    class TestMyStore(StorageContract):
        backend = "mystore"

        @pytest.fixture
        def storage_config(self):            # how to reach it in tests (an emulator...)
            return {"lithops": {"storage": "mystore"}, "mystore": {"endpoint": "http://127.0.0.1:9000"}}

Every test works under a fresh key prefix in the backend's default bucket and deletes what it
wrote. Needs pytest (``lithops-core[testing]``).
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lithops.errors import BackendUnavailableError
from lithops.plugins.manager import get_plugin_host, reset_plugin_host
from lithops.plugins.types import BackendKind
from lithops.storage.partition import expand_obj_calls, open_partition
from lithops.storage.storage import Storage
from lithops.storage.utils import StorageNoSuchKeyError

__all__ = ["StorageContract"]

_SECRET_WORDS = ("secret", "password", "token", "credential", "access_key", "private")


class StorageContract:
    """Subclass in a storage backend's tests and set ``backend``; override ``storage_config``."""

    backend: str = ""

    @pytest.fixture
    def storage_config(self) -> dict[str, Any]:
        return {"lithops": {"storage": self.backend}}

    @pytest.fixture
    def storage(self, storage_config: dict[str, Any]) -> Storage:
        return Storage(config=storage_config, backend=self.backend)

    @pytest.fixture
    def prefix(self, storage: Storage) -> Iterator[str]:
        prefix = f"lithops-contract/{uuid.uuid4().hex[:12]}/"
        storage.create_bucket(storage.bucket)
        yield prefix
        storage.delete_objects(storage.bucket, storage.list_keys(storage.bucket, prefix))

    # -- registration ---------------------------------------------------------------------

    def test_backend_is_registered_as_storage_by_a_distribution(self) -> None:
        info = get_plugin_host().resolve(self.backend, BackendKind.STORAGE)
        assert info.name == self.backend and info.distribution

    def test_dispatch_ignores_other_backend_names(self, storage_config: dict[str, Any]) -> None:
        host = get_plugin_host()
        # lithops_storage_backend: no plugin answers for a name not its own; the host says so
        with pytest.raises(BackendUnavailableError):
            host.storage_backend("not-" + self.backend, {})

    # -- objects --------------------------------------------------------------------------

    def test_put_then_get_returns_the_bytes(self, storage: Storage, prefix: str) -> None:
        storage.put_object(storage.bucket, prefix + "b", b"\x00bytes\xff")
        storage.put_object(storage.bucket, prefix + "s", "text é")
        assert storage.get_object(storage.bucket, prefix + "b") == b"\x00bytes\xff"
        assert storage.get_object(storage.bucket, prefix + "s") == "text é".encode()

    def test_put_replaces_the_object(self, storage: Storage, prefix: str) -> None:
        storage.put_object(storage.bucket, prefix + "k", b"first version")
        storage.put_object(storage.bucket, prefix + "k", b"second")
        assert storage.get_object(storage.bucket, prefix + "k") == b"second"

    def test_missing_key_raises_no_such_key(self, storage: Storage, prefix: str) -> None:
        with pytest.raises(StorageNoSuchKeyError):
            storage.get_object(storage.bucket, prefix + "missing")
        with pytest.raises(StorageNoSuchKeyError):
            storage.head_object(storage.bucket, prefix + "missing")

    def test_ranges_are_inclusive_and_clamped(self, storage: Storage, prefix: str) -> None:
        storage.put_object(storage.bucket, prefix + "r", b"0123456789")

        def get(value: str) -> Any:
            return storage.get_object(storage.bucket, prefix + "r", extra_get_args={"Range": value})

        assert get("bytes=2-5") == b"2345"
        assert get("bytes=7-") == b"789"
        assert get("bytes=8-100") == b"89"

    def test_stream_is_a_readable_file_object(self, storage: Storage, prefix: str) -> None:
        storage.put_object(storage.bucket, prefix + "s", b"a\nb\nc\n")
        whole = storage.get_object(storage.bucket, prefix + "s", stream=True)
        assert whole.read() == b"a\nb\nc\n"  # type: ignore[union-attr]
        part = storage.get_object(
            storage.bucket, prefix + "s", stream=True, extra_get_args={"Range": "bytes=2-3"}
        )
        assert part.read() == b"b\n"  # type: ignore[union-attr]

    def test_head_object_reports_the_size(self, storage: Storage, prefix: str) -> None:
        storage.put_object(storage.bucket, prefix + "h", b"12345")
        assert int(storage.head_object(storage.bucket, prefix + "h")["content-length"]) == 5

    def test_listing_is_sorted_with_sizes_and_filtered_by_prefix(
        self, storage: Storage, prefix: str
    ) -> None:
        for key in ("b/2", "a", "b/1", "c"):
            storage.put_object(storage.bucket, prefix + key, key.encode())
        listed = storage.list_objects(storage.bucket, prefix)
        assert [(o["Key"], o["Size"]) for o in listed] == [
            (prefix + "a", 1),
            (prefix + "b/1", 3),
            (prefix + "b/2", 3),
            (prefix + "c", 1),
        ]
        assert storage.list_keys(storage.bucket, prefix + "b/") == [prefix + "b/1", prefix + "b/2"]

    def test_delete_removes_and_tolerates_missing(self, storage: Storage, prefix: str) -> None:
        for key in ("x", "y", "z"):
            storage.put_object(storage.bucket, prefix + key, b"1")
        storage.delete_object(storage.bucket, prefix + "x")
        storage.delete_object(storage.bucket, prefix + "x")
        storage.delete_objects(storage.bucket, [prefix + "y", prefix + "z", prefix + "never"])
        assert storage.list_keys(storage.bucket, prefix) == []

    # -- workers --------------------------------------------------------------------------

    def test_worker_descriptor_rebuilds_without_plugin_host_or_secrets(
        self, storage: Storage, prefix: str
    ) -> None:
        import lithops.plugins.manager as manager

        storage.put_object(storage.bucket, prefix + "w", b"worker")
        desc = pickle.loads(pickle.dumps(storage.worker_descriptor()))
        for key in desc.get("settings") or {}:
            assert not any(word in key.lower() for word in _SECRET_WORDS), key
        if not desc.get("factory"):
            # No worker factory: workers fall back to the plugin host (slower cold starts).
            rebuilt = Storage.from_descriptor(desc)
            assert rebuilt.get_object(rebuilt.bucket, prefix + "w") == b"worker"
            return
        reset_plugin_host()
        try:
            rebuilt = Storage.from_descriptor(desc)
            assert not manager.plugin_host_loaded()
            assert rebuilt.get_object(rebuilt.bucket, prefix + "w") == b"worker"
        finally:
            reset_plugin_host()

    def test_objects_partition_into_exact_line_chunks(self, storage: Storage, prefix: str) -> None:
        text = b"".join(b"line %d\n" % i for i in range(500))
        storage.put_object(storage.bucket, prefix + "lines.txt", text)
        calls = expand_obj_calls([{"obj": f"{storage.bucket}/{prefix}"}], storage, 331, None)
        chunks = [open_partition(pickle.loads(pickle.dumps(c["obj"]))) for c in calls]
        assert b"".join(o.data_stream.read() for o in chunks) == text
