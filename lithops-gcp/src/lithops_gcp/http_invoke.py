"""Calling a deployed function over HTTPS with an ID token, retrying what the platform refuses.

The token: a service account's (``credentials_path``) or Application Default Credentials'
ID token for the function's URL, refreshed by google-auth before it expires; no token when
the credentials are anonymous (emulators and local fakes). Throttling (429) and "no instance
available" (503), as well as connections that could not be made, are retried with the core's
backoff (:func:`lithops.serverless.retry_with_backoff`); every other answer is the caller's
to judge.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from lithops.errors import ConfigError
from lithops.serverless import Retry, retry_with_backoff
from lithops_gcp.auth import GcpIdentity

__all__ = ["RETRY_ADVICE", "RETRY_STATUSES", "FunctionCaller", "invoke_session"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
RETRY_ADVICE = (
    "raise the function's instance quota or lower max_workers in the gcp_functions section"
)


def invoke_session(ident: GcpIdentity, audience: str, pool: int) -> requests.Session:
    """A session whose requests carry an ID token for ``audience`` (the function's URL)."""
    if ident.anonymous:
        logger.info("invoking %s without an ID token (anonymous credentials)", audience)
        session = requests.Session()
    else:
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(_id_token_credentials(ident, audience))
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool + 4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _id_token_credentials(ident: GcpIdentity, audience: str) -> Any:
    import google.auth.exceptions
    import google.auth.transport.requests
    from google.oauth2 import id_token, service_account

    if ident.source == "credentials_path" and isinstance(
        ident.credentials, service_account.Credentials
    ):
        return service_account.IDTokenCredentials.from_service_account_file(
            ident.credentials_path, target_audience=audience
        )
    try:
        return id_token.fetch_id_token_credentials(
            audience, request=google.auth.transport.requests.Request()
        )
    except google.auth.exceptions.GoogleAuthError as exc:
        raise ConfigError(
            f"cannot get an ID token to invoke {audience}: {exc}. Invoking a function needs a "
            f"service account: set credentials_path in the gcp section to its key file"
        ) from exc


class FunctionCaller:
    """POSTs JSON events to one function's URL."""

    def __init__(self, session: requests.Session, uri: str, timeout: float) -> None:
        self.session = session
        self.uri = uri
        self.timeout = timeout

    def post_once(self, body: str, timeout: float | None = None) -> requests.Response:
        """The function's answer to ``body``, asked once.

        :param timeout: seconds to wait for the answer (default: the function's timeout and
            a margin).
        :raises Retry: throttled (429), no instance available (503), or no connection.
        :raises requests.Timeout: no answer within ``timeout``.
        """
        try:
            response = self.session.post(
                self.uri,
                data=body.encode(),
                headers={"Content-Type": "application/json"},
                timeout=(10, timeout or self.timeout),
            )
        except requests.ConnectionError as exc:
            raise Retry(type(exc).__name__) from exc
        if response.status_code in RETRY_STATUSES:
            raise Retry(f"HTTP {response.status_code}")
        return response

    def post(self, body: str, what: str, timeout: float | None = None) -> requests.Response:
        """:meth:`post_once`, retried with backoff while the platform refuses.

        :raises BackendUnavailableError: refused for longer than the core's retry window.
        """
        return retry_with_backoff(
            lambda: self.post_once(body, timeout),
            what=f"{what} ({self.uri})",
            advice=RETRY_ADVICE,
        )
