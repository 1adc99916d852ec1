"""The create/reuse seam: a VM provider's machines are bootstrapped like consumed hosts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from standalone_helpers import agent_processes, wait_until

from lithops import wire
from lithops.plugins import hookimpl
from lithops.plugins import manager as plugin_manager
from lithops.plugins.types import BackendInfo, BackendKind, CallBatch, ProvisionRequest
from lithops.vm import VMInstance, VMProvider, VMSpec
from lithops_standalone import plugin as standalone_plugin

pytestmark = pytest.mark.ssh


class TestbedProvider:
    """A VM provider whose "VMs" are testbed SSH hosts (no cloud API runs in tests)."""

    __test__ = False
    name = "testbed_vm"
    self_stop_command = "touch $HOME/stopped-by-agent"

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.hosts: dict[str, Any] = {}
        self.deleted: list[str] = []
        self.stopped: list[str] = []

    def _vm(self, host: Any) -> VMInstance:
        return VMInstance(
            id=host.name,
            address=host.address,
            user=host.user,
            key_filename=host.key_filename,
            worker_processes=2,
        )

    def create(self, spec: VMSpec, count: int) -> Sequence[VMInstance]:
        made = [self.make() for _ in range(count)]
        self.hosts.update({h.name: h for h in made})
        return [self._vm(h) for h in made]

    def list(self) -> Sequence[VMInstance]:
        return [self._vm(h) for h in self.hosts.values()]

    def start(self, vm_id: str) -> VMInstance:
        return self._vm(self.hosts[vm_id])

    def stop(self, vm_id: str) -> None:
        self.stopped.append(vm_id)

    def delete(self, vm_id: str) -> None:
        self.deleted.append(vm_id)


class _ProviderPlugin:
    def __init__(self, provider: TestbedProvider) -> None:
        self.provider = provider

    @hookimpl
    def lithops_register_backends(self, register: Any) -> None:
        register(BackendInfo(name="testbed_vm", kind=BackendKind.VM_PROVIDER))

    @hookimpl
    def lithops_vm_provider(self, name: str, config: Any) -> VMProvider | None:
        return self.provider if name == "testbed_vm" else None


class _Sink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.expected = 0

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        self.records.extend(records)
        if len(self.records) >= self.expected:
            self.done.set()

    def running(self, key: Any, since: float, where: str) -> None:
        pass

    def lost(self, keys: Sequence[Any], error: BaseException) -> None:
        raise AssertionError(f"lost {keys}: {error}")

    def requeue(self, keys: Sequence[Any]) -> None:
        raise AssertionError(f"requeued {keys}")

    def log(self, key: Any, lines: Sequence[tuple[float, str]]) -> None:
        pass


def _batch(n: int) -> CallBatch:
    message = {
        "t": "batch",
        "job_key": "ex/j0",
        "func_key": "square",
        "func": cloudpickle.dumps(lambda x: x * x),
        "calls": [str(i) for i in range(n)],
        "args": cloudpickle.dumps([((i,), {}) for i in range(n)]),
        "timeout": None,
        "env": {},
        "inject": (),
        "storage": None,
    }
    keys = [("ex/j0", str(i)) for i in range(n)]
    return CallBatch("ex/j0", keys, wire.encode(message), None, "square")


def test_create_mode_bootstraps_provider_vms_and_deletes_them_on_dismantle(
    ssh_host_factory: Callable[..., Any], lithops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = TestbedProvider(ssh_host_factory)
    assert isinstance(provider, VMProvider)
    host = plugin_manager.PluginHost(plugin_manager.new_plugin_manager())
    host.register_module(standalone_plugin, name="standalone", distribution="lithops-standalone")
    host.register_module(_ProviderPlugin(provider), name="testbed-vm", distribution="tests")
    monkeypatch.setattr(plugin_manager, "get_plugin_host", lambda: host)

    sink = _Sink()
    config = {
        "standalone": {"exec_mode": "create", "auto_dismantle": True, "start_timeout": 60},
        "testbed_vm": {"max_workers": 2},
    }
    request = ProvisionRequest("testbed_vm", config, None, None, sink)
    handle = host.provision(request)  # lithops_provision
    assert handle is not None and handle.capacity == 4
    vms = list(provider.hosts.values())
    assert len(vms) == 2

    sink.expected = 8
    host.invoke(handle, _batch(8))  # lithops_invoke
    assert sink.done.wait(30)
    values = sorted(cloudpickle.loads(r["value"]) for r in sink.records)
    assert values == [i * i for i in range(8)]

    host.release(handle, dismantle=True)  # lithops_release
    assert sorted(provider.deleted) == sorted(h.name for h in vms)
    for vm in vms:
        # The agent dismantled itself and ran the provider's self-stop command.
        assert wait_until(lambda vm=vm: not agent_processes(vm), 10)
        assert wait_until(
            lambda vm=vm: vm.exec("test -f $HOME/stopped-by-agent", user="lithops")[0] == 0, 5
        )
