"""``gcp_compute``: Compute Engine instances as standalone VMs (:class:`lithops.vm.VMProvider`).

What it makes, and how it finds it again:

* Instances carry the labels ``lithops-managed-by=lithops-gcp`` and ``lithops-exec-mode``
  (``create`` or ``reuse``); reuse mode lists only ``reuse`` instances of the zone, so it never
  picks up what a create-mode executor will delete.
* The public half of ``ssh_key_filename`` (or of a key made under ``~/.lithops/gcp_compute``)
  goes into the instance's ``ssh-keys`` metadata for ``ssh_username``; Google's guest agent
  installs it at boot. Consume mode adds it to the ``ssh-keys`` of the named instance (the
  other keys kept; nothing changes when it is there) and, on a running instance, waits until
  the guest agent installed it. No service account is attached unless ``service_account``
  names one, so a worker holds no Google credentials by default.
* A firewall rule ``lithops-ssh-<network>`` admits SSH to instances tagged ``lithops-worker``
  from the subnet's own address range only. Nothing here opens a port to the internet: to
  reach the workers from outside the network, add a rule for your address.
* An agent that dismantles itself after its idle timeout runs ``sudo shutdown -h now``: the
  instance stops (Compute Engine cannot delete an instance from inside without credentials).
  Stopped create-mode instances are orphans, deleted by the next create-mode executor.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from lithops.errors import BackendUnavailableError
from lithops.vm import VMInstance, VMSpec
from lithops_gcp.compute_config import ComputeSettings, ensure_default_key, public_key_of
from lithops_gcp.compute_resources import (
    MANAGED_LABEL,
    MODE_LABEL,
    NETWORK_TAG,
    instance_body,
    ssh_keys_with,
    ssh_rule,
)

__all__ = ["MANAGED_LABEL", "MODE_LABEL", "NETWORK_TAG", "GceError", "GceProvider"]

logger = logging.getLogger(__name__)

_STATES = {
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "REPAIRING": "pending",
    "RUNNING": "running",
    "STOPPING": "stopped",
    "SUSPENDING": "stopped",
    "SUSPENDED": "stopped",
    "TERMINATED": "stopped",  # Compute Engine's word for a stopped instance
}
#: error reason / operation error code -> the setting that fixes it
_HINTS = {
    "QUOTA_EXCEEDED": "lower gcp_compute.max_workers or raise the project's Compute quota",
    "quotaExceeded": "lower gcp_compute.max_workers or raise the project's Compute quota",
    "ZONE_RESOURCE_POOL_EXHAUSTED": "try another gcp_compute.zone or machine_type",
    "forbidden": "the credentials in use lack this Compute Engine permission (or the project "
    "is wrong: check project_name in the gcp section)",
    "accessNotConfigured": "enable the Compute Engine API for the project",
}


# Spelled here: inside the class, ``list`` is the VMProvider method.
_Instances = list[Any]
_VMs = list[VMInstance]


class GceError(BackendUnavailableError):
    """Compute Engine refused a request or could not be reached; the message says what to do."""


class GceProvider:
    """Creates, finds, starts, stops and deletes the Compute Engine instances of standalone."""

    name = "gcp_compute"

    def __init__(self, config: dict[str, Any] | Any) -> None:
        self.settings = ComputeSettings.from_config(dict(config))
        s = self.settings
        from google.api_core.client_options import ClientOptions
        from google.cloud import compute_v1

        from lithops_gcp.auth import identity

        who = identity(s.auth_settings(), "gcp_compute", s.api_endpoint)
        options = ClientOptions(api_endpoint=s.api_endpoint) if s.api_endpoint else None
        kwargs: dict[str, Any] = {
            "transport": "rest",
            "credentials": who.credentials,
            "client_options": options,
        }
        self._compute = compute_v1
        self._instances = compute_v1.InstancesClient(**kwargs)
        self._zone_ops = compute_v1.ZoneOperationsClient(**kwargs)
        self._global_ops = compute_v1.GlobalOperationsClient(**kwargs)
        self._firewalls = compute_v1.FirewallsClient(**kwargs)
        self._subnets = compute_v1.SubnetworksClient(**kwargs)
        self._public_key: tuple[str, str] | None = None
        self._network_ready = False
        # Consume mode: the user's instance stops only when the user says so.
        self.self_stop_command: str | None = (
            None if s.exec_mode == "consume" else "sudo -n shutdown -h now"
        )

    # -- VMProvider ------------------------------------------------------------------------

    def create(self, spec: VMSpec, count: int) -> Sequence[VMInstance]:
        s = self.settings
        self.ensure_network()
        mode = "reuse" if s.exec_mode == "reuse" else "create"
        if mode == "create" and s.delete_on_dismantle:
            self._delete_orphans()
        prefix = s.instance_name or spec.name
        names = [f"{prefix}-{uuid.uuid4().hex[:8]}" for _ in range(count)]
        machine_type = spec.instance_type or s.machine_type
        operations = []
        try:
            for name in names:
                body = instance_body(s, name, machine_type, mode, self.public_key()[0])
                insert = functools.partial(
                    self._instances.insert_unary,
                    project=s.project,
                    zone=s.zone,
                    instance_resource=body,
                )
                operations.append(self._call("insert", insert))
            logger.info(
                "creating Compute Engine instances %s (%s) in %s",
                ", ".join(names),
                machine_type,
                s.zone,
            )
            for op in operations:
                self._wait_zone(op, "insert")
            return self._wait_running(names)
        except BaseException:
            for name in names[: len(operations)]:
                self._quietly(name, "delete")
            raise

    def list(self) -> Sequence[VMInstance]:
        s = self.settings
        if s.exec_mode == "consume":
            assert s.instance_name is not None
            return [self._admit_key(self._get(s.instance_name, "instance_name"))]
        query = (
            f"(labels.{MANAGED_LABEL[0]} = {MANAGED_LABEL[1]}) AND (labels.{MODE_LABEL} = reuse)"
        )
        found = [self._vm(i) for i in self._list(query)]
        order = {"running": 0, "pending": 1, "stopped": 2}
        return sorted(found, key=lambda vm: (order.get(vm.state, 3), vm.id))

    def start(self, vm_id: str) -> VMInstance:
        instance = self._get(vm_id)
        if instance.status in ("STOPPING", "SUSPENDING"):
            self._wait_status(vm_id, lambda i: i.status in ("TERMINATED", "SUSPENDED"), "stop")
            instance = self._get(vm_id)
        verb = "resume" if instance.status == "SUSPENDED" else "start"
        s = self.settings
        op = self._call(
            verb,
            lambda: getattr(self._instances, f"{verb}_unary")(
                project=s.project, zone=s.zone, instance=vm_id
            ),
        )
        self._wait_zone(op, verb)
        return self._wait_running([vm_id])[0]

    def stop(self, vm_id: str) -> None:
        self._quietly(vm_id, "stop")

    def delete(self, vm_id: str) -> None:
        self._quietly(vm_id, "delete" if self.settings.delete_on_dismantle else "stop")

    # -- what the instances need -------------------------------------------------------------

    def public_key(self) -> tuple[str, str]:
        """The OpenSSH public key the instances get, and the private key file that logs in."""
        if self._public_key is None:
            path = self.settings.ssh_key_filename or str(ensure_default_key())
            self._public_key = (public_key_of(path), path)
        return self._public_key

    def _admit_key(self, instance: Any) -> VMInstance:
        """Consume mode: let the client's key log in to the user's ``instance``, as create mode
        does, through its ``ssh-keys`` metadata (set with the metadata's fingerprint, so a
        concurrent change is not lost: a conflict is retried)."""
        from google.api_core import exceptions as gexc

        s = self.settings
        public, _ = self.public_key()
        for _attempt in range(5):
            items = list(instance.metadata.items)
            current = next((i.value for i in items if i.key == "ssh-keys"), "")
            value = ssh_keys_with(current or "", s.ssh_username, public)
            if value is None:
                return self._vm(instance)
            others = [self._compute.Items(key=i.key, value=i.value) for i in items]
            others = [i for i in others if i.key != "ssh-keys"]
            metadata = self._compute.Metadata(
                fingerprint=instance.metadata.fingerprint,
                items=[*others, self._compute.Items(key="ssh-keys", value=value)],
            )
            logger.info(
                "adding the SSH key of %s to the ssh-keys metadata of instance %s",
                s.ssh_username,
                instance.name,
            )
            name = str(instance.name)

            def set_metadata(name: str = name, metadata: Any = metadata) -> Any:
                try:
                    return self._instances.set_metadata_unary(
                        project=s.project, zone=s.zone, instance=name, metadata_resource=metadata
                    )
                except gexc.PreconditionFailed:  # the metadata changed since we read it
                    return None

            op = self._call(
                "setMetadata",
                set_metadata,
                hint="the credentials in use need compute.instances.setMetadata on "
                "gcp_compute.instance_name (or put the key in its ssh-keys yourself)",
            )
            instance = self._get(name, "instance_name")
            if op is None:
                continue
            self._wait_zone(op, "setMetadata")
            vm = self._vm(self._get(name, "instance_name"))
            if vm.state == "running":
                self._wait_login(vm)
            return vm
        raise GceError(
            f"the metadata of instance {instance.name} kept changing while adding the SSH key; "
            f"try again"
        )

    def _wait_login(self, vm: VMInstance) -> None:
        """Until the guest agent has installed the key just added (it watches the metadata)."""
        try:
            import paramiko
        except ImportError:  # standalone (which needs paramiko) is not installed: no SSH here
            return
        limit = min(self.settings.start_timeout, 120.0)
        deadline = time.monotonic() + limit
        while True:
            client = paramiko.SSHClient()
            # A login probe only: standalone checks the host key when it connects.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect(
                    vm.address,
                    port=vm.port,
                    username=vm.user,
                    key_filename=vm.key_filename,
                    timeout=10,
                    auth_timeout=10,
                    banner_timeout=10,
                    allow_agent=False,
                    look_for_keys=False,
                )
                return
            except paramiko.AuthenticationException:
                pass  # not installed yet
            except (OSError, paramiko.SSHException, EOFError):
                return  # not reachable from here: standalone's connect waits and says why
            finally:
                client.close()
            if time.monotonic() > deadline:
                raise GceError(
                    f"instance {vm.id} did not accept the SSH key added to its ssh-keys "
                    f"metadata within {limit:.0f} s: check that its guest agent runs "
                    f"(google-guest-agent), or add the key for {vm.user} yourself"
                )
            time.sleep(0.5)

    def ensure_network(self) -> None:
        """Make the firewall rule admitting SSH from the subnet to our workers, once."""
        if self._network_ready:
            return
        s = self.settings
        from google.api_core import exceptions as gexc

        name = f"lithops-ssh-{s.network_name}"[:63].rstrip("-")
        try:
            self._firewalls.get(project=s.project, firewall=name)
        except gexc.NotFound:
            subnet = self._call(
                "subnetworks.get",
                lambda: self._subnets.get(
                    project=s.project, region=s.region, subnetwork=s.subnet_name
                ),
                hint="check gcp_compute.network_name / subnet_name and the gcp section's region",
            )
            ranges = [subnet.ip_cidr_range]
            rule = ssh_rule(s, name, ranges)
            try:
                op = self._firewalls.insert_unary(project=s.project, firewall_resource=rule)
                self._wait_global(op, "firewalls.insert")
                logger.info("firewall rule %s admits SSH from %s", name, ", ".join(ranges))
            except gexc.Forbidden as exc:
                logger.warning(
                    "cannot create firewall rule %s (%s): the workers are reachable only if an "
                    "existing rule of network %s admits SSH",
                    name,
                    exc.message,
                    s.network_name,
                )
            if not s.use_private_ip:
                logger.warning(
                    "firewall rule %s admits SSH from subnet %s only (%s); to reach the workers "
                    "from this machine, add a rule for your address on network %s, or run here "
                    "inside the network with gcp_compute.use_private_ip",
                    name,
                    s.subnet_name,
                    ", ".join(ranges),
                    s.network_name,
                )
        except gexc.GoogleAPICallError as exc:
            raise self._error("firewalls.get", exc) from exc
        self._network_ready = True

    def _delete_orphans(self) -> None:
        """Stopped create-mode instances: their executors are gone, their agents stopped them."""
        query = (
            f"(labels.{MANAGED_LABEL[0]} = {MANAGED_LABEL[1]}) AND "
            f"(labels.{MODE_LABEL} = create) AND (status = TERMINATED)"
        )
        for instance in self._list(query):
            logger.info("deleting %s, a stopped create-mode worker left behind", instance.name)
            self._quietly(instance.name, "delete")

    # -- describing and waiting ----------------------------------------------------------------

    def _vm(self, instance: Any) -> VMInstance:
        _, key_filename = self.public_key()
        return VMInstance(
            id=instance.name,
            address=self._address(instance) or "",
            user=self.settings.ssh_username,
            key_filename=key_filename,
            state=_STATES.get(instance.status, "pending"),
            worker_processes=self.settings.worker_processes,
        )

    def _address(self, instance: Any) -> str | None:
        for nic in instance.network_interfaces:
            if self.settings.use_private_ip:
                return str(nic.network_i_p) or None
            for access in nic.access_configs:
                if access.nat_i_p:
                    return str(access.nat_i_p)
        return None

    def _get(self, name: str, setting: str = "") -> Any:
        s = self.settings
        hint = f"check gcp_compute.{setting} and zone" if setting else ""
        return self._call(
            "instances.get",
            lambda: self._instances.get(project=s.project, zone=s.zone, instance=name),
            hint=hint,
        )

    def _list(self, query: str) -> _Instances:
        s = self.settings
        return list(
            self._call(
                "instances.list",
                lambda: list(
                    self._instances.list(
                        request=self._compute.ListInstancesRequest(
                            project=s.project, zone=s.zone, filter=query
                        )
                    )
                ),
            )
        )

    def _wait_running(self, names: Sequence[str]) -> _VMs:
        deadline = time.monotonic() + self.settings.start_timeout
        pause = 0.2
        while True:
            instances = [self._get(name) for name in names]
            if all(i.status == "RUNNING" and self._address(i) for i in instances):
                return [self._vm(i) for i in instances]
            ended = [i.name for i in instances if i.status in ("TERMINATED", "STOPPING")]
            if ended:
                raise GceError(
                    f"instances {', '.join(ended)} stopped while starting; see their serial "
                    f"console output in the Compute Engine console"
                )
            if time.monotonic() > deadline:
                raise GceError(
                    f"instances {', '.join(names)} were not running with an address within "
                    f"{self.settings.start_timeout:.0f} s; raise standalone.start_timeout or "
                    f"check them in the Compute Engine console"
                )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def _wait_status(self, name: str, done: Callable[[Any], bool], what: str) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while not done(self._get(name)):
            if time.monotonic() > deadline:
                raise GceError(f"instance {name} took longer than start_timeout to {what}")
            time.sleep(1.0)

    def _wait_zone(self, op: Any, what: str) -> None:
        s = self.settings
        self._wait_operation(
            op,
            what,
            lambda: self._zone_ops.wait(project=s.project, zone=s.zone, operation=op.name),
        )

    def _wait_global(self, op: Any, what: str) -> None:
        s = self.settings
        self._wait_operation(
            op, what, lambda: self._global_ops.wait(project=s.project, operation=op.name)
        )

    def _wait_operation(self, op: Any, what: str, wait: Callable[[], Any]) -> None:
        # Not op.result(): its poller ignores api_endpoint and goes to compute.googleapis.com.
        deadline = time.monotonic() + self.settings.start_timeout
        done = self._compute.Operation.Status.DONE
        while op.status != done:
            if time.monotonic() > deadline:
                raise GceError(
                    f"Compute Engine {what} ({op.name}) did not finish within "
                    f"{self.settings.start_timeout:.0f} s; raise standalone.start_timeout"
                )
            op = self._call(f"{what} wait", wait)
        if op.error and op.error.errors:
            first = op.error.errors[0]
            hint = _HINTS.get(first.code, "")
            raise GceError(
                f"Compute Engine {what} failed in {self.settings.zone}: {first.code}: "
                f"{first.message}" + (f"; {hint}" if hint else "")
            )

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], Any], hint: str = "") -> Any:
        from google.api_core import exceptions as gexc
        from requests import exceptions as rexc

        try:
            return call()
        except gexc.GoogleAPICallError as exc:
            raise self._error(what, exc, hint) from exc
        except rexc.RequestException as exc:
            raise GceError(
                f"cannot reach Compute Engine for {what} ({type(exc).__name__}: {exc}); check "
                f"gcp_compute.api_endpoint and the network"
            ) from exc

    def _quietly(self, name: str, verb: str) -> None:
        """A stop or delete of something already gone is not an error."""
        from google.api_core import exceptions as gexc

        s = self.settings
        method = getattr(self._instances, "delete_unary" if verb == "delete" else "stop_unary")
        try:
            method(project=s.project, zone=s.zone, instance=name)
        except gexc.NotFound:
            return
        except gexc.GoogleAPICallError as exc:
            raise self._error(f"instances.{verb}", exc) from exc

    def _error(self, what: str, exc: Any, hint: str = "") -> GceError:
        from google.api_core import exceptions as gexc

        reason = getattr(exc, "reason", None) or ""
        if not hint:
            hint = _HINTS.get(reason, "")
        if not hint and isinstance(exc, gexc.NotFound) and what == "insert":
            hint = "check gcp_compute.source_image, machine_type, network_name and subnet_name"
        if not hint and isinstance(exc, gexc.Forbidden):
            hint = _HINTS["forbidden"]
        if isinstance(exc, gexc.BadRequest) and "zone" in str(exc.message).lower():
            hint = hint or "check gcp_compute.zone"
        return GceError(
            f"Compute Engine {what} failed in {self.settings.zone} (project "
            f"{self.settings.project}): {exc.code} {exc.message}" + (f"; {hint}" if hint else "")
        )
