"""Container-image runtimes on aws_lambda: built with the Docker SDK on the testbed's engine
(from a local image: nothing is pulled), the ECR repository made in moto, deployed as a
``PackageType=Image`` function and listed.

What moto cannot do, and so is not tested here: moto's ECR is the AWS API only, not a Docker
registry, so no image is really pushed to it (the push is tested against a loopback address
where no registry listens: it must fail in one line); and moto does not run image functions
(their invoke answers 500), so deploying one ends with the metadata check failing, which the
test asserts, after the function was created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from testbed import DockerEngine
from testbed.moto import free_port

import lithops_aws.lambda_deploy as lambda_deploy
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.lambda_image import build_image, ecr_repository

LITHOPS = Path(sys.executable).with_name("lithops")
ACCOUNT_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def dockerfile(tmp_path: Path, lambda_image: str) -> Path:
    folder = tmp_path / "runtime"
    folder.mkdir()
    (folder / "extra.txt").write_text("the user's own layer\n")
    path = folder / "Dockerfile.custom"
    path.write_text(f"FROM {lambda_image}\nCOPY extra.txt /opt/extra.txt\n")
    return path


@pytest.fixture
def engine_env(docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> DockerEngine:
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    return docker_engine


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LITHOPS), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy()
    )


def test_build_adds_the_worker_layer_to_the_users_image_and_makes_the_ecr_repository(
    lambda_config: dict[str, Any], dockerfile: Path, engine_env: DockerEngine
) -> None:
    settings = LambdaSettings.from_config(lambda_config, None)
    uri, image = build_image(settings, "lithops-rt:7", str(dockerfile))
    try:
        assert uri == f"{ACCOUNT_HOST}/lithops-rt:7"
        assert uri in image.tags
        assert image.attrs["Config"]["Cmd"] == [lambda_deploy.HANDLER]
        client = engine_env.client()
        listing = client.containers.run(
            image.id,
            entrypoint=["sh", "-c", "cat /opt/extra.txt; ls /var/task"],
            remove=True,
            network_mode="none",
        ).decode()
        assert "the user's own layer" in listing
        for name in ("lithops", "lithops_aws", "pluggy", "lithops_aws-0.1.0.dist-info"):
            assert name in listing.split()
        # The repository the push goes to exists in (moto's) ECR afterwards.
        assert ecr_repository(settings, uri) == "lithops-rt"
        assert ecr_repository(settings, uri) == "lithops-rt"  # already there: fine
        repos = boto3.client("ecr").describe_repositories()["repositories"]
        assert "lithops-rt" in [r["repositoryName"] for r in repos]
    finally:
        engine_env.client().images.remove(image.id, force=True)


def test_cli_build_fails_in_one_line_when_the_registry_cannot_be_reached(
    lambda_config: dict[str, Any], dockerfile: Path, engine_env: DockerEngine, tmp_path: Path
) -> None:
    config = tmp_path / "lambda.yaml"
    config.write_text(yaml.safe_dump(lambda_config))
    target = f"127.0.0.1:{free_port()}/lithops-rt:1"  # no registry listens there
    done = _cli("runtime", "build", "-f", str(dockerfile), target, "-c", str(config))
    try:
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr
        assert f"pushing {target} failed" in done.stderr
    finally:
        for image in engine_env.client().images.list(name=target.rsplit(":", 1)[0]):
            engine_env.client().images.remove(image.id, force=True)


def test_an_image_runtime_deploys_as_an_image_function_and_is_listed(
    lambda_config: dict[str, Any], tmp_path: Path
) -> None:
    uri = f"{ACCOUNT_HOST}/lithops-rt:7"
    config = tmp_path / "lambda.yaml"
    config.write_text(yaml.safe_dump(lambda_config))
    done = _cli("runtime", "deploy", uri, "-m", "512", "-c", str(config), "-b", "aws_lambda")
    # Created, then moto cannot run it: the metadata check fails, in one line.
    assert done.returncode == 1
    assert "did not answer" in done.stderr or "cannot invoke" in done.stderr, done.stderr
    settings = LambdaSettings.from_config(
        {**lambda_config, "aws_lambda": {**lambda_config["aws_lambda"], "runtime": uri}}, 512
    )
    name = lambda_deploy.function_name(lambda_deploy.runtime_package(), settings)
    client = boto3.client("lambda")
    try:
        function = client.get_function(FunctionName=name)
        assert function["Configuration"]["PackageType"] == "Image"
        assert function["Code"]["ImageUri"] == uri
        listing = _cli("runtime", "list", uri, "-c", str(config)).stdout
        row = next(line.split() for line in listing.splitlines() if line.startswith(uri))
        assert row[:3] == [uri, "512", "MB"] and name in row
        # The default runtime's functions are other rows: a runtime filter is honoured.
        assert uri not in _cli("runtime", "list", "default", "-c", str(config)).stdout
    finally:
        client.delete_function(FunctionName=name)
