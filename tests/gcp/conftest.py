"""Fixtures of the lithops-gcp tests: the Cloud Storage emulator and the Cloud Functions fake.

- ``gcs_emulator`` (session): fake-gcs-server started for this run on a free loopback port,
  stopped (by PID) when the run ends.
- ``gcp_env``: the environment a Google client program sees in these tests: the emulator in
  ``STORAGE_EMULATOR_HOST``, ``NO_GCE_CHECK=true`` (google-auth never probes the metadata
  server), no credentials of the developer's.
- ``gcs_bucket``: a fresh bucket in the emulator.
- ``fake_functions`` (session): :class:`FakeCloudFunctions`, the fake admin API whose deploys
  run functions-framework on the uploaded code; stopped (every process by PID) at the end.
- ``gcf_config``: a Lithops config for ``gcp_functions`` + ``gcp_storage`` on those two, in
  Lithops' own sections, with a fresh bucket.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fake_cloud_functions import FakeCloudFunctions
from gcs_emulator import (
    PROJECT,
    REGION,
    GcsEmulator,
    GcsEmulatorUnavailable,
    new_bucket_name,
    start_gcs_emulator,
)


def unavailable(reason: str) -> NoReturn:
    # As tests/conftest.py does: skip on a developer machine, fail under CI=true.
    if os.environ.get("CI") == "true":
        pytest.fail(f"testbed component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    try:
        emulator = start_gcs_emulator(tmp_path_factory.mktemp("gcs"))
    except GcsEmulatorUnavailable as exc:
        unavailable(str(exc))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def gcp_env(
    gcs_emulator: GcsEmulator, lithops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> GcsEmulator:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    # gcloud's own config would name the developer's project and account.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(lithops_home / "no-gcloud-config"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return gcs_emulator


@pytest.fixture
def gcs_bucket(gcp_env: GcsEmulator) -> str:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket = new_bucket_name()
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials())
    client.create_bucket(bucket)
    return bucket


@pytest.fixture(scope="session")
def fake_functions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCloudFunctions]:
    fake = FakeCloudFunctions(tmp_path_factory.mktemp("functions"))
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def gcf_config(
    gcp_env: GcsEmulator, gcs_bucket: str, fake_functions: FakeCloudFunctions
) -> Iterator[dict[str, Any]]:
    fake_functions.reset_counters()
    yield {
        "lithops": {"backend": "gcp_functions", "storage": "gcp_storage"},
        "gcp": {"project_name": PROJECT, "region": REGION},
        "gcp_functions": {
            "api_endpoint": fake_functions.endpoint,
            "runtime_memory": 256,
            "runtime_timeout": 120,
            "max_workers": 4,
        },
        "gcp_storage": {"storage_bucket": gcs_bucket},
    }
    fake_functions.throttle_every_other = False
    fake_functions.require_id_token = False
