"""How storage backends are found (plugin host) and rebuilt on workers (descriptors)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import types

import pytest

import lithops.plugins.manager as manager
from lithops.errors import BackendUnavailableError, UnknownBackendError
from lithops.plugins import hookimpl
from lithops.plugins.types import BackendInfo, BackendKind
from lithops.storage import Storage
from lithops.storage.backend import StorageBackend
from lithops.storage.backends.localhost import LocalhostStorageBackend


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    # LITHOPS_CONFIG too: a call run in this process (the test-only tiny backend's workers are
    # threads) leaves the job's config there, storage_root of another home included.
    for var in ("LITHOPS_CONFIG_FILE", "LITHOPS_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_the_core_registers_localhost_storage_through_its_entry_point():
    host = manager.get_plugin_host()
    info = host.resolve("localhost", BackendKind.STORAGE)
    assert info.distribution == "lithops-core"
    assert {"storage_root", "storage_bucket"} <= set(info.config_keys)
    backend = host.storage_backend("localhost", {})  # lithops_storage_backend
    assert isinstance(backend, LocalhostStorageBackend)
    assert isinstance(backend, StorageBackend)
    with pytest.raises(BackendUnavailableError, match="lithops_storage_backend"):
        host.storage_backend("no-such-storage", {})


def test_an_unknown_storage_backend_names_the_installed_ones(home):
    with pytest.raises(UnknownBackendError) as info:
        Storage(backend="no_such_store")
    assert "no_such_store" in str(info.value) and "localhost" in str(info.value)


def test_worker_descriptor_round_trip_does_not_build_the_plugin_host(home):
    storage = Storage()
    storage.put_object(storage.bucket, "k", b"v")
    desc = storage.worker_descriptor()
    assert desc["factory"] == "lithops.storage.backends.localhost:from_settings"
    assert desc["settings"] == {"storage_root": str(home / ".lithops" / "storage")}
    manager.reset_plugin_host()
    try:
        again = Storage.from_descriptor(pickle.loads(pickle.dumps(desc)))
        assert manager._host is None
        assert (again.backend, again.bucket) == ("localhost", "storage")
        assert again.get_object(again.bucket, "k") == b"v"
        # A Storage pickled into a function's arguments travels the same way.
        clone = pickle.loads(pickle.dumps(storage))
        assert clone.get_object(clone.bucket, "k") == b"v"
        assert manager._host is None
    finally:
        manager.reset_plugin_host()


def test_from_descriptor_in_a_fresh_interpreter_scans_no_entry_points(home):
    desc = Storage().worker_descriptor()
    code = textwrap.dedent(
        f"""
        import importlib.metadata, pickle, sys
        def forbidden(*a, **k):
            raise AssertionError("entry points scanned on the worker path")
        importlib.metadata.entry_points = forbidden
        from lithops.storage import Storage
        import lithops.plugins.manager as m
        st = Storage.from_descriptor(pickle.loads({pickle.dumps(desc)!r}))
        st.put_object(st.bucket, "from-worker", b"hi")
        assert m._host is None
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert Storage().get_object("storage", "from-worker") == b"hi"


def test_from_descriptor_none_is_the_default_filesystem_storage(home):
    st = Storage.from_descriptor(None)
    assert (st.backend, st.bucket) == ("localhost", "storage")


class _SecretStore:
    """A storage backend with a secret, declaring which settings are safe for workers."""

    public_settings = ("endpoint",)
    made: list[dict] = []

    def __init__(self, config):
        self.config = dict(config)
        _SecretStore.made.append(self.config)
        self.objects: dict = {}

    def default_bucket(self):
        return "secret-bucket"

    def put_object(self, bucket, key, body):
        self.objects[(bucket, key)] = body

    def get_object(self, bucket, key, stream=False, extra_get_args=None):
        return self.objects[(bucket, key)]

    def head_object(self, bucket, key):
        return {"content-length": str(len(self.objects[(bucket, key)]))}

    def delete_object(self, bucket, key):
        self.objects.pop((bucket, key), None)

    def delete_objects(self, bucket, key_list):
        for k in key_list:
            self.delete_object(bucket, k)

    def head_bucket(self, bucket):
        return {}

    def list_objects(self, bucket, prefix=None, match_pattern=None):
        return []

    def list_keys(self, bucket, prefix=None):
        return []


def _secret_plugin() -> types.ModuleType:
    mod = types.ModuleType("secret_store_plugin")

    @hookimpl
    def lithops_register_backends(register):
        register(
            BackendInfo(
                name="secretstore",
                kind=BackendKind.STORAGE,
                config_keys={"endpoint": "url", "secret_key": "password"},
            )
        )

    @hookimpl
    def lithops_storage_backend(name, config):
        return _SecretStore(config) if name == "secretstore" else None

    mod.lithops_register_backends = lithops_register_backends
    mod.lithops_storage_backend = lithops_storage_backend
    return mod


def test_secrets_never_enter_the_worker_descriptor():
    host = manager.get_plugin_host()
    host.register_module(_secret_plugin(), name="secretstore", distribution="test-secret")
    try:
        st = Storage(
            storage_config={
                "backend": "secretstore",
                "secretstore": {"endpoint": "http://127.0.0.1:1", "secret_key": "hunter2"},
            }
        )
        assert st.bucket == "secret-bucket"
        desc = st.worker_descriptor()
        assert "hunter2" not in repr(desc) and "hunter2" not in repr(pickle.dumps(st))
        assert desc["settings"] == {"endpoint": "http://127.0.0.1:1"}
        assert desc["factory"].endswith(":_SecretStore")
        rebuilt = Storage.from_descriptor(desc)
        assert "secret_key" not in _SecretStore.made[-1]
        assert rebuilt.storage_handler.config["endpoint"] == "http://127.0.0.1:1"
    finally:
        manager.reset_plugin_host()
