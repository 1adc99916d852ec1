"""Starts the default environment's worker template as early as the client allows.

:func:`prestart` is this distribution's ``lithops.prestart`` entry point, called when the client
imports :mod:`lithops.executor` (see :mod:`lithops.plugins.prestart`); importing this module
(the plugin does, first) does the same where warm-ups are off. The template's interpreter
start and imports then overlap the client's own set-up, and by the first map it is ready to
fork (see :func:`lithops_localhost.forkserver.start_spare`). Starting it twice starts one.
"""

from __future__ import annotations

from lithops.errors import BackendUnavailableError
from lithops_localhost.launcher import default_launcher_kind

__all__ = ["prestart"]


def prestart() -> None:
    """Start the default environment's template now, unless workers start another way."""
    if default_launcher_kind() != "forkserver":
        return
    from lithops_localhost.forkserver import start_spare

    try:
        start_spare()
    except BackendUnavailableError:
        pass  # the first pool reports it


prestart()
