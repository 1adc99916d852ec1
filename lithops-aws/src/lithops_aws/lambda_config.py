"""The ``aws_lambda`` config section: Lithops' keys, their defaults and checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lithops.errors import ConfigError
from lithops.plugins.types import KeySpec

__all__ = ["DEFAULT_PRICE_PER_GB_S", "DEFAULT_PRICE_PER_REQUEST", "LAMBDA_KEYS", "LambdaSettings"]

#: Lambda's public on-demand prices (US East, first tier), in US dollars: per GB-second of
#: billed duration (GB = 1024 MB of configured memory), by architecture, and per request.
DEFAULT_PRICE_PER_GB_S: Mapping[str, float] = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
DEFAULT_PRICE_PER_REQUEST = 0.0000002

_ARCHITECTURES = ("x86_64", "arm64")


def _between(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"must be from {low} to {high}"

    return check


def _prices(value: Any) -> str | None:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(_ARCHITECTURES))
        if unknown:
            return f"has prices for {unknown}; the architectures are {', '.join(_ARCHITECTURES)}"
        values = list(value.values())
    else:
        values = [value]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values):
        return "must be a price in US dollars (0 or more), or one per architecture"
    return None


_STR = (str,)
_INT = (int,)
_MAP = (dict,)
_SECRET = "(default: the aws section's, else boto3's chain)"

LAMBDA_KEYS: Mapping[str, KeySpec] = {
    "execution_role": KeySpec(_STR, "ARN of the IAM role the functions run with (to deploy)"),
    "runtime": KeySpec(
        (str, type(None)),
        "empty: the default runtime (this client's code as a zip); else an "
        "ECR image URI built with `lithops runtime build`",
    ),
    "runtime_memory": KeySpec(
        _INT, "memory of a function in MB (default 256)", check=_between(128, 10240)
    ),
    "runtime_timeout": KeySpec(
        _INT, "timeout of one invocation in seconds (default 180)", check=_between(1, 900)
    ),
    "max_workers": KeySpec(
        _INT, "most invocations in flight (default 1000)", check=_between(1, 100_000)
    ),
    "worker_processes": KeySpec(
        _INT, "parallel calls per invocation (default 1)", check=_between(1, 64)
    ),
    "invoke_pool_threads": KeySpec(
        _INT, "threads that invoke (default: max_workers, at most 128)", check=_between(1, 1024)
    ),
    "architecture": KeySpec(_STR, "x86_64 (default) or arm64", choices=_ARCHITECTURES),
    "ephemeral_storage": KeySpec(_INT, "/tmp size in MB (default 512)", check=_between(512, 10240)),
    "env_vars": KeySpec(_MAP, "environment variables of the functions"),
    "vpc": KeySpec(_MAP, "{subnets: [...], security_groups: [...]} to run the functions in a VPC"),
    "efs": KeySpec((list,), "[{access_point: ARN, mount_path: /mnt/...}] file systems to mount"),
    "namespace": KeySpec(_STR, "a word in the function names, to keep users' deployments apart"),
    "user_tags": KeySpec(_MAP, "tags added to the functions"),
    "region": KeySpec(_STR, "the functions' region (default: the aws section's)"),
    "endpoint": KeySpec(
        _STR, "Lambda endpoint URL (default: AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL)"
    ),
    "payload_limit": KeySpec(
        _INT,
        "bytes of an invocation's event or response above which it travels through storage "
        "(default 6000000, Lambda's limit; lower it for emulators)",
        check=_between(4096, 6_291_456),
    ),
    "price_per_gb_s": KeySpec(
        (int, float, dict),
        "US dollars per GB-second of billed duration, for job_summary()'s cost: a number, or "
        "{x86_64: .., arm64: ..} (default 0.0000166667 x86_64, 0.0000133334 arm64)",
        check=_prices,
    ),
    "price_per_request": KeySpec(
        (int, float), "US dollars per invocation (default 0.0000002)", check=_prices
    ),
    "access_key_id": KeySpec(_STR, f"access key {_SECRET}"),
    "secret_access_key": KeySpec(_STR, "secret of the access key"),
    "session_token": KeySpec(_STR, "session token of temporary credentials"),
}

#: What a nested executor inherits from the client's section: everything but credentials.
_NESTED_KEYS = frozenset(LAMBDA_KEYS) - {"access_key_id", "secret_access_key", "session_token"}


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
    #: US dollars per GB-second of billed duration for this architecture, and per request
    price_per_gb_s: float = DEFAULT_PRICE_PER_GB_S["x86_64"]
    price_per_request: float = DEFAULT_PRICE_PER_REQUEST
    #: the merged section (with the aws section's keys as defaults), for boto3
    boto: dict[str, Any] = field(default_factory=dict)

    def nested_config(self, region: str | None) -> dict[str, Any]:
        """The config a call's own executor gets (nested): this backend and section, and
        never a credential: inside the function boto3 uses its execution role."""
        section = {k: v for k, v in self.boto.items() if k in _NESTED_KEYS}
        shared = {"region": region} if region else {}
        return {"lithops": {"backend": "aws_lambda"}, "aws": shared, "aws_lambda": section}

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
            price_per_gb_s=_price_per_gb_s(section.get("price_per_gb_s"), architecture),
            price_per_request=_price(
                "price_per_request", section.get("price_per_request"), DEFAULT_PRICE_PER_REQUEST
            ),
            boto=merged,
        )


def _price(key: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(
            f"'{key}' in the aws_lambda section must be a price in US dollars (a number, 0 or "
            f"more), not {value!r}"
        )
    return float(value)


def _price_per_gb_s(value: Any, architecture: str) -> float:
    default = DEFAULT_PRICE_PER_GB_S[architecture]
    if isinstance(value, Mapping):
        unknown = set(value) - set(_ARCHITECTURES)
        if unknown:
            raise ConfigError(
                f"'price_per_gb_s' in the aws_lambda section has prices for {sorted(unknown)}; "
                f"the architectures are {', '.join(_ARCHITECTURES)}"
            )
        return _price("price_per_gb_s", value.get(architecture), default)
    return _price("price_per_gb_s", value, default)
