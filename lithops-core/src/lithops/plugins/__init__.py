"""Writing a lithops backend: one small distribution with one plugin module.

Declare the module under the ``lithops`` entry-point group in your ``pyproject.toml``::

    [project.entry-points.lithops]
    mybackend = "lithops_mybackend.plugin"

and implement the hooks of :mod:`lithops.plugins.hookspecs` in it::

    from lithops.plugins import hookimpl
    from lithops.plugins.types import BackendInfo, BackendKind

    @hookimpl
    def lithops_register_backends(register):
        register(BackendInfo(name="mybackend", kind=BackendKind.COMPUTE, mode="serverless"))

    @hookimpl
    def lithops_provision(request):
        if request.backend != "mybackend":
            return None          # not ours: let the right plugin answer
        return MyHandle(request)

Dispatch hooks return ``None`` for backends that are not theirs. Check your backend with the
contract suite: ``pytest_plugins = ["lithops.testing"]`` and subclass
:class:`lithops.testing.BackendContract`. ``LITHOPS_DISABLE_PLUGINS=name,dist`` blocks plugins.
"""

from __future__ import annotations

import pluggy

__all__ = ["hookimpl"]

#: Marks a function of a plugin module as a lithops hook implementation.
hookimpl = pluggy.HookimplMarker("lithops")
