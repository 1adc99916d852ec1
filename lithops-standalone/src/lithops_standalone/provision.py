"""Provisioning for standalone: consumed hosts (``ssh``/``vm``) or a VM provider's VMs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lithops.plugins.types import ProvisionRequest
from lithops.vm import VMInstance, VMProvider, VMSpec
from lithops_standalone.config import (
    HostSpec,
    StandaloneSettings,
    parse_hosts,
    parse_settings,
)
from lithops_standalone.handle import StandaloneHandle, open_hosts

__all__ = ["provision", "provision_vms"]

logger = logging.getLogger(__name__)


def provision(request: ProvisionRequest) -> StandaloneHandle:
    """``consume``: attach the hosts of the ``ssh``/``vm`` section."""
    settings = parse_settings(request.config, request.runtime)
    return open_hosts(request.backend, parse_hosts(request.config), settings, request.events)


def provision_vms(request: ProvisionRequest, provider: VMProvider) -> StandaloneHandle:
    """``create``/``reuse``: get VMs from ``provider``, then attach them like consumed hosts.

    As many VMs as the provider's ``max_workers`` (default 1).
    """
    settings = parse_settings(request.config, request.runtime, consume=False)
    section = request.config.get(request.backend) or {}
    vms = _obtain(provider, settings, int(section.get("max_workers") or 1))
    specs = [_spec(vm) for vm in vms]
    try:
        handle = open_hosts(
            request.backend,
            specs,
            settings,
            request.events,
            on_dismantle=provider.self_stop_command,
        )
    except BaseException:
        if settings.exec_mode == "create":
            for vm in vms:
                provider.delete(vm.id)
        raise

    def release(dismantle: bool) -> None:
        if not (dismantle and settings.auto_dismantle):
            return  # the agents stop (and stop their VMs) on their idle timeouts
        for vm in vms:
            if settings.exec_mode == "create":
                provider.delete(vm.id)
            else:
                provider.stop(vm.id)

    handle.on_release = release
    return handle


def _obtain(provider: VMProvider, settings: StandaloneSettings, count: int) -> list[VMInstance]:
    if settings.exec_mode == "create":
        return list(provider.create(VMSpec(name="lithops-worker"), count))
    existing: Sequence[VMInstance] = [
        vm for vm in provider.list() if vm.state in ("running", "stopped", "pending")
    ]
    vms = [provider.start(vm.id) if vm.state == "stopped" else vm for vm in existing[:count]]
    if len(vms) < count:
        vms.extend(provider.create(VMSpec(name="lithops-worker"), count - len(vms)))
    return vms


def _spec(vm: VMInstance) -> HostSpec:
    return HostSpec(
        address=vm.address,
        port=vm.port,
        user=vm.user,
        key_filename=vm.key_filename,
        worker_processes=vm.worker_processes,
    )
