"""The standalone plugin module: the ``ssh`` (alias ``vm``) compute backend and its CLI."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    CallBatch,
    CallKey,
    ComputeHandle,
    LogLine,
    LogRequest,
    ProvisionRequest,
    RegisterBackend,
)
from lithops_standalone.config import BACKEND_NAMES, SECTION_KEYS, provider_config

if TYPE_CHECKING:
    import click

__all__: list[str] = []

CAPABILITIES = frozenset({"cancel", "timeout", "docker", "logs", "worker_lost", "running"})


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name="ssh",
            kind=BackendKind.COMPUTE,
            mode="standalone",
            aliases=("vm",),
            capabilities=CAPABILITIES,
            config_keys=SECTION_KEYS,
            description="hosts you already have, reached over SSH; nothing but python3 needed",
        )
    )


@hookimpl
def lithops_provision(request: ProvisionRequest) -> ComputeHandle | None:
    # Other backends get their answer before paramiko is imported (their cold starts).
    if request.backend in BACKEND_NAMES:
        from lithops_standalone.provision import provision

        # A read-only ``capacity`` property: the protocol's attribute, from live hosts.
        return cast("ComputeHandle", provision(request))
    # Any other standalone backend may be a VM provider's (aws_ec2...): its VMs are our hosts.
    standalone = request.config.get("standalone") or {}
    in_standalone = (request.config.get("lithops") or {}).get("mode") == "standalone"
    if not in_standalone and str(standalone.get("exec_mode") or "").lower() not in (
        "create",
        "reuse",
    ):
        return None
    from lithops.plugins.manager import get_plugin_host
    from lithops.plugins.types import BackendKind

    host = get_plugin_host()
    if host.find(request.backend, BackendKind.VM_PROVIDER) is None:
        return None  # not a VM provider's name: another plugin's compute backend
    provider = host.vm_provider(request.backend, provider_config(request.config, request.backend))
    from lithops_standalone.provision import provision_vms

    return cast("ComputeHandle", provision_vms(request, provider))


@hookimpl
def lithops_invoke(handle: ComputeHandle, batch: CallBatch) -> bool | None:
    if not _mine(handle):
        return None
    handle.invoke(batch)  # type: ignore[attr-defined]
    return True


@hookimpl
def lithops_cancel(handle: ComputeHandle, keys: list[CallKey]) -> bool | None:
    if not _mine(handle):
        return None
    handle.cancel(keys)  # type: ignore[attr-defined]
    return True


@hookimpl
def lithops_release(handle: ComputeHandle, dismantle: bool) -> bool | None:
    if not _mine(handle):
        return None
    handle.release(dismantle)  # type: ignore[attr-defined]
    return True


@hookimpl
def lithops_stream_logs(request: LogRequest) -> Iterator[LogLine] | None:
    if request.backend not in BACKEND_NAMES:
        return None
    from lithops_standalone.remote_logs import stream_logs

    return stream_logs(request)


@hookimpl
def lithops_cli_commands(cli: click.Group) -> None:
    from lithops_standalone.cli import add_commands

    add_commands(cli)


def _mine(handle: Any) -> bool:
    # Without importing the handle's module (and paramiko) when no standalone handle exists.
    handle_module = sys.modules.get("lithops_standalone.handle")
    return handle_module is not None and isinstance(handle, handle_module.StandaloneHandle)
