"""Fixtures of the lithops-aws tests: moto's real server on loopback, Lambdas in containers.

- ``lambda_image`` (session): the testbed's Lambda image (python3, boto3, our entrypoint).
- ``moto_server`` (session): a ``moto_server`` started for this run on a free loopback port,
  stopped (by PID) when the run ends; Lambda invocations run in containers of ``lambda_image``.
- ``aws_env``: the environment a boto3 program sees when pointed at moto (``AWS_ENDPOINT_URL``,
  dummy credentials, a region; no profile or config file of the developer's).
- ``execution_role`` (session): an IAM role ARN in moto for the functions.
- ``lambda_config``: a Lithops config for ``aws_lambda`` + ``aws_s3`` with a fresh bucket.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from testbed import (
    DockerEngine,
    MotoServer,
    TestbedUnavailable,
    ensure_lambda_image,
    start_moto,
)

REGION = "us-east-1"


def unavailable(reason: str) -> NoReturn:
    # As tests/conftest.py does: skip on a developer machine, fail under CI=true.
    if os.environ.get("CI") == "true":
        pytest.fail(f"testbed component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lambda_image(docker_engine: DockerEngine, python_image: str) -> str:
    try:
        return ensure_lambda_image(docker_engine)
    except TestbedUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def moto_server(
    docker_engine: DockerEngine, lambda_image: str, busybox_image: str
) -> Iterator[MotoServer]:
    try:
        server = start_moto(docker_engine.host, lambda_image)
    except TestbedUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(
    moto_server: MotoServer, lithops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> MotoServer:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(lithops_home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(lithops_home / "no-aws-config"))
    return moto_server


@pytest.fixture(scope="session")
def execution_role(moto_server: MotoServer) -> str:
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=moto_server.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    role = iam.create_role(RoleName="lithops-execution-role", AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


@pytest.fixture
def lambda_config(aws_env: MotoServer, execution_role: str) -> dict[str, Any]:
    """A Lithops config for aws_lambda + aws_s3 on moto, in Lithops' own sections.

    ``payload_limit`` is lowered to 100 kB: moto hands the event to the container as a
    command-line argument, which fails above ~128 KiB (real Lambda takes 6 MB).
    """
    import boto3

    bucket = f"lithops-test-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return {
        "lithops": {"backend": "aws_lambda", "storage": "aws_s3"},
        "aws": {"region": REGION},
        "aws_lambda": {
            "execution_role": execution_role,
            "runtime_memory": 256,
            "runtime_timeout": 60,
            "max_workers": 4,
            "payload_limit": 100_000,
        },
        "aws_s3": {"storage_bucket": bucket},
    }
