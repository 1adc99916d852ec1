"""Deploy steps every serverless backend repeats: the process's cache of checked functions,
waiting until a function is ready, and the metadata call that checks Python and wire version.

A backend deploys once per (runtime, memory, version) and process: :class:`DeployCache`
keeps what was deployed and checked under a key the backend chooses (endpoint, name, the
settings that would change the function), so a second executor invokes at once;
:func:`wait_ready` polls the platform with backoff until a function is ready or failed;
:func:`check_hello` reads the function's answer to ``{"t": "metadata"}`` and fails with what to
do when it is not a lithops worker this client can talk to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from lithops import wire
from lithops.errors import BackendUnavailableError, WireVersionError
from lithops.worker.serverless import from_json

__all__ = ["DeployCache", "check_hello", "wait_ready"]

R = TypeVar("R")
T = TypeVar("T")


class DeployCache(Generic[R]):
    """Functions this process deployed and checked, by a key whose second item is the
    function's name (so :meth:`forget` finds every entry of a deleted function)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, ...], R] = {}
        self._lock = threading.Lock()

    def get_or_deploy(self, key: tuple[str, ...], deploy: Callable[[], R]) -> R:
        """The runtime under ``key``, deploying it (once, under the cache's lock) if missing."""
        with self._lock:
            known = self._known.get(key)
            if known is None:
                known = self._known[key] = deploy()
            return known

    def forget(self, name: str, where: str | None = None) -> None:
        """Drop the function ``name`` (of endpoint ``where``, when given) after it was
        deleted or changed."""
        with self._lock:
            for key in [k for k in self._known if k[1] == name and where in (None, k[0])]:
                del self._known[key]

    def clear(self) -> None:
        """Forget everything (a new client process, as tests see it)."""
        with self._lock:
            self._known.clear()


def wait_ready(
    current: T,
    refresh: Callable[[], T],
    state: Callable[[T], tuple[bool, str | None]],
    *,
    what: str,
    timeout_s: float,
    hint: str,
) -> T:
    """``current`` or a refreshed description of it, once ready.

    :param refresh: describes the function again (one platform call).
    :param state: ``(ready, failure)`` of a description; ``failure`` is the platform's reason
        when the deploy failed.
    :param what: names the function ("Lambda function x").
    :param hint: how to delete it, for the failure message.
    :raises BackendUnavailableError: it failed, or is not ready within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        ready, failure = state(current)
        if ready:
            return current
        if failure is not None:
            raise BackendUnavailableError(
                f"{what} failed to deploy ({failure}); delete it ({hint}) and try again"
            )
        if time.monotonic() > deadline:
            raise BackendUnavailableError(f"{what} is still not ready after {timeout_s:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
        current = refresh()


def check_hello(answer: Any, failed: bool, *, what: str, detail: str, hint: str) -> dict[str, Any]:
    """The function's wire hello from its answer to the metadata event.

    :param answer: the answer's decoded JSON (``None`` when it was not JSON).
    :param failed: the platform reported the invocation as failed.
    :param detail: what it answered, for the message.
    :param hint: how to delete the function (so that it is deployed again).
    :raises BackendUnavailableError: the answer is not a lithops hello.
    :raises WireVersionError: its Python or wire version cannot serve this client.
    """
    try:
        hello = from_json(answer) if answer is not None else None
    except ValueError:
        hello = None
    if failed or not isinstance(hello, dict):
        raise BackendUnavailableError(
            f"{what} did not answer the lithops metadata call ({detail}); delete it ({hint}) "
            f"so that it is deployed again"
        )
    try:
        wire.check_hello(hello, what)
    except WireVersionError as exc:
        raise WireVersionError(
            f"{exc}. Delete the function ({hint}) so that it is deployed again"
        ) from None
    return hello
