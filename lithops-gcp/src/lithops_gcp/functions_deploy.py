"""Deploying a runtime: a Cloud Function of the client's own code, once per (runtime,
memory, our version).

The function's source (:class:`FunctionSource`) is the core's worker package
(:func:`lithops.packaging.worker_package`) plus this distribution (the Cloud Storage factory
workers use), a ``main.py`` naming :func:`lithops_gcp.function_entry.lithops_handler`, and a
``requirements.txt`` with the one library the package does not carry (google-cloud-storage,
for the worker's storage); a runtime built with ``lithops runtime build`` adds its own
requirements to that file (see :mod:`lithops_gcp.functions_build`), which Cloud Build installs
at deploy. The deploy: generate an upload URL, upload the zip, create the function, wait on
the operation. The package's content digest is in the function's name, so a client of another
version (or a patched checkout) deploys its own function beside the old one, and an unchanged
client finds its function already there. Before any job is sent, one metadata call checks the
function's Python minor and wire version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

import google.api_core.exceptions as gexc
import requests
from google.cloud import functions_v2

from lithops.errors import BackendUnavailableError
from lithops.packaging import WorkerPackage, worker_package
from lithops.serverless.deploy import DeployCache, check_hello, wait_ready
from lithops.serverless.runtimes import DEFAULT_RUNTIME
from lithops_gcp.function_entry import ENTRY_POINT, MAIN_MODULE
from lithops_gcp.functions_config import GcfSettings
from lithops_gcp.http_invoke import FunctionCaller

__all__ = [
    "BUILD_INFO",
    "FUNCTION_PREFIX",
    "FunctionSource",
    "GcfRuntime",
    "base_requirements",
    "default_source",
    "deploy",
    "forget",
    "function_id",
    "list_runtimes",
    "memory_mb",
    "replace_code",
    "runtime_labels",
    "runtime_package",
]

logger = logging.getLogger(__name__)

FUNCTION_PREFIX = "lithops-w"
#: what a built runtime's source says of itself (its name and the user's requirements)
BUILD_INFO = "lithops_runtime.json"
_DEPLOY_TIMEOUT_S = 900.0
#: label of a built runtime's functions: the digest of the requirements they were deployed with
_BUILD_LABEL = "lithops-build"
#: Cloud Functions' default CPU for each memory tier (2nd gen), in vCPUs.
_CPU_OF_TIER = {
    128: "0.083",
    256: "0.167",
    512: "0.333",
    1024: "0.583",
    2048: "1",
    4096: "2",
    8192: "2",
    16384: "4",
    32768: "8",
}
#: functions this process deployed and checked
_deployed: DeployCache[GcfRuntime] = DeployCache()


def runtime_package() -> WorkerPackage:
    return worker_package(extra=("lithops_gcp",))


def python_runtime() -> str:
    return f"python{sys.version_info.major}{sys.version_info.minor}"


def base_requirements() -> str:
    """What every function's ``requirements.txt`` lists: what the worker package lacks."""
    try:
        version = importlib_metadata.version("google-cloud-storage")
    except importlib_metadata.PackageNotFoundError:
        return "google-cloud-storage\n"
    return f"google-cloud-storage=={version}\n"


@dataclass(frozen=True)
class FunctionSource:
    """What a function of ``runtime`` is deployed from: this client's worker package, and the
    requirements a built runtime adds (``""`` for the default runtime)."""

    runtime: str
    package: WorkerPackage
    requirements: str = ""

    @property
    def built(self) -> bool:
        return self.runtime != DEFAULT_RUNTIME

    @property
    def digest(self) -> str:
        """12 hex digits naming the requirements (a label: a rebuild changes it)."""
        return hashlib.sha256(self.requirements.encode()).hexdigest()[:12]

    def archive(self) -> bytes:
        """The function's source zip (deterministic: same inputs, same bytes)."""
        requirements = base_requirements()
        files = {"main.py": MAIN_MODULE}
        if self.built:
            requirements += f"# runtime {self.runtime}\n{self.requirements.rstrip()}\n"
            info = {"runtime": self.runtime, "requirements": self.requirements}
            files[BUILD_INFO] = json.dumps(info, indent=1).encode()
        files["requirements.txt"] = requirements.encode()
        return self.package.zip(files)


def default_source() -> FunctionSource:
    """The default runtime's source: this client's own code and nothing else."""
    return FunctionSource(DEFAULT_RUNTIME, runtime_package())


def function_id(package: WorkerPackage, settings: GcfSettings) -> str:
    """``lithops-w[-<namespace>]-<version>-<digest>[-r<runtime hash>]-<memory>mb``: at most 63
    characters of lowercase letters, digits and hyphens, as Cloud Functions requires; a built
    runtime's functions also hash its name."""
    version = package.tag.replace(".", "-")
    namespace = re.sub(r"[^a-z0-9-]", "-", settings.namespace.lower())[:16]
    runtime = (
        "r" + hashlib.sha256(settings.runtime.encode()).hexdigest()[:8] if settings.runtime else ""
    )
    parts = [FUNCTION_PREFIX, namespace, version, runtime, f"{settings.memory}mb"]
    return "-".join(p for p in parts if p)[:63].rstrip("-")


def _memory(mb: int) -> str:
    return f"{mb >> 10}Gi" if mb >= 1024 else f"{mb}Mi"


@dataclass(frozen=True)
class GcfRuntime:
    """A deployed, checked function: ``uri`` is what to invoke."""

    name: str
    uri: str
    memory: int
    timeout: int
    hello: dict[str, Any]

    @property
    def function_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def _delete_hint(name: str) -> str:
    fid = name.rsplit("/", 1)[-1]
    region = name.split("/locations/", 1)[-1].split("/", 1)[0]
    return f"`gcloud functions delete {fid} --region {region}`"


def deploy(
    client: functions_v2.FunctionServiceClient,
    settings: GcfSettings,
    caller_for: Any,
    source_of: Callable[[], FunctionSource] = default_source,
) -> GcfRuntime:
    """Find or create the function for ``settings``, wait until it is active, check it.

    A built runtime's function found with the source of an older build gets the new one.

    :param caller_for: ``(uri) -> FunctionCaller`` (a session with an ID token for it).
    :param source_of: the source of ``settings.runtime`` (read once, when not deployed yet
        by this process).
    """
    package = runtime_package()
    name = f"{settings.parent}/functions/{function_id(package, settings)}"
    key = (settings.api_endpoint, name, str(settings.timeout))

    def find_or_create() -> GcfRuntime:
        source = source_of()
        function = _get(client, name)
        if function is None:
            function = _create(client, name, source, settings)
        elif source.built and function.labels.get(_BUILD_LABEL) != source.digest:
            logger.info("Cloud Function %s runs another build of %s", name, source.runtime)
            function = _wait_active(client, name, function)
            function = _replace_source(client, name, function, source, settings)
        function = _wait_active(client, name, function)
        function = _update_settings(client, name, function, settings)
        uri = function.service_config.uri or function.url
        if not uri:
            raise BackendUnavailableError(f"Cloud Function {name} is active but has no URL")
        hello = _check(caller_for(uri), name)
        return GcfRuntime(
            name, uri, settings.memory, int(function.service_config.timeout_seconds or 0), hello
        )

    return _deployed.get_or_deploy(key, find_or_create)


def replace_code(
    client: functions_v2.FunctionServiceClient,
    name: str,
    settings: GcfSettings,
    caller_for: Any,
    source: FunctionSource | None = None,
) -> GcfRuntime:
    """Put this client's code into the deployed function ``name`` (``lithops runtime update``),
    wait until it is active again and check it answers as this client expects.

    :param source: what to deploy (default: the default runtime's source).
    """
    source = source or default_source()
    function = _wait_active(client, name, _get(client, name) or functions_v2.Function(name=name))
    function = _replace_source(client, name, function, source, settings)
    forget(name)
    uri = function.service_config.uri or function.url
    hello = _check(caller_for(uri), name)
    return GcfRuntime(
        name, uri, memory_mb(function.service_config.available_memory),
        int(function.service_config.timeout_seconds or 0), hello,
    )  # fmt: skip


def runtime_labels(source: FunctionSource, settings: GcfSettings) -> dict[str, str]:
    """The labels that make a function one of ours, and say what it runs."""
    labels = {
        "lithops": "runtime",
        # Label values allow only lowercase letters, digits, '_' and '-': the tag's dots become
        # underscores (see version_from_label).
        "lithops-version": source.package.tag.replace(".", "_"),
        # A built runtime's name is checked to be a valid label value when it is built.
        "lithops-runtime": source.runtime,
    }
    if source.built:
        labels[_BUILD_LABEL] = source.digest
    if settings.namespace:
        labels["lithops-namespace"] = settings.namespace.lower()
    return labels


def _replace_source(
    client: functions_v2.FunctionServiceClient,
    name: str,
    function: functions_v2.Function,
    source: FunctionSource,
    settings: GcfSettings,
) -> functions_v2.Function:
    uploaded = _upload(client, name, source, settings)
    function.build_config.source = functions_v2.Source(storage_source=uploaded)
    function.labels.update(runtime_labels(source, settings))
    return _patch(client, name, function, ["build_config.source", "labels"], "code")


def version_from_label(value: str) -> str:
    """The worker package tag a ``lithops-version`` label holds (see :func:`runtime_labels`)."""
    return value.replace("_", ".")


def memory_mb(value: str) -> int:
    """``"256Mi"`` / ``"1Gi"`` (Cloud Functions' notation) in MB."""
    match = re.fullmatch(r"(\d+)\s*([MG])i?", value or "")
    if match is None:
        return 0
    return int(match.group(1)) << (10 if match.group(2) == "G" else 0)


def _update_settings(
    client: functions_v2.FunctionServiceClient,
    name: str,
    function: functions_v2.Function,
    settings: GcfSettings,
) -> functions_v2.Function:
    """Apply a changed ``runtime_timeout`` to a function found deployed."""
    if int(function.service_config.timeout_seconds or 0) == settings.timeout:
        return function
    logger.info("updating Cloud Function %s: timeout %d s", name, settings.timeout)
    function.service_config.timeout_seconds = settings.timeout
    return _patch(client, name, function, ["service_config.timeout_seconds"], "settings")


def _patch(
    client: functions_v2.FunctionServiceClient,
    name: str,
    function: functions_v2.Function,
    paths: list[str],
    what: str,
) -> functions_v2.Function:
    from google.protobuf import field_mask_pb2

    try:
        operation = client.update_function(
            function=function, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        updated = operation.result(timeout=_DEPLOY_TIMEOUT_S)
    except gexc.GoogleAPIError as exc:
        raise BackendUnavailableError(
            f"cannot update the {what} of Cloud Function {name}: {exc}"
        ) from exc
    return _wait_active(client, name, updated)


def forget(name: str) -> None:
    """Drop a function from the process's cache (after it was deleted)."""
    _deployed.forget(name)


def list_runtimes(
    client: functions_v2.FunctionServiceClient, settings: GcfSettings
) -> list[functions_v2.Function]:
    """Every lithops function of the project and region (all pages)."""
    found = client.list_functions(request={"parent": settings.parent, "page_size": 100})
    prefix = f"{settings.parent}/functions/{FUNCTION_PREFIX}-"
    return [f for f in found if f.name.startswith(prefix)]


def _get(client: functions_v2.FunctionServiceClient, name: str) -> functions_v2.Function | None:
    try:
        return client.get_function(name=name)
    except gexc.NotFound:
        return None
    except gexc.GoogleAPIError as exc:
        raise BackendUnavailableError(f"cannot look up Cloud Function {name}: {exc}") from exc


def _upload(
    client: functions_v2.FunctionServiceClient,
    name: str,
    source: FunctionSource,
    settings: GcfSettings,
) -> functions_v2.StorageSource:
    """Upload the function's source zip; where it went, for the build."""
    archive = source.archive()
    logger.info("uploading the code of Cloud Function %s (%d KiB)", name, len(archive) >> 10)
    try:
        upload = client.generate_upload_url(request={"parent": settings.parent})
        put = requests.put(
            upload.upload_url,
            data=archive,
            headers={"Content-Type": "application/zip"},
            timeout=300,
        )
        put.raise_for_status()
    except (gexc.GoogleAPIError, requests.RequestException) as exc:
        raise BackendUnavailableError(
            f"cannot upload the code of Cloud Function {name}: {exc}. Check that the Cloud "
            f"Functions API is enabled in project {settings.project}"
        ) from exc
    return upload.storage_source


def _create(
    client: functions_v2.FunctionServiceClient,
    name: str,
    source: FunctionSource,
    settings: GcfSettings,
) -> functions_v2.Function:
    uploaded = _upload(client, name, source, settings)
    env = {**settings.env_vars, "PYTHONDONTWRITEBYTECODE": "1"}
    function = functions_v2.Function(
        name=name,
        description=f"lithops {source.package.tag} worker runtime {source.runtime}",
        labels={**settings.labels, **runtime_labels(source, settings)},
        build_config=functions_v2.BuildConfig(
            runtime=python_runtime(),
            entry_point=ENTRY_POINT,
            source=functions_v2.Source(storage_source=uploaded),
        ),
        service_config=functions_v2.ServiceConfig(
            available_memory=_memory(settings.memory),
            available_cpu=_CPU_OF_TIER[settings.memory],
            timeout_seconds=settings.timeout,
            max_instance_count=settings.max_workers,
            # One batch per instance at a time: a batch gets the memory it was sized for.
            max_instance_request_concurrency=1,
            environment_variables=env,
            ingress_settings=functions_v2.ServiceConfig.IngressSettings.ALLOW_ALL,
            all_traffic_on_latest_revision=True,
            service_account_email=settings.service_account,
        ),
    )
    try:
        operation = client.create_function(
            parent=settings.parent, function=function, function_id=name.rsplit("/", 1)[-1]
        )
        return operation.result(timeout=_DEPLOY_TIMEOUT_S)
    except gexc.AlreadyExists:
        found = _get(client, name)  # another client deployed it meanwhile
        if found is not None:
            return found
        raise
    except gexc.GoogleAPIError as exc:
        raise BackendUnavailableError(
            f"cannot create Cloud Function {name}: {exc}; delete it ({_delete_hint(name)}) "
            f"and try again"
        ) from exc


def _wait_active(
    client: functions_v2.FunctionServiceClient, name: str, function: functions_v2.Function
) -> functions_v2.Function:
    def state(function: functions_v2.Function) -> tuple[bool, str | None]:
        if function.state == functions_v2.Function.State.FAILED:
            return False, "; ".join(m.message for m in function.state_messages) or "no reason"
        return function.state == functions_v2.Function.State.ACTIVE, None

    return wait_ready(
        function,
        lambda: _get(client, name) or function,
        state,
        what=f"Cloud Function {name}",
        timeout_s=_DEPLOY_TIMEOUT_S,
        hint=_delete_hint(name),
    )


def _check(caller: FunctionCaller, name: str) -> dict[str, Any]:
    """The function's wire hello; raises when its Python or wire version cannot serve us."""
    try:
        response = caller.post(json.dumps({"t": "metadata"}), f"metadata of {name}")
    except requests.RequestException as exc:
        raise BackendUnavailableError(f"cannot invoke Cloud Function {name}: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return check_hello(
        answer,
        response.status_code != 200,
        what=f"Cloud Function {name}",
        detail=f"HTTP {response.status_code}: {response.text[:500]!r}",
        hint=_delete_hint(name),
    )
