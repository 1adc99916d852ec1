"""Retrying what a serverless platform refuses for now: throttling and transient failures.

A backend's one attempt raises :class:`Retry` naming why it may be tried again (a 429, a 503, a
connection that could not be made); :func:`retry_with_backoff` sleeps with exponential backoff
and jitter and tries again until :data:`RETRY_WINDOW_S` has passed, so a call is never dropped
because the platform was busy for a while.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from lithops.errors import BackendUnavailableError

__all__ = ["RETRY_WINDOW_S", "Retry", "retry_with_backoff"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How long throttling or transient failures are retried before the calls fail.
RETRY_WINDOW_S = 900.0
_FIRST_DELAY_S = 0.2
_MAX_DELAY_S = 10.0


class Retry(Exception):
    """Raised by one attempt that the platform refused for now; ``reason`` is logged and,
    when the window runs out, named in the error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def retry_with_backoff(
    attempt: Callable[[], T],
    *,
    what: str,
    advice: str,
    closed: threading.Event | None = None,
    window_s: float | None = None,
) -> T:
    """``attempt()``'s answer, trying again while it raises :class:`Retry`.

    :param what: names what is refused, for the log and the error ("Lambda function x").
    :param advice: the error's last sentence: which setting or quota to change.
    :param closed: set when the caller gave up (the handle was released): stop retrying.
    :param window_s: how long to keep trying (default :data:`RETRY_WINDOW_S`).
    :raises BackendUnavailableError: still refused after the window.
    :raises concurrent.futures.CancelledError: ``closed`` was set while retrying.
    """
    window = RETRY_WINDOW_S if window_s is None else window_s
    began = time.monotonic()
    delay = _FIRST_DELAY_S
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt()
        except Retry as exc:
            reason = exc.reason
        if closed is not None and closed.is_set():
            raise concurrent.futures.CancelledError("the executor was closed while retrying")
        waited = time.monotonic() - began
        if waited > window:
            raise BackendUnavailableError(
                f"{what} was refused for {waited:.0f} s ({reason}, {attempts} attempts); {advice}"
            )
        logger.debug("%s: %s, retry %d in %.2f s", what, reason, attempts, delay)
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, _MAX_DELAY_S)
