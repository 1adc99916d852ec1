"""The ``gcp_compute`` plugin module: Compute Engine instances as the VMs of standalone mode.

Registered as a VM provider (``gcp_compute_engine``, Lithops' name, is an alias: its section is
read too); the core makes every VM provider selectable as a standalone compute backend
(``FunctionExecutor(backend='gcp_compute')``), and lithops-standalone bootstraps the instances
over SSH exactly like ``ssh`` hosts. The Google client library is imported only when the
provider is built.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.config.keys import check_at_least_one, worker_processes_spec
from lithops.errors import BackendUnavailableError
from lithops.plugins import hookimpl
from lithops.plugins.types import (
    BackendInfo,
    BackendKind,
    KeySpec,
    ProvisionRequest,
    RegisterBackend,
)
from lithops_gcp.compute_config import EXEC_MODES

if TYPE_CHECKING:
    from lithops.plugins.types import ComputeHandle
    from lithops_gcp.compute import GceProvider

__all__ = [
    "COMPUTE",
    "COMPUTE_KEYS",
    "lithops_provision",
    "lithops_register_backends",
    "lithops_vm_provider",
]

COMPUTE = "gcp_compute"
ALIAS = "gcp_compute_engine"

_S = (str,)
_B = (bool,)

#: Lithops' ``gcp_compute_engine`` keys plus the per-section GCP settings; values are checked
#: when the executor is created (defaults live in lithops_gcp.compute_config).
COMPUTE_KEYS: Mapping[str, KeySpec] = {
    "exec_mode": KeySpec(
        _S,
        "consume (instance_name), create (new instances per executor) or reuse (idle lithops "
        "instances, created when missing; the default)",
        choices=EXEC_MODES,
    ),
    "zone": KeySpec(_S, "zone of the instances (default: <region>-b)"),
    "instance_name": KeySpec(
        _S, "consume mode: the instance to run on; else the workers' name prefix"
    ),
    "machine_type": KeySpec(_S, "machine type of the workers (default e2-standard-2)"),
    "worker_instance_type": KeySpec(_S, "machine type of the workers (wins over machine_type)"),
    "source_image": KeySpec(
        _S, "boot image (default: the ubuntu-2404-lts-amd64 family of ubuntu-os-cloud)"
    ),
    "network_name": KeySpec(_S, "VPC network of the workers (default: default)"),
    "subnet_name": KeySpec(_S, "subnetwork in the region (default: the network's name)"),
    "service_account": KeySpec(
        _S, "email of a service account the workers run as (default: none, no credentials)"
    ),
    "ssh_username": KeySpec(_S, "login name put in the instances' ssh-keys (default ubuntu)"),
    "ssh_key_filename": KeySpec(
        _S, "private key that logs in (default: one made under ~/.lithops/gcp_compute)"
    ),
    "worker_processes": worker_processes_spec("parallel calls per instance (a number or AUTO)"),
    "max_workers": KeySpec(
        (int,), "instances created or reused per executor (default 1)", check=check_at_least_one
    ),
    "request_spot_instances": KeySpec(_B, "ask for Spot VMs (default false: standard)"),
    "delete_on_dismantle": KeySpec(
        _B, "delete create-mode instances on dismantle (default true; false: stop them)"
    ),
    "use_private_ip": KeySpec(
        _B, "connect by internal IP, for clients inside the network (default false)"
    ),
    "api_endpoint": KeySpec(_S, "Compute Engine API URL (default: Google's)"),
    "region": KeySpec(_S, "the instances' region (default: the gcp section's, else the zone's)"),
    "project_name": KeySpec(_S, "the project (default: the gcp section's)"),
    "credentials_path": KeySpec(_S, "credentials file (default: the gcp section's)"),
}

#: What standalone mode on these VMs offers (as the ``ssh`` backend).
CAPABILITIES = frozenset({"cancel", "timeout", "docker", "logs", "worker_lost"})


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=COMPUTE,
            kind=BackendKind.VM_PROVIDER,
            aliases=(ALIAS,),
            capabilities=CAPABILITIES,
            config_keys=COMPUTE_KEYS,
            description="standalone mode on Compute Engine instances (create, reuse or consume)",
        )
    )


@hookimpl
def lithops_vm_provider(name: str, config: Mapping[str, Any]) -> GceProvider | None:
    if name not in (COMPUTE, ALIAS):
        return None
    from lithops_gcp.compute import GceProvider

    return GceProvider(config)


@hookimpl(trylast=True)
def lithops_provision(request: ProvisionRequest) -> ComputeHandle | None:
    # Asked last: lithops-standalone answers for gcp_compute when it is installed.
    if request.backend == COMPUTE and importlib.util.find_spec("lithops_standalone") is None:
        raise BackendUnavailableError(
            "gcp_compute runs in standalone mode, which lithops-standalone provides: "
            "pip install lithops-standalone"
        )
    return None
