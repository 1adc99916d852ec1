"""What ``gcp_compute`` asks Compute Engine to make: a worker instance and the SSH firewall rule.

Pure builders of ``google.cloud.compute_v1`` messages from :class:`ComputeSettings`; the
provider (``lithops_gcp.compute``) sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lithops_gcp.compute_config import ComputeSettings

__all__ = [
    "MANAGED_LABEL",
    "MODE_LABEL",
    "NETWORK_TAG",
    "instance_body",
    "ssh_keys_with",
    "ssh_rule",
]

MANAGED_LABEL = ("lithops-managed-by", "lithops-gcp")
MODE_LABEL = "lithops-exec-mode"
#: network tag of the workers: the firewall rule admits SSH to it only
NETWORK_TAG = "lithops-worker"
_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def instance_body(
    s: ComputeSettings, name: str, machine_type: str, mode: str, public_key: str
) -> Any:
    """An ``Instance`` labelled for ``mode``, logging in ``s.ssh_username`` with ``public_key``.

    No external address with ``use_private_ip``; no service account (so no Google credentials
    on the VM) unless ``service_account`` names one; Spot only with ``request_spot_instances``,
    preempted into deletion when dismantle would delete it, else into a stop.
    """
    from google.cloud import compute_v1 as c

    nic = c.NetworkInterface(
        network=f"projects/{s.project}/global/networks/{s.network_name}",
        subnetwork=f"projects/{s.project}/regions/{s.region}/subnetworks/{s.subnet_name}",
    )
    if not s.use_private_ip:
        nic.access_configs = [c.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")]
    body = c.Instance(
        name=name,
        machine_type=f"zones/{s.zone}/machineTypes/{machine_type}",
        labels={MANAGED_LABEL[0]: MANAGED_LABEL[1], MODE_LABEL: mode},
        tags=c.Tags(items=[NETWORK_TAG]),
        disks=[
            c.AttachedDisk(
                boot=True,
                auto_delete=True,
                initialize_params=c.AttachedDiskInitializeParams(source_image=s.source_image),
            )
        ],
        network_interfaces=[nic],
        metadata=c.Metadata(
            items=[c.Items(key="ssh-keys", value=_ssh_key_line(s.ssh_username, public_key))]
        ),
    )
    if s.service_account:
        body.service_accounts = [
            c.ServiceAccount(email=s.service_account, scopes=[_CLOUD_PLATFORM])
        ]
    if s.request_spot_instances:
        ends_as = "DELETE" if mode == "create" and s.delete_on_dismantle else "STOP"
        body.scheduling = c.Scheduling(
            provisioning_model="SPOT",
            instance_termination_action=ends_as,
            automatic_restart=False,
            on_host_maintenance="TERMINATE",
        )
    return body


def _ssh_key_line(user: str, public_key: str) -> str:
    return f"{user}:{public_key} lithops"


def ssh_keys_with(value: str, user: str, public_key: str) -> str | None:
    """The ``ssh-keys`` metadata ``value`` (``user:type base64 [comment]`` lines) with
    ``public_key`` logging in ``user`` added, the other lines kept; ``None`` when it is there."""
    wanted = public_key.split()[:2]
    lines = [line for line in value.splitlines() if line.strip()]
    for line in lines:
        name, _, key = line.strip().partition(":")
        if name == user and key.split()[:2] == wanted:
            return None
    return "\n".join([*lines, _ssh_key_line(user, public_key)])


def ssh_rule(s: ComputeSettings, name: str, source_ranges: Sequence[str]) -> Any:
    """A ``Firewall`` admitting TCP 22 to the workers' tag from ``source_ranges`` only."""
    from google.cloud import compute_v1 as c

    return c.Firewall(
        name=name,
        network=f"projects/{s.project}/global/networks/{s.network_name}",
        direction="INGRESS",
        description="lithops workers: SSH from their own subnet only",
        allowed=[c.Allowed(I_p_protocol="tcp", ports=["22"])],
        source_ranges=list(source_ranges),
        target_tags=[NETWORK_TAG],
    )
