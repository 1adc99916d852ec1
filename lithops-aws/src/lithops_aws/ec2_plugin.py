"""The ``aws_ec2`` plugin module: EC2 instances as the VMs of standalone mode.

Registered as a VM provider; the core makes every VM provider selectable as a standalone
compute backend (``FunctionExecutor(backend='aws_ec2')``, or ``mode='standalone'`` with
``standalone: {backend: aws_ec2}``), and lithops-standalone bootstraps the instances over SSH
exactly like ``ssh`` hosts. boto3 is imported only when the provider is built.
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
from lithops_aws.ec2_config import EXEC_MODES

if TYPE_CHECKING:
    from lithops.plugins.types import ComputeHandle
    from lithops_aws.ec2 import Ec2Provider

__all__ = ["EC2", "EC2_KEYS", "lithops_provision", "lithops_register_backends"]

EC2 = "aws_ec2"

_S = (str,)
_B = (bool,)

#: Lithops' ``aws_ec2`` keys, plus ``use_private_ip`` and the per-section AWS settings; values
#: are checked when the executor is created (defaults live in lithops_aws.ec2_config).
EC2_KEYS: Mapping[str, KeySpec] = {
    "exec_mode": KeySpec(
        _S,
        "consume (instance_id), create (new instances per executor) or reuse (idle lithops "
        "instances, created when missing; the default)",
        choices=EXEC_MODES,
    ),
    "instance_id": KeySpec(_S, "the instance consume mode runs on"),
    "vpc_id": KeySpec(_S, "VPC of the workers (default: the region's default VPC)"),
    "public_subnet_id": KeySpec(_S, "subnet of the workers (default: a subnet of the VPC)"),
    "security_group_id": KeySpec(
        _S,
        "security group of the workers (default: one admitting SSH from the VPC's own "
        "addresses only; never from the whole internet)",
    ),
    "target_ami": KeySpec(_S, "image of the workers (default: Canonical's newest Ubuntu 22.04)"),
    "instance_role": KeySpec(_S, "instance profile name given to the workers (optional)"),
    "ssh_key_name": KeySpec(
        _S, "EC2 key pair of the workers (default: ssh_key_filename's public key, imported)"
    ),
    "ssh_key_filename": KeySpec(
        _S, "private key that logs in (default: one made under ~/.lithops/aws_ec2)"
    ),
    "ssh_username": KeySpec(_S, "login name on the image (default ubuntu)"),
    "worker_instance_type": KeySpec(_S, "instance type of the workers (default t2.medium)"),
    "worker_processes": worker_processes_spec("parallel calls per instance (a number or AUTO)"),
    "max_workers": KeySpec(
        (int,), "instances created or reused per executor (default 1)", check=check_at_least_one
    ),
    "request_spot_instances": KeySpec(_B, "ask for spot instances (default false: on-demand)"),
    "delete_on_dismantle": KeySpec(
        _B, "terminate create-mode instances on dismantle (default true; false: stop them)"
    ),
    "use_private_ip": KeySpec(
        _B, "connect by private IP, for clients inside the VPC (default false)"
    ),
    "region": KeySpec(_S, "the instances' region (default: the aws section's)"),
    "endpoint": KeySpec(
        _S, "EC2 endpoint URL (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL, else AWS)"
    ),
    "access_key_id": KeySpec(_S, "access key (default: the aws section's, else boto3's chain)"),
    "secret_access_key": KeySpec(_S, "secret of the access key"),
    "session_token": KeySpec(_S, "session token of temporary credentials"),
}

#: What standalone mode on these VMs offers (as the ``ssh`` backend).
CAPABILITIES = frozenset({"cancel", "timeout", "docker", "logs", "worker_lost"})


@hookimpl
def lithops_register_backends(register: RegisterBackend) -> None:
    register(
        BackendInfo(
            name=EC2,
            kind=BackendKind.VM_PROVIDER,
            capabilities=CAPABILITIES,
            config_keys=EC2_KEYS,
            description="standalone mode on Amazon EC2 instances (create, reuse or consume)",
        )
    )


@hookimpl
def lithops_vm_provider(name: str, config: Mapping[str, Any]) -> Ec2Provider | None:
    if name != EC2:
        return None
    from lithops_aws.ec2 import Ec2Provider

    return Ec2Provider(config)


@hookimpl(trylast=True)
def lithops_provision(request: ProvisionRequest) -> ComputeHandle | None:
    # Asked last: lithops-standalone answers for aws_ec2 when it is installed.
    if request.backend == EC2 and importlib.util.find_spec("lithops_standalone") is None:
        raise BackendUnavailableError(
            "aws_ec2 runs in standalone mode, which lithops-standalone provides: "
            "pip install lithops-standalone"
        )
    return None
