"""Container-image runtimes: ``lithops runtime build -f Dockerfile NAME -b aws_lambda``.

The user's Dockerfile is built first (their dependencies, on a Lambda Python base image), then
one layer is added on top: this client's function code (the worker package and the plugins'
metadata, exactly what a zip function gets) in ``/var/task`` and the handler as ``CMD``. So an
image runtime runs the same lithops as the client that built it, like the default runtime.
The image is tagged with its ECR URI and pushed (the repository is created when missing;
the registry login comes from ECR's authorization token). A ``NAME`` without a registry host
goes to this account's ECR (``<account>.dkr.ecr.<region>.amazonaws.com/NAME``); a ``NAME``
with a host that is not ECR is pushed there as is (with the engine's own login).

``extra_args`` of the command are build arguments (``KEY=VALUE``). Needs the ``docker``
Python package and a Docker engine (``DOCKER_HOST``).
"""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
from collections.abc import Sequence
from typing import Any

import botocore.exceptions

from lithops.errors import BackendUnavailableError, ConfigError
from lithops_aws.lambda_config import LambdaSettings
from lithops_aws.lambda_deploy import HANDLER, function_code
from lithops_aws.session import make_client, make_session

__all__ = ["build_and_push", "build_image", "ecr_repository", "image_uri", "push_image"]

_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_TOP_LAYER = f"""\
ARG BASE
FROM ${{BASE}}
COPY task/ /var/task/
ENV PYTHONDONTWRITEBYTECODE=1
CMD ["{HANDLER}"]
"""


def _docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise BackendUnavailableError(
            "building a container-image runtime needs the docker package: "
            "`pip install docker`, and a Docker engine (DOCKER_HOST)"
        ) from exc
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise BackendUnavailableError(
            f"no Docker engine to build the runtime with ({exc}); start one or set DOCKER_HOST"
        ) from exc


def _ecr(settings: LambdaSettings) -> Any:
    return make_client(make_session(settings.boto), "ecr", settings.boto)


def _host_of(name: str) -> str:
    first = name.split("/", 1)[0]
    return first if "/" in name and ("." in first or ":" in first) else ""


def image_uri(settings: LambdaSettings, name: str) -> str:
    """``NAME`` as the URI it is pushed to (and deployed from); ``:latest`` when untagged."""
    if _host_of(name):
        uri = name
    else:
        session = make_session(settings.boto)
        account = make_client(session, "sts", settings.boto).get_caller_identity()["Account"]
        region = session.region_name or "us-east-1"
        uri = f"{account}.dkr.ecr.{region}.amazonaws.com/{name}"
    last = uri.rsplit("/", 1)[-1]
    return uri if ":" in last or "@" in last else f"{uri}:latest"


def ecr_repository(settings: LambdaSettings, uri: str) -> str | None:
    """Create the ECR repository of ``uri`` when missing; its name, or ``None`` (not ECR)."""
    if not _ECR_HOST.match(_host_of(uri)):
        return None
    path = uri.split("/", 1)[1]
    repository = re.split(r"[:@]", path, maxsplit=1)[0]
    ecr = _ecr(settings)
    try:
        ecr.create_repository(
            repositoryName=repository, tags=[{"Key": "lithops", "Value": "runtime"}]
        )
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "RepositoryAlreadyExistsException":
            raise BackendUnavailableError(
                f"cannot create ECR repository {repository}: {exc}"
            ) from exc
    return repository


def _task_context() -> io.BytesIO:
    import zipfile

    buffer = io.BytesIO()
    with (
        tarfile.open(fileobj=buffer, mode="w") as tar,
        zipfile.ZipFile(io.BytesIO(function_code())) as code,
    ):
        for arcname, content in (("Dockerfile", _TOP_LAYER.encode()),):
            info = tarfile.TarInfo(arcname)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for member in code.infolist():
            data = code.read(member)
            info = tarfile.TarInfo(f"task/{member.filename}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _build_args(extra_args: Sequence[str]) -> dict[str, str]:
    args = {}
    for arg in extra_args:
        key, sep, value = arg.removeprefix("--build-arg=").partition("=")
        if not sep or not key:
            raise ConfigError(
                f"build argument {arg!r} is not KEY=VALUE; pass build arguments as KEY=VALUE"
            )
        args[key] = value
    return args


def build_image(
    settings: LambdaSettings, name: str, file: str | None, extra_args: Sequence[str] = ()
) -> tuple[str, Any]:
    """Build ``file`` (default ``./Dockerfile``) plus the worker layer, tagged with its URI.

    :returns: ``(uri, image)``, the image as the Docker SDK gives it.
    """
    import docker

    client = _docker()
    dockerfile = os.path.abspath(file or "Dockerfile")
    if not os.path.isfile(dockerfile):
        raise ConfigError(f"no Dockerfile at {dockerfile}; name one with -f/--file")
    uri = image_uri(settings, name)
    try:
        base, _ = client.images.build(
            path=os.path.dirname(dockerfile),
            dockerfile=os.path.basename(dockerfile),
            buildargs=_build_args(extra_args),
            rm=True,
            forcerm=True,
        )
        image, _ = client.images.build(
            fileobj=_task_context(),
            custom_context=True,
            buildargs={"BASE": base.id},
            tag=uri,
            labels={"lithops.runtime": "aws_lambda"},
            network_mode="none",
            rm=True,
            forcerm=True,
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise BackendUnavailableError(
            f"building runtime {name} from {dockerfile} failed: {exc}"
        ) from exc
    return uri, image


def push_image(settings: LambdaSettings, uri: str) -> None:
    """Push ``uri`` to its registry (ECR: with the account's authorization token)."""
    client = _docker()
    auth = None
    if ecr_repository(settings, uri) is not None:
        token = _ecr(settings).get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
        auth = {"username": user, "password": password}
    repository, _, tag = uri.rpartition(":")
    try:
        for line in client.images.push(
            repository, tag=tag, auth_config=auth, stream=True, decode=True
        ):
            if "error" in line:
                raise BackendUnavailableError(
                    f"pushing {uri} failed: {line['error']}; check that you may push to "
                    f"{_host_of(uri)} (ECR: ecr:InitiateLayerUpload... on the repository)"
                )
    except Exception as exc:
        if isinstance(exc, BackendUnavailableError):
            raise
        raise BackendUnavailableError(f"pushing {uri} failed: {exc}") from exc


def build_and_push(
    settings: LambdaSettings, name: str, file: str | None, extra_args: Sequence[str]
) -> str:
    """``lithops runtime build``: build, then push; returns the image URI to deploy."""
    uri, _ = build_image(settings, name, file, extra_args)
    push_image(settings, uri)
    return uri
