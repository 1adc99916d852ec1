"""Credentials and project from Lithops' ``gcp`` section, one rule for every service.

* ``credentials_path`` (a service account key file, or any credentials file google-auth
  reads) when given;
* else, when the service's endpoint is overridden (``api_endpoint``, or
  ``STORAGE_EMULATOR_HOST`` for Cloud Storage): anonymous credentials, said in the log. That is
  what emulators and local fakes take, and it keeps google-auth from probing the metadata
  server of a machine that is not on Google Cloud;
* else Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
  application-default login``, or the platform identity on Google Cloud).

The project is ``project_name``, else the credentials' own project, else
``GOOGLE_CLOUD_PROJECT``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lithops.errors import ConfigError

__all__ = ["CLOUD_PLATFORM", "GcpIdentity", "identity"]

logger = logging.getLogger(__name__)

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


@dataclass(frozen=True)
class GcpIdentity:
    """Who a client acts as: credentials, the project, and how they were found."""

    credentials: Any
    project: str | None
    #: ``credentials_path``, ``anonymous`` or ``adc``
    source: str
    credentials_path: str = ""

    @property
    def anonymous(self) -> bool:
        return self.source == "anonymous"


def identity(settings: Mapping[str, Any], service: str, endpoint: str | None) -> GcpIdentity:
    """The identity for ``service`` (a name for messages) configured by ``settings``.

    :param settings: the service's section merged over the ``gcp`` section.
    :param endpoint: the overridden endpoint of the service, or ``None`` for Google's.
    :raises ConfigError: a credentials file that cannot be read, or no credentials at all.
    """
    import google.auth
    import google.auth.credentials
    import google.auth.exceptions

    project = str(settings.get("project_name") or "") or None
    path = str(settings.get("credentials_path") or "")
    if path:
        path = os.path.expanduser(path)
        try:
            credentials, found = _load_file(path)
        except (OSError, ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise ConfigError(
                f"cannot read the Google credentials file {path} (credentials_path in the gcp "
                f"section): {exc}. Point it at a service account key file (JSON)"
            ) from exc
        return GcpIdentity(
            credentials, project or found or _env_project(), "credentials_path", path
        )
    if endpoint:
        logger.info(
            "%s: endpoint %s is overridden and no credentials_path is set: using anonymous "
            "credentials",
            service,
            endpoint,
        )
        return GcpIdentity(
            google.auth.credentials.AnonymousCredentials(),
            project or _env_project(),
            "anonymous",
        )
    try:
        credentials, found = google.auth.default(scopes=[CLOUD_PLATFORM])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise ConfigError(
            f"{service}: no Google credentials found ({exc}). Set credentials_path in the gcp "
            f"section to a service account key file, or run `gcloud auth application-default "
            f"login`"
        ) from exc
    return GcpIdentity(credentials, project or found or _env_project(), "adc")


def _load_file(path: str) -> tuple[Any, str | None]:
    """Service account keys and ``gcloud auth application-default login`` files."""
    import json

    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        found = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
        return found, info.get("project_id")
    if kind == "authorized_user":
        user = user_credentials.Credentials.from_authorized_user_info(info, [CLOUD_PLATFORM])
        return user, info.get("quota_project_id")
    raise ValueError(f"credentials of type {kind!r} are not supported here")


def _env_project() -> str | None:
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCLOUD_PROJECT") or None
