"""``lithops runtime ... -b aws_lambda`` and ``lithops clean -b aws_lambda`` on moto, through
the real console script (the ``lithops`` installed beside this Python)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from serverless_helpers import cli, rows, write_config

import lithops
import lithops_aws.lambda_deploy as lambda_deploy

DEADLINE = 240


def double(x: int) -> int:
    return 2 * x


@pytest.fixture
def config_file(lambda_config: dict[str, Any], lithops_home: Path) -> str:
    return write_config(lambda_config, lithops_home / "lambda.yaml")


@pytest.fixture(autouse=True)
def no_functions_left(aws_env: Any) -> Any:
    """Each test starts and ends with none of our functions in moto."""
    client = boto3.client("lambda")

    def wipe() -> None:
        for function in client.list_functions()["Functions"]:
            if function["FunctionName"].startswith("lithops-w"):
                client.delete_function(FunctionName=function["FunctionName"])
        lambda_deploy._deployed.clear()

    wipe()
    yield
    wipe()


def current_function(memory: int) -> str:
    package = lambda_deploy.runtime_package()
    return f"lithops-w-{package.tag.replace('.', '-')}-{memory}mb"


def test_deploy_then_list_shows_the_runtime_with_memory_and_version(config_file: str) -> None:
    done = cli("runtime", "deploy", "-m", "384", "-t", "45", "-c", config_file, "-b", "aws_lambda")
    name = current_function(384)
    assert f"Deployed runtime default (384 MB) as {name}" in done.stdout
    listing = rows(cli("runtime", "list", "-c", config_file, "-b", "aws_lambda").stdout)
    tag = lambda_deploy.runtime_package().tag
    assert listing == [["default", "384", "MB", tag, name, "45", "s", "x86_64"]]
    # The function answers as a lithops runtime (deploy checked it), and is ours by its tags.
    arn = boto3.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    tags = boto3.client("lambda").list_tags(Resource=arn)["Tags"]
    assert tags["lithops-version"] == tag and tags["lithops-runtime"] == "default"


def _broken_zip() -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lithops/__init__.py", "")
        archive.writestr("lithops/worker/__init__.py", "")
        archive.writestr(
            "lithops/worker/serverless.py", "def handler(event, context):\n    return 'stale'\n"
        )
    return code.getvalue()


def test_update_really_replaces_the_code_and_removes_older_versions(
    config_file: str, execution_role: str
) -> None:
    cli("runtime", "deploy", "-c", config_file)
    name = current_function(256)
    client = boto3.client("lambda")
    # Someone (or an older client) left other code in the function: it no longer answers.
    client.update_function_code(FunctionName=name, ZipFile=_broken_zip())
    answer = client.invoke(FunctionName=name, Payload=json.dumps({"t": "metadata"}))
    assert json.loads(answer["Payload"].read()) == "stale"
    # And a function of an older lithops version of the same runtime and memory.
    old = client.create_function(
        FunctionName="lithops-w-0-0-9-aaaaaaaaaaaa-256mb",
        Runtime="python3.11",
        Role=execution_role,
        Handler="lithops.worker.serverless.handler",
        Code={"ZipFile": _broken_zip()},
        MemorySize=256,
        Tags={
            "lithops": "runtime",
            "lithops-version": "0.0.9-aaaaaaaaaaaa",
            "lithops-runtime": "default",
            "lithops-namespace": "",
        },
    )
    assert len(rows(cli("runtime", "list", "-c", config_file).stdout)) == 2

    updated = cli("runtime", "update", "-c", config_file, "-b", "aws_lambda").stdout
    assert "Updated 1 deployment(s)" in updated

    answer = client.invoke(FunctionName=name, Payload=json.dumps({"t": "metadata"}))
    hello = json.loads(answer["Payload"].read())
    assert hello["t"] == "hello"
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert old["FunctionName"] not in names
    assert [r[4] for r in rows(cli("runtime", "list", "-c", config_file).stdout)] == [name]
    with lithops.FunctionExecutor(config_file=config_file) as fexec:
        assert fexec.map(double, [1, 2]).get_result(timeout=DEADLINE) == [2, 4]


def test_delete_by_memory_leaves_the_others(config_file: str) -> None:
    cli("runtime", "deploy", "-m", "256", "-c", config_file)
    cli("runtime", "deploy", "-m", "512", "-c", config_file)
    deleted = cli("runtime", "delete", "default", "-m", "512", "-c", config_file).stdout
    assert "Deleted 1 deployment(s)" in deleted and current_function(512) in deleted
    left = rows(cli("runtime", "list", "default", "-c", config_file).stdout)
    assert [(r[1], r[4]) for r in left] == [("256", current_function(256))]
    cli("runtime", "delete", "-c", config_file)
    assert "No runtimes deployed on aws_lambda" in cli("runtime", "list", "-c", config_file).stdout


def test_clean_removes_functions_and_transport_data_but_not_user_data(
    config_file: str, lambda_config: dict[str, Any]
) -> None:
    with lithops.FunctionExecutor(config_file=config_file) as fexec:
        assert fexec.call_async(double, 4).result(timeout=DEADLINE) == 8
    storage = lithops.Storage(config=lambda_config)
    bucket = storage.bucket
    storage.put_object(bucket, "lithops.jobs/E1/J1/batches/left.batch", b"x")
    storage.put_object(bucket, "lithops.jobs/E1/J1/spill/left.results", b"x")
    storage.put_object(bucket, "data/mine.txt", b"keep me")

    done = cli("clean", "-c", config_file, "-b", "aws_lambda")
    assert f"Removed Lambda function {current_function(256)}" in done.stdout
    assert "2 invocation transport objects" in done.stdout
    assert "No runtimes deployed" in cli("runtime", "list", "-c", config_file).stdout
    assert storage.list_keys(bucket, "lithops.jobs/") == []
    assert storage.get_object(bucket, "data/mine.txt") == b"keep me"


def test_runtime_commands_fail_in_one_line_without_an_execution_role(
    config_file: str, lambda_config: dict[str, Any], lithops_home: Path
) -> None:
    del lambda_config["aws_lambda"]["execution_role"]
    path = write_config(lambda_config, lithops_home / "norole.yaml")
    done = cli("runtime", "deploy", "-c", path, ok=False)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "ConfigError" in done.stderr and "execution_role" in done.stderr
