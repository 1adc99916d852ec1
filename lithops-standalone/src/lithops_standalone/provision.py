"""Provisioning for standalone: consumed hosts (``ssh``/``vm``) or a VM provider's VMs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lithops.errors import ConfigError
from lithops.plugins.types import ProvisionRequest
from lithops.vm import VMInstance, VMProvider, VMSpec
from lithops_standalone.config import (
    HostSpec,
    StandaloneSettings,
    parse_hosts,
    parse_settings,
)
from lithops_standalone.handle import StandaloneHandle, open_hosts
from lithops_standalone.known_hosts import forget_host

__all__ = ["provision", "provision_vms"]

logger = logging.getLogger(__name__)


def provision(request: ProvisionRequest) -> StandaloneHandle:
    """``consume``: attach the hosts of the ``ssh``/``vm`` section."""
    settings = parse_settings(request.config, request.runtime)
    return open_hosts(request.backend, parse_hosts(request.config), settings, request.events)


def provision_vms(request: ProvisionRequest, provider: VMProvider) -> StandaloneHandle:
    """Get VMs from ``provider``, then attach them like consumed hosts.

    ``create``: ``max_workers`` new VMs (default 1), deleted on release when dismantling
    (``FunctionExecutor.dismantle()``, or closing with ``auto_dismantle``). ``reuse``: the
    provider's existing VMs, stopped ones started, missing ones created; stopped on
    ``dismantle()``, else by their agents' idle timeouts. ``consume``: the VM the provider
    names (started if stopped); never stopped or deleted by us.
    """
    settings = parse_settings(request.config, request.runtime, consume=False)
    section = request.config.get(request.backend) or {}
    count = _max_workers(section.get("max_workers"), request.backend)
    vms, created = _obtain(provider, settings, count)
    for vm in created:
        # A new machine at an address another one may have had: its old key means nothing.
        forget_host(vm.address, vm.port)
    specs = [_spec(vm) for vm in vms]
    try:
        handle = open_hosts(
            request.backend,
            specs,
            settings,
            request.events,
            on_dismantle=provider.self_stop_command if settings.auto_dismantle else None,
        )
    except BaseException:
        for vm in created:
            provider.delete(vm.id)
        raise

    def release(dismantle: bool) -> None:
        if settings.exec_mode == "create" and (dismantle or settings.auto_dismantle):
            for vm in vms:
                provider.delete(vm.id)
        elif settings.exec_mode == "reuse" and dismantle:
            for vm in vms:
                provider.stop(vm.id)
        # Otherwise the agents stop (and stop their VMs) on their idle timeouts.

    handle.on_release = release
    return handle


def _max_workers(value: Any, backend: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{backend}.max_workers must be a positive whole number, got {value!r}")
    return value


def _obtain(
    provider: VMProvider, settings: StandaloneSettings, count: int
) -> tuple[list[VMInstance], list[VMInstance]]:
    """The VMs to attach, and those of them created now."""
    spec = VMSpec(name="lithops-worker")
    if settings.exec_mode == "create":
        created = list(provider.create(spec, count))
        return created, created
    existing: Sequence[VMInstance] = [
        vm for vm in provider.list() if vm.state in ("running", "stopped", "pending")
    ]
    if settings.exec_mode == "consume":
        count = len(existing)
    vms = [provider.start(vm.id) if vm.state == "stopped" else vm for vm in existing[:count]]
    created = []
    if len(vms) < count:
        created = list(provider.create(spec, count - len(vms)))
    return vms + created, created


def _spec(vm: VMInstance) -> HostSpec:
    return HostSpec(
        address=vm.address,
        port=vm.port,
        user=vm.user,
        key_filename=vm.key_filename,
        worker_processes=vm.worker_processes,
    )
