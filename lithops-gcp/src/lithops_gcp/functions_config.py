"""The ``gcp_functions`` config section, with defaults filled in and the ``gcp`` section merged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lithops.errors import ConfigError
from lithops_gcp.keys import (
    DEFAULT_PRICE_PER_GB_S,
    DEFAULT_PRICE_PER_GHZ_S,
    DEFAULT_PRICE_PER_REQUEST,
    MEMORY_TIERS_MB,
)

__all__ = ["DEFAULT_REGION", "GcfSettings"]

DEFAULT_REGION = "us-east1"
SECTION = "gcp_functions"


def _int(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"'{key}' in the {SECTION} section must be a whole number of 1 or more")
    return value


def _price(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"'{key}' in the {SECTION} section must be a price in US dollars")
    return float(value)


def _runtime(section: Mapping[str, Any]) -> str:
    """The configured runtime: ``""`` for the default one, else the name of a built one."""
    from lithops.serverless.builds import check_runtime_name
    from lithops.serverless.runtimes import DEFAULT_RUNTIME

    name = str(section.get("runtime") or "")
    if name in ("", DEFAULT_RUNTIME):
        return ""
    return check_runtime_name(name, SECTION)


@dataclass(frozen=True)
class GcfSettings:
    """The ``gcp_functions`` section, checked, with defaults filled in."""

    project: str
    region: str
    #: ``""``: the default runtime (the client's own code); else a runtime built with
    #: ``lithops runtime build``
    runtime: str
    memory: int
    timeout: int
    max_workers: int
    worker_processes: int
    pool_threads: int
    api_endpoint: str
    service_account: str
    env_vars: dict[str, str]
    labels: dict[str, str]
    namespace: str
    payload_limit: int
    price_per_gb_s: float = DEFAULT_PRICE_PER_GB_S
    price_per_ghz_s: float = DEFAULT_PRICE_PER_GHZ_S
    price_per_request: float = DEFAULT_PRICE_PER_REQUEST
    #: the merged section (with the gcp section's keys as defaults), for credentials
    merged: dict[str, Any] = field(default_factory=dict)

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], memory: int | None, project: str | None
    ) -> GcfSettings:
        shared = dict(config.get("gcp") or {})
        section = dict(config.get(SECTION) or {})
        merged = {**shared, **section}
        memory = memory or _int(section, "runtime_memory", 256)
        if memory not in MEMORY_TIERS_MB:
            raise ConfigError(
                f"runtime_memory {memory} is not a Cloud Functions memory size: use one of "
                f"{', '.join(map(str, MEMORY_TIERS_MB))} (MB)"
            )
        if not project:
            raise ConfigError(
                "gcp_functions needs a project: set project_name in the gcp section (or use "
                "credentials whose file names one, or GOOGLE_CLOUD_PROJECT)"
            )
        max_workers = _int(section, "max_workers", 1000)
        return cls(
            project=project,
            region=str(merged.get("region") or DEFAULT_REGION),
            runtime=_runtime(section),
            memory=memory,
            timeout=int(section.get("runtime_timeout") or 300),
            max_workers=max_workers,
            worker_processes=_int(section, "worker_processes", 1),
            pool_threads=_int(section, "invoke_pool_threads", min(max_workers, 128)),
            api_endpoint=str(section.get("api_endpoint") or "").rstrip("/"),
            service_account=str(section.get("service_account") or ""),
            env_vars={str(k): str(v) for k, v in (section.get("env_vars") or {}).items()},
            labels={str(k): str(v) for k, v in (section.get("labels") or {}).items()},
            namespace=str(section.get("namespace") or ""),
            payload_limit=_int(section, "payload_limit", 31_000_000),
            price_per_gb_s=_price(section, "price_per_gb_s", DEFAULT_PRICE_PER_GB_S),
            price_per_ghz_s=_price(section, "price_per_ghz_s", DEFAULT_PRICE_PER_GHZ_S),
            price_per_request=_price(section, "price_per_request", DEFAULT_PRICE_PER_REQUEST),
            merged=merged,
        )
