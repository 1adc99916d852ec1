"""``lithops runtime build|deploy|list|update|delete -b gcp_functions`` and ``lithops clean -b
gcp_functions`` through the real console script (the ``lithops`` installed beside this
Python), on the FAKE Cloud Functions admin API whose deploys and updates pip-install the
source's requirements (offline) and run our code in functions-framework; and a deployed
function whose ``runtime_timeout`` changed."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_cloud_functions import FakeCloudFunctions
from google.cloud import functions_v2
from google.protobuf import field_mask_pb2
from serverless_helpers import cli, rows, write_config

import lithops
import lithops_gcp.functions_deploy as functions_deploy
from lithops.errors import ConfigError
from lithops_gcp.functions_service import connect

DEADLINE = 120
PARENT = "projects/lithops-test/locations/us-east1"


def double(x: int) -> int:
    return 2 * x


def probe_version(_: int) -> str:
    import lithops_probe  # only a runtime built with its wheel has it

    return str(lithops_probe.VERSION)


def probe_wheel(directory: Path, version: str) -> Path:
    """A wheel of the tiny package ``lithops_probe``, written here: a local file, so pip
    installs it without an index (tests never reach PyPI)."""
    info = f"lithops_probe-{version}.dist-info"
    files = {
        "lithops_probe/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: lithops-probe\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"lithops_probe-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def config_file(gcf_config: dict[str, Any], lithops_home: Path) -> str:
    return write_config(gcf_config, lithops_home / "gcf.yaml")


@pytest.fixture(autouse=True)
def no_functions_left(gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions) -> Any:
    """Each test starts and ends with none of our functions in the fake."""

    def wipe() -> None:
        client = connect(gcf_config).client
        for name in [n for n in fake_functions.functions if "/functions/lithops-w" in n]:
            client.delete_function(name=name).result(timeout=60)
        functions_deploy._deployed.clear()

    wipe()
    yield
    wipe()


def current_function(memory: int) -> str:
    package = functions_deploy.runtime_package()
    return f"lithops-w-{package.tag.replace('.', '-')}-{memory}mb"


def hello_of(fake: FakeCloudFunctions, function_id: str) -> Any:
    uri = fake.front_end(function_id).uri
    return requests.post(uri, json={"t": "metadata"}, timeout=30).json()


def test_deploy_then_list_shows_the_runtime_with_memory_and_version(config_file: str) -> None:
    done = cli(
        "runtime", "deploy", "-m", "512", "-t", "45", "-c", config_file, "-b", "gcp_functions"
    )
    name = current_function(512)
    assert f"Deployed runtime default (512 MB) as {name}" in done.stdout
    listing = rows(cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout)
    tag = functions_deploy.runtime_package().tag
    assert listing == [["default", "512", "MB", tag, name, "45", "s"]]


def _stale_source(fake: FakeCloudFunctions) -> str:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("main.py", "def lithops_handler(request):\n    return '\"stale\"'\n")
    fake.uploads["stale.zip"] = code.getvalue()
    return "stale.zip"


def test_update_really_replaces_the_code_and_removes_older_versions(
    config_file: str, gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    cli("runtime", "deploy", "-c", config_file, "-b", "gcp_functions")
    function_id = current_function(256)
    name = f"{PARENT}/functions/{function_id}"
    # Someone (or an older client) left other code in the function: it no longer answers.
    client = connect(gcf_config).client
    function = client.get_function(name=name)
    function.build_config.source = functions_v2.Source(
        storage_source=functions_v2.StorageSource(
            bucket="gcf-v2-uploads-fake", object_=_stale_source(fake_functions)
        )
    )
    mask = field_mask_pb2.FieldMask(paths=["build_config.source"])
    client.update_function(function=function, update_mask=mask).result(timeout=60)
    assert hello_of(fake_functions, function_id) == "stale"
    # And a function of an older lithops version of the same runtime and memory (a record).
    old = f"{PARENT}/functions/lithops-w-0-0-9-aaaaaaaaaaaa-256mb"
    fake_functions.functions[old] = {
        "name": old,
        "state": 1,
        "labels": {"lithops": "runtime", "lithops-version": "0.0.9-aaaaaaaaaaaa"},
        "serviceConfig": {"availableMemory": "256Mi", "timeoutSeconds": 120},
    }
    assert len(rows(cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout)) == 2

    updated = cli("runtime", "update", "-c", config_file, "-b", "gcp_functions").stdout
    assert "Updated 1 deployment(s)" in updated

    assert hello_of(fake_functions, function_id)["t"] == "hello"
    assert old not in fake_functions.functions
    listing = rows(cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout)
    assert [r[4] for r in listing] == [function_id]
    with lithops.FunctionExecutor(config_file=config_file) as fexec:
        assert fexec.map(double, [1, 2]).get_result(timeout=DEADLINE) == [2, 4]


def test_delete_by_memory_leaves_the_others(config_file: str) -> None:
    cli("runtime", "deploy", "-m", "256", "-c", config_file, "-b", "gcp_functions")
    cli("runtime", "deploy", "-m", "512", "-c", config_file, "-b", "gcp_functions")
    deleted = cli(
        "runtime", "delete", "default", "-m", "512", "-c", config_file, "-b", "gcp_functions"
    ).stdout
    assert "Deleted 1 deployment(s)" in deleted and current_function(512) in deleted
    left = rows(cli("runtime", "list", "default", "-c", config_file, "-b", "gcp_functions").stdout)
    assert [(r[1], r[4]) for r in left] == [("256", current_function(256))]
    cli("runtime", "delete", "-c", config_file, "-b", "gcp_functions")
    listing = cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout
    assert "No runtimes deployed on gcp_functions" in listing


def test_clean_removes_functions_and_transport_data_but_not_user_data(
    config_file: str, gcf_config: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(config_file=config_file) as fexec:
        assert fexec.call_async(double, 4).result(timeout=DEADLINE) == 8
    storage = lithops.Storage(config=gcf_config)
    bucket = storage.bucket
    storage.put_object(bucket, "lithops.jobs/E1/J1/batches/left.batch", b"x")
    storage.put_object(bucket, "lithops.jobs/E1/J1/spill/left.results", b"x")
    storage.put_object(bucket, "data/mine.txt", b"keep me")

    done = cli("clean", "-c", config_file, "-b", "gcp_functions")
    assert f"Removed Cloud Function {current_function(256)}" in done.stdout
    assert "2 invocation transport objects" in done.stdout
    listing = cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout
    assert "No runtimes deployed" in listing
    assert storage.list_keys(bucket, "lithops.jobs/") == []
    assert storage.get_object(bucket, "data/mine.txt") == b"keep me"


def test_a_built_runtime_imports_its_requirements_and_the_default_runtime_does_not(
    config_file: str,
    gcf_config: dict[str, Any],
    fake_functions: FakeCloudFunctions,
    tmp_path: Path,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{probe_wheel(tmp_path, '1.0')}\n")
    built = cli(
        "runtime", "build", "-f", str(requirements), "probe-rt", "-c", config_file,
        "-b", "gcp_functions",
    ).stdout  # fmt: skip
    storage = lithops.Storage(config=gcf_config)
    key = "lithops.runtimes/gcp_functions/probe-rt.zip"
    assert f"Built and published runtime probe-rt (gs://{storage.bucket}/{key})" in built
    with zipfile.ZipFile(io.BytesIO(storage.get_object(storage.bucket, key))) as stored:
        assert "lithops/worker/__init__.py" in stored.namelist()  # the whole function source
        assert str(tmp_path / "lithops_probe-1.0") in stored.read("requirements.txt").decode()

    deployed = cli("runtime", "deploy", "probe-rt", "-c", config_file, "-b", "gcp_functions")
    assert "Deployed runtime probe-rt (256 MB) as lithops-w-" in deployed.stdout
    creates = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]
    mine = {**gcf_config, "gcp_functions": {**gcf_config["gcp_functions"], "runtime": "probe-rt"}}
    with lithops.FunctionExecutor(config=mine) as fexec:
        assert fexec.map(probe_version, range(3)).get_result(timeout=DEADLINE) == ["1.0"] * 3
    again = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]
    assert len(again) == len(creates)  # the executor used the function deploy made

    with (
        lithops.FunctionExecutor(config=gcf_config) as fexec,
        pytest.raises(ModuleNotFoundError, match="lithops_probe"),
    ):
        fexec.call_async(probe_version, 0).result(timeout=DEADLINE)
    listing = rows(cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout)
    assert sorted(r[0] for r in listing) == ["default", "probe-rt"]

    # A rebuild with other requirements: the next deploy replaces the function's source.
    requirements.write_text(f"{probe_wheel(tmp_path, '2.0')}\n")
    cli("runtime", "build", "-f", str(requirements), "probe-rt", "-c", config_file,
        "-b", "gcp_functions")  # fmt: skip
    functions_deploy._deployed.clear()  # a new client process
    with lithops.FunctionExecutor(config=mine) as fexec:
        assert fexec.call_async(probe_version, 0).result(timeout=DEADLINE) == "2.0"
    updated = cli("runtime", "update", "probe-rt", "-c", config_file, "-b", "gcp_functions")
    assert "Updated 1 deployment(s)" in updated.stdout
    with lithops.FunctionExecutor(config=mine) as fexec:
        assert fexec.call_async(probe_version, 0).result(timeout=DEADLINE) == "2.0"

    cli("runtime", "delete", "probe-rt", "-c", config_file, "-b", "gcp_functions")
    listing = rows(cli("runtime", "list", "-c", config_file, "-b", "gcp_functions").stdout)
    assert [r[0] for r in listing] == ["default"]
    assert key in storage.list_keys(storage.bucket, "lithops.runtimes/")  # the build stays


def test_a_runtime_never_built_is_refused_naming_the_build_command(
    config_file: str, gcf_config: dict[str, Any]
) -> None:
    done = cli("runtime", "deploy", "my_runtime", "-c", config_file, "-b", "gcp_functions",
               ok=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "lithops runtime build -f requirements.txt my_runtime -b gcp_functions" in done.stderr
    mine = {**gcf_config, "gcp_functions": {**gcf_config["gcp_functions"], "runtime": "my_runtime"}}
    with (
        pytest.raises(ConfigError, match="lithops runtime build"),
        lithops.FunctionExecutor(config=mine) as fexec,
    ):
        fexec.call_async(double, 1).result(timeout=DEADLINE)
    # A Docker image name (another backend's runtime) is no runtime name here.
    bad = cli("runtime", "deploy", "my/image", "-c", config_file, "-b", "gcp_functions", ok=False)
    assert bad.returncode == 1 and "lowercase letters, digits" in bad.stderr


def test_a_changed_runtime_timeout_updates_the_deployed_function(
    gcf_config: dict[str, Any], fake_functions: FakeCloudFunctions
) -> None:
    with lithops.FunctionExecutor(config=gcf_config) as fexec:
        assert fexec.call_async(double, 1).result(timeout=DEADLINE) == 2
    function_id = current_function(256)
    name = f"{PARENT}/functions/{function_id}"
    assert fake_functions.functions[name]["serviceConfig"]["timeoutSeconds"] == 120
    creates = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]

    gcf_config["gcp_functions"]["runtime_timeout"] = 60
    functions_deploy._deployed.clear()  # a new client process
    with lithops.FunctionExecutor(config=gcf_config) as fexec:
        assert fexec.call_async(double, 2).result(timeout=DEADLINE) == 4
    assert fake_functions.functions[name]["serviceConfig"]["timeoutSeconds"] == 60
    assert fake_functions.front_end(function_id).timeout_s == 60
    again = [c for c in fake_functions.calls if c[0] == "POST" and c[1].endswith("/functions")]
    assert len(again) == len(creates)  # updated in place, not deployed again
