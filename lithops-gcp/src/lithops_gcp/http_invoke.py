"""Calling a deployed function over HTTPS with an ID token, retrying what the platform refuses.

The token: a service account's (``credentials_path``) or Application Default Credentials'
ID token for the function's URL, refreshed by google-auth before it expires; no token when
the credentials are anonymous (emulators and local fakes). Throttling (429) and "no instance
available" (503), as well as connections that could not be made, are retried with backoff
and jitter until ``RETRY_WINDOW_S`` has passed; every other answer is the caller's to judge.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import requests

from lithops.errors import BackendUnavailableError, ConfigError
from lithops_gcp.auth import GcpIdentity

__all__ = ["RETRY_STATUSES", "RETRY_WINDOW_S", "FunctionCaller", "invoke_session"]

logger = logging.getLogger(__name__)

#: How long throttling or transient failures are retried before the calls fail.
RETRY_WINDOW_S = 900.0
RETRY_STATUSES = frozenset({429, 503})


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
        self.closed = threading.Event()

    def post(self, body: str, what: str, timeout: float | None = None) -> requests.Response:
        """The function's answer to ``body``: any status but the retried ones.

        :param timeout: seconds to wait for the answer (default: the function's timeout and
            a margin).
        :raises requests.Timeout: no answer within ``timeout``.
        :raises BackendUnavailableError: refused for longer than ``RETRY_WINDOW_S``.
        """
        began = time.monotonic()
        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.post(
                    self.uri,
                    data=body.encode(),
                    headers={"Content-Type": "application/json"},
                    timeout=(10, timeout or self.timeout),
                )
                if response.status_code not in RETRY_STATUSES:
                    return response
                reason = f"HTTP {response.status_code}"
            except requests.ConnectionError as exc:
                reason = type(exc).__name__
            if self.closed.is_set():
                import concurrent.futures

                raise concurrent.futures.CancelledError("the executor was closed while retrying")
            waited = time.monotonic() - began
            if waited > RETRY_WINDOW_S:
                raise BackendUnavailableError(
                    f"Cloud Functions kept refusing {self.uri} for {waited:.0f} s ({reason}, "
                    f"{attempt} attempts); raise the function's instance quota or lower "
                    f"max_workers in the gcp_functions section"
                )
            logger.debug("%s: %s, retry %d in %.2f s", what, reason, attempt, delay)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 10.0)
