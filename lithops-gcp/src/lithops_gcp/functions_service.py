"""The client side of ``gcp_functions``: the admin API client, the identity, the callers.

One place builds what deploying, invoking, listing and deleting functions need from the
config, so the provision hook and runtime management agree on names and credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.cloud import functions_v2

from lithops_gcp.auth import GcpIdentity, identity
from lithops_gcp.functions_config import SECTION, GcfSettings
from lithops_gcp.functions_deploy import (
    FunctionSource,
    GcfRuntime,
    default_source,
    deploy,
    list_runtimes,
)
from lithops_gcp.http_invoke import FunctionCaller, invoke_session

__all__ = ["FunctionsService", "connect"]

#: seconds an answer may take beyond the function's own timeout
_READ_MARGIN_S = 30


@dataclass
class FunctionsService:
    settings: GcfSettings
    identity: GcpIdentity
    client: functions_v2.FunctionServiceClient
    #: the whole lithops config (a built runtime is read from its storage)
    config: Mapping[str, Any] = field(default_factory=dict)

    def caller(self, uri: str) -> FunctionCaller:
        pool = min(self.settings.pool_threads, self.settings.max_workers)
        session = invoke_session(self.identity, uri, pool)
        return FunctionCaller(session, uri, self.settings.timeout + _READ_MARGIN_S)

    def source(self) -> FunctionSource:
        """What the configured runtime's functions are deployed from."""
        if not self.settings.runtime:
            return default_source()
        from lithops_gcp.functions_build import built_source

        return built_source(self.config, self.settings.runtime)

    def deploy(self) -> GcfRuntime:
        return deploy(self.client, self.settings, self.caller, self.source)

    def list(self) -> list[functions_v2.Function]:
        return list_runtimes(self.client, self.settings)


def connect(config: Mapping[str, Any], memory: int | None = None) -> FunctionsService:
    """The service for the ``gcp_functions`` section of ``config`` (``gcp`` merged in)."""
    section = dict(config.get(SECTION) or {})
    merged = {**dict(config.get("gcp") or {}), **section}
    endpoint = str(section.get("api_endpoint") or "").rstrip("/") or None
    ident = identity(merged, SECTION, endpoint)
    settings = GcfSettings.from_config(config, memory, ident.project)
    client = functions_v2.FunctionServiceClient(
        transport="rest",
        credentials=ident.credentials,
        client_options={"api_endpoint": endpoint} if endpoint else None,
    )
    return FunctionsService(settings, ident, client, dict(config))
