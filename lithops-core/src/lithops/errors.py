"""Every error lithops raises on purpose, each with a message a user can act on."""

from __future__ import annotations

import concurrent.futures

__all__ = [
    "BackendUnavailableError",
    "CallTimeoutError",
    "ConfigError",
    "LithopsError",
    "PluginError",
    "RemoteTraceback",
    "SerializationError",
    "UnknownBackendError",
    "WireVersionError",
    "WorkerLostError",
]


class LithopsError(Exception):
    """Base class of lithops' own errors."""


class ConfigError(LithopsError, ValueError):
    """A config key or value is wrong; the message names the key and the valid choices."""


class PluginError(LithopsError):
    """A plugin is broken or conflicts with another one."""


class UnknownBackendError(LithopsError, ValueError):
    """The selected backend is not installed; the message lists installed ones."""


class BackendUnavailableError(LithopsError):
    """The backend cannot take work (engine down, host unreachable, image missing...)."""


class WireVersionError(LithopsError):
    """Client and worker speak incompatible wire-format versions."""


class CallError(LithopsError):
    """A call ended without a result from the user's function. Names the job and call."""

    def __init__(self, message: str, job_key: str = "", call_id: str = "") -> None:
        super().__init__(message)
        self.job_key = job_key
        self.call_id = call_id

    def __reduce__(self):  # keep the extra fields across pickling
        return (type(self), (self.args[0] if self.args else "", self.job_key, self.call_id))


class WorkerLostError(CallError):
    """The process or host running the call died (killed, OOM, crashed, disconnected)."""


class CallTimeoutError(CallError, concurrent.futures.TimeoutError):
    """The call ran past its ``timeout``/``execution_timeout`` and its worker was stopped.

    Distinct from a ``TimeoutError`` raised by the user's own code, which is re-raised as is.
    """


class SerializationError(CallError):
    """Something could not be pickled or unpickled: the function, an argument or a result."""


class RemoteTraceback(Exception):
    """Attached as ``__cause__`` of a re-raised remote exception: the worker's traceback."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return "\n" + self.tb
