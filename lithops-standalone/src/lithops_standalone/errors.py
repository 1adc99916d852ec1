"""Errors of standalone mode; each says what happened on which host and how to fix it."""

from __future__ import annotations

from lithops.errors import BackendUnavailableError

__all__ = [
    "BootstrapError",
    "HostKeyChangedError",
    "HostUnreachableError",
    "PythonVersionMismatchError",
]


class HostUnreachableError(BackendUnavailableError):
    """A host did not answer over SSH (or refused the login) within ``start_timeout``."""


class HostKeyChangedError(BackendUnavailableError):
    """A host presented a different SSH host key than the one recorded on first use."""


class PythonVersionMismatchError(BackendUnavailableError):
    """The host's ``python3`` is not the client's Python minor version (pickles would break)."""


class BootstrapError(BackendUnavailableError):
    """Installing lithops on a host or starting its agent failed."""
