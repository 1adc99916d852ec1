"""The ``aws_lambda`` config section: Lithops' keys, their defaults and checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lithops.errors import ConfigError

__all__ = ["LAMBDA_KEYS", "LambdaSettings"]

LAMBDA_KEYS: Mapping[str, str] = {
    "execution_role": "ARN of the IAM role the functions run with (required to deploy)",
    "runtime": "empty for the default runtime (this client's code, deployed as a zip)",
    "runtime_memory": "memory of a function in MB (default 256)",
    "runtime_timeout": "timeout of one invocation in seconds (default 180, at most 900)",
    "max_workers": "most invocations in flight (default 1000)",
    "worker_processes": "parallel calls per invocation (default 1)",
    "invoke_pool_threads": "threads that invoke (default: max_workers, at most 128)",
    "architecture": "x86_64 (default) or arm64",
    "ephemeral_storage": "/tmp size in MB (default 512)",
    "env_vars": "environment variables of the functions",
    "vpc": "{subnets: [...], security_groups: [...]} to run the functions in a VPC",
    "efs": "[{access_point: ARN, mount_path: /mnt/...}] file systems to mount",
    "namespace": "a word in the function names, to keep deployments of several users apart",
    "user_tags": "tags added to the functions",
    "region": "the functions' region (default: the aws section's)",
    "endpoint": "Lambda endpoint URL (default: AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL)",
    "payload_limit": "bytes of an invocation's event or response above which it travels "
    "through storage (default 6000000, Lambda's limit; lower it for emulators)",
    "access_key_id": "access key (default: the aws section's, else boto3's chain)",
    "secret_access_key": "secret of the access key",
    "session_token": "session token of temporary credentials",
}

_ARCHITECTURES = ("x86_64", "arm64")


def _int(section: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"'{key}' in the aws_lambda section must be a whole number from {low} to {high}, "
            f"not {value!r}"
        )
    return value


@dataclass(frozen=True)
class LambdaSettings:
    """The ``aws_lambda`` section, checked, with defaults filled in."""

    execution_role: str
    runtime: str
    memory: int
    timeout: int
    max_workers: int
    worker_processes: int
    pool_threads: int
    architecture: str
    ephemeral_storage: int
    env_vars: dict[str, str]
    vpc: dict[str, Any]
    efs: list[dict[str, Any]]
    namespace: str
    user_tags: dict[str, str]
    payload_limit: int
    #: the merged section (with the aws section's keys as defaults), for boto3
    boto: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], memory: int | None) -> LambdaSettings:
        shared = dict(config.get("aws") or {})
        section = dict(config.get("aws_lambda") or {})
        merged = {**shared, **section}
        architecture = str(section.get("architecture") or "x86_64")
        if architecture not in _ARCHITECTURES:
            raise ConfigError(
                f"'architecture' in the aws_lambda section is {architecture!r}; use one of "
                f"{', '.join(_ARCHITECTURES)}"
            )
        max_workers = _int(section, "max_workers", 1000, 1, 100_000)
        for key in ("env_vars", "user_tags", "vpc"):
            if not isinstance(section.get(key) or {}, Mapping):
                raise ConfigError(f"'{key}' in the aws_lambda section must be a mapping")
        return cls(
            execution_role=str(section.get("execution_role") or ""),
            runtime=str(section.get("runtime") or ""),
            memory=_int(
                {"runtime_memory": memory} if memory else section, "runtime_memory", 256, 128, 10240
            ),
            timeout=_int(section, "runtime_timeout", 180, 1, 900),
            max_workers=max_workers,
            worker_processes=_int(section, "worker_processes", 1, 1, 64),
            pool_threads=_int(section, "invoke_pool_threads", min(max_workers, 128), 1, 1024),
            architecture=architecture,
            ephemeral_storage=_int(section, "ephemeral_storage", 512, 512, 10240),
            env_vars={str(k): str(v) for k, v in (section.get("env_vars") or {}).items()},
            vpc=dict(section.get("vpc") or {}),
            efs=list(section.get("efs") or []),
            namespace=str(section.get("namespace") or ""),
            user_tags={str(k): str(v) for k, v in (section.get("user_tags") or {}).items()},
            payload_limit=_int(section, "payload_limit", 6_000_000, 4096, 6_291_456),
            boto=merged,
        )
