"""boto3 sessions and clients from Lithops' config sections, one rule for every service.

Credentials: ``access_key_id``/``secret_access_key``/``session_token`` of the ``aws`` section
(or the service's own section) when given, else boto3's own chain (environment, shared
files, instance or execution role). Region: the service section's ``region``, else the
``aws`` section's, else boto3's default (``AWS_DEFAULT_REGION``...), else ``us-east-1``.
Endpoint: the section's ``endpoint`` when given, else boto3's standard configuration
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``), else AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import botocore.config

__all__ = [
    "CREDENTIAL_KEYS",
    "DEFAULT_REGION",
    "PROVIDER_KEYS",
    "make_client",
    "make_session",
    "region_of",
]

DEFAULT_REGION = "us-east-1"
CREDENTIAL_KEYS = ("access_key_id", "secret_access_key", "session_token")
#: The keys of Lithops' ``aws`` section.
PROVIDER_KEYS: Mapping[str, str] = {
    "region": "AWS region (default: boto3's, else us-east-1)",
    "access_key_id": "access key (default: boto3's credential chain)",
    "secret_access_key": "secret of the access key",
    "session_token": "session token of temporary credentials",
    "account_id": "accepted for compatibility with Lithops; found with STS when needed",
}


def make_session(settings: Mapping[str, Any]) -> boto3.Session:
    """A session with the credentials and region of ``settings`` (a merged config section)."""
    session = boto3.Session(
        aws_access_key_id=settings.get("access_key_id") or None,
        aws_secret_access_key=settings.get("secret_access_key") or None,
        aws_session_token=settings.get("session_token") or None,
        region_name=settings.get("region") or None,
    )
    return session


def region_of(session: boto3.Session) -> str:
    return session.region_name or DEFAULT_REGION


def make_client(
    session: boto3.Session,
    service: str,
    settings: Mapping[str, Any],
    **config: Any,
) -> Any:
    """A ``service`` client; ``config`` goes to ``botocore.config.Config``."""
    return session.client(
        service,
        region_name=region_of(session),
        endpoint_url=settings.get("endpoint") or None,
        config=botocore.config.Config(**config),
    )
