"""``lithops.storage.cloud_proxy`` on the localhost storage (a real directory tree)."""

from __future__ import annotations

import pickle

import pytest
from cloud_proxy_checks import (
    check_large_streamed_write_and_read,
    check_os_functions,
    check_text_and_binary_round_trips,
)

from lithops.storage.cloud_proxy import CloudFileProxy, CloudStorage


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    root = tmp_path / "objects"
    return {
        "lithops": {"storage": "localhost"},
        "localhost": {"storage_root": str(root), "storage_bucket": "files"},
    }


@pytest.fixture
def proxy(config):
    return CloudFileProxy(CloudStorage(config))


def test_text_and_binary_files_round_trip(proxy):
    check_text_and_binary_round_trips(proxy)


def test_os_functions_see_the_written_tree(proxy):
    check_os_functions(proxy)


def test_large_files_stream_both_ways(proxy):
    check_large_streamed_write_and_read(proxy)


def test_files_are_objects_of_the_configured_bucket(proxy, config, tmp_path):
    with proxy.open("dir/f.txt", "w") as f:
        f.write("on disk")
    assert (tmp_path / "objects" / "files" / "dir" / "f.txt").read_text() == "on disk"
    storage = proxy.storage
    storage.put_object("files", "dir/g.txt", b"put by the storage API")
    with proxy.open("dir/g.txt") as f:
        assert f.read() == "put by the storage API"


def test_nothing_is_written_before_close(proxy):
    f = proxy.open("late.txt", "w")
    f.write("pending")
    f.flush()
    assert not proxy.path.exists("late.txt")
    f.close()
    assert proxy.path.isfile("late.txt")


def test_a_proxy_pickles_with_its_storage(proxy):
    with proxy.open("p.txt", "w") as f:
        f.write("same bucket")
    again = pickle.loads(pickle.dumps(proxy))
    with again.open("p.txt") as f:
        assert f.read() == "same bucket"


def test_module_level_os_and_open_use_the_default_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
    from lithops.storage import cloud_proxy

    # A fresh default proxy: the module's own one may have been built by an earlier test.
    monkeypatch.setattr(cloud_proxy.os, "_storage", None)
    with cloud_proxy.open("from/module.txt", "w") as f:
        f.write("default storage")
    assert cloud_proxy.os.listdir("from") == ["module.txt"]
    stored = tmp_path / ".lithops" / "storage" / "storage" / "from" / "module.txt"
    assert stored.read_text() == "default storage"
