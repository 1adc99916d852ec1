"""The VM-provider seam of standalone mode: how ``create`` and ``reuse`` get their machines.

Standalone mode runs calls on hosts reached over SSH. In ``consume`` mode the user lists hosts
they already have (backend ``ssh``/``vm``). In ``create`` and ``reuse`` modes a *VM provider*
(``aws_ec2``, ``gcp_compute``...) makes the machines, and standalone bootstraps them exactly like
consumed hosts. A provider distribution implements one hook::

    from lithops.plugins import hookimpl

    @hookimpl
    def lithops_vm_provider(name, config):
        if name != "aws_ec2":
            return None
        return Ec2Provider(config)          # satisfies lithops.vm.VMProvider

and registers ``BackendInfo(name="aws_ec2", kind=BackendKind.VM_PROVIDER, ...)``.

How standalone drives a provider, per ``standalone.exec_mode``:

* ``create``: :meth:`VMProvider.create` ``count`` new VMs for this executor; on release with
  dismantle they are :meth:`VMProvider.delete`-d.
* ``reuse``: :meth:`VMProvider.list` the provider's existing lithops VMs; stopped ones are
  :meth:`VMProvider.start`-ed, missing ones created; on release with dismantle they are
  :meth:`VMProvider.stop`-ped (kept for the next executor).

Either way the returned :class:`VMInstance` carries the SSH address and login, and the agent on
the VM runs :attr:`VMProvider.self_stop_command` when it dismantles itself after its idle timeout:
the VM stops itself without holding cloud credentials (e.g. ``sudo shutdown -h now`` on an EC2
instance whose shutdown behaviour is "stop"). Credentials stay on the client; nothing from the
provider's config is sent to the VM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["VMInstance", "VMProvider", "VMSpec"]


@dataclass(frozen=True)
class VMSpec:
    """What standalone asks a provider to create.

    :param name: a name prefix for the VMs (the provider adds a unique suffix and a tag that
        :meth:`VMProvider.list` finds again in ``reuse`` mode).
    :param instance_type: the provider's machine type, or ``None`` for its configured default.
    :param worker_processes: worker slots the agent will run on each VM (a provider may pick an
        instance type from it).
    :param extra: provider-specific settings passed through from its config section.
    """

    name: str
    instance_type: str | None = None
    worker_processes: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class VMInstance:
    """One VM as a provider reports it, with everything needed to reach it over SSH.

    :param id: the provider's identifier (instance id, self link...).
    :param address: IP address or DNS name the client connects to (public, or private when the
        client runs inside the same network).
    :param port: SSH port.
    :param user: SSH login name.
    :param key_filename: private key that logs in, when the provider created or knows it.
    :param state: the provider's state word, normalised to ``running``, ``stopped``,
        ``pending`` or ``terminated``.
    :param worker_processes: worker slots for this VM, or ``None`` for its CPU count.
    """

    id: str
    address: str
    port: int = 22
    user: str = "ubuntu"
    key_filename: str | None = None
    state: str = "running"
    worker_processes: int | None = None


@runtime_checkable
class VMProvider(Protocol):
    """Creates, starts, stops and deletes VMs and reports their SSH address.

    Every method blocks until the provider has accepted the request; :meth:`create` and
    :meth:`start` return once the VM has an address (its SSH server may still be booting:
    standalone retries the connection until ``standalone.start_timeout``). Errors are raised as
    :class:`lithops.errors.BackendUnavailableError` (or a subclass) with a message naming the
    setting or the cloud console action that fixes them.
    """

    #: the provider's backend name (``aws_ec2``)
    name: str

    #: shell command the agent runs on the VM after dismantling itself on idle (``None``: leave
    #: the VM running). It runs as the SSH user, so it may need passwordless sudo.
    self_stop_command: str | None

    def create(self, spec: VMSpec, count: int) -> Sequence[VMInstance]:
        """Create ``count`` VMs and return them once each has an address."""
        ...

    def list(self) -> Sequence[VMInstance]:
        """The VMs this provider created for lithops and that still exist (``reuse`` mode)."""
        ...

    def start(self, vm_id: str) -> VMInstance:
        """Start a stopped VM and return it with its (possibly new) address."""
        ...

    def stop(self, vm_id: str) -> None:
        """Stop a VM, keeping its disk for a later :meth:`start`."""
        ...

    def delete(self, vm_id: str) -> None:
        """Delete a VM and what was created with it; deleting a missing VM is not an error."""
        ...
