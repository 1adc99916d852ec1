"""The filesystem backend passes the storage contract suite every storage plugin runs."""

from __future__ import annotations

import pytest

from lithops.storage.contract import StorageContract


class TestLocalhostStorage(StorageContract):
    backend = "localhost"

    @pytest.fixture
    def storage_config(self, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("LITHOPS_CONFIG_FILE", raising=False)
        return {
            "lithops": {"storage": "localhost"},
            "localhost": {"storage_root": str(tmp_path / "root")},
        }
