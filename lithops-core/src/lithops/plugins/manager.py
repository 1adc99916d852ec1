"""Loading plugins from entry points and answering "which backend is this?"."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from lithops.errors import BackendUnavailableError, PluginError, UnknownBackendError
from lithops.plugins import hookspecs
from lithops.plugins.discovery import find_entry_points
from lithops.plugins.types import (
    BackendHandle,
    BackendInfo,
    BackendKind,
    CallBatch,
    CallKey,
    ComputeHandle,
    JobUsage,
    LogLine,
    LogRequest,
    ProvisionRequest,
    RuntimeManager,
)

if TYPE_CHECKING:
    import click

    from lithops.storage.backend import StorageBackend
    from lithops.vm import VMProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "get_plugin_host",
    "plugin_host_loaded",
    "reset_plugin_host",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lithops"

#: Where users find the backends we know of, for "unknown backend" messages.
KNOWN_DISTRIBUTIONS = {
    "localhost": "lithops-localhost",
    "ssh": "lithops-standalone",
    "vm": "lithops-standalone",
    "aws_lambda": "lithops-aws",
    "aws_s3": "lithops-aws",
    "aws_ec2": "lithops-aws",
    "gcp_functions": "lithops-gcp",
    "gcp_storage": "lithops-gcp",
    "gcp_compute": "lithops-gcp",
}


class PluginHost:
    """The loaded plugins, the backends they registered, and the typed facade of every hook.

    Nothing outside this class calls ``pm.hook``: each hook has one method here with its real
    types, and the rule for a missing answer is written once, in :meth:`_answer`: a dispatch
    hook that no plugin answers (every implementation returned ``None``) raises
    :class:`~lithops.errors.BackendUnavailableError`, never a silent ``None``.
    Build it with :func:`get_plugin_host`; nothing is loaded at import time.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._hook = pm.hook
        self._wrapper_callers: dict[str, Any] = {}
        #: (kind, name) -> info; compute and storage may share a name (``localhost``)
        self.backends: dict[tuple[BackendKind, str], BackendInfo] = {}
        self.aliases: dict[tuple[BackendKind, str], str] = {}
        #: plugin name -> the error that stopped it from loading
        self.broken: dict[str, str] = {}
        #: (kind, name) -> why that backend name cannot be used (two distributions claim it)
        self.conflicts: dict[tuple[BackendKind, str], str] = {}

    # -- loading --------------------------------------------------------------------------

    def load_entry_points(self, entry_points: Iterable[Any]) -> None:
        """Load each entry point in isolation: one broken plugin is reported, not fatal."""
        blocked = _disabled_plugins()
        for ep in entry_points:
            dist = ep.dist.name if ep.dist is not None else "unknown"
            if ep.name in blocked or dist in blocked:
                logger.debug("plugin %s (%s) disabled by LITHOPS_DISABLE_PLUGINS", ep.name, dist)
                continue
            try:
                module = ep.load()
                self.register_module(module, name=ep.name, distribution=dist)
            except DuplicateBackendError as exc:
                self.conflicts[exc.key] = str(exc)
                self.broken[ep.name] = str(exc)
                logger.warning("%s", exc)
            except Exception as exc:
                self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "lithops plugin %r from %s failed to load and is skipped: %s: %s",
                    ep.name,
                    dist,
                    type(exc).__name__,
                    exc,
                )

    def register_module(self, module: ModuleType | Any, name: str, distribution: str) -> None:
        """Register one plugin object and collect the backends it announces."""
        if self._pm.is_registered(module) or self._pm.has_plugin(name):
            return
        self._pm.register(module, name=name)
        self._wrapper_callers.clear()
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self._pm.unregister(module)
            raise PluginError(
                f"plugin {name!r} from {distribution} implements a hook lithops does not define "
                f"({exc}); check the hook name's spelling against lithops.plugins.hookspecs"
            ) from exc

        def register(info: BackendInfo) -> None:
            self._add_backend(info, distribution)

        caller = self._pm.subset_hook_caller(
            "lithops_register_backends",
            remove_plugins=[p for p in self._pm.get_plugins() if p is not module],
        )
        try:
            caller(register=register)
        except Exception:
            self._pm.unregister(module)
            raise

    def _add_backend(self, info: BackendInfo, distribution: str) -> None:
        info = BackendInfo(**{**info.__dict__, "distribution": distribution})
        kind = BackendKind(info.kind)
        for name in (info.name, *info.aliases):
            owner = self.backends.get((kind, self.aliases.get((kind, name), name)))
            if owner is not None:
                raise DuplicateBackendError(
                    (kind, name),
                    f"{kind.value.replace('_', ' ')} backend name {name!r} is registered twice: "
                    f"by {owner.distribution} and by {distribution}; uninstall one of them, or "
                    f"block one with LITHOPS_DISABLE_PLUGINS={distribution}",
                )
        self.backends[(kind, info.name)] = info
        for alias in info.aliases:
            self.aliases[(kind, alias)] = info.name
        if (
            kind == BackendKind.VM_PROVIDER
            and (BackendKind.COMPUTE, info.name) not in self.backends
        ):
            # A VM provider is selected like a compute backend (``backend='aws_ec2'``): standalone
            # mode runs the calls on the provider's VMs.
            view = {**info.__dict__, "kind": BackendKind.COMPUTE, "mode": "standalone"}
            self._add_backend(BackendInfo(**view), distribution)

    # -- queries --------------------------------------------------------------------------

    def resolve(self, name: str, kind: BackendKind) -> BackendInfo:
        """The ``kind`` backend registered as ``name`` (or an alias), or an actionable error."""
        if (kind, name) in self.conflicts:
            raise PluginError(self.conflicts[(kind, name)])
        info = self.backends.get((kind, self.aliases.get((kind, name), name)))
        if info is not None:
            return info
        candidates = sorted(b.name for b in self.of_kind(kind))
        what = f"{kind.value.replace('_', ' ')} backend"
        dist = KNOWN_DISTRIBUTIONS.get(name)
        hint = (
            f"install it with `pip install {dist}`"
            if dist
            else "a third-party backend must be installed as a distribution with a "
            "'lithops' entry point"
        )
        broken = f" (plugins that failed to load: {', '.join(self.broken)})" if self.broken else ""
        raise UnknownBackendError(
            f"unknown {what} {name!r}. Installed: {', '.join(candidates) or 'none'}; {hint}{broken}"
        )

    def of_kind(self, kind: BackendKind) -> list[BackendInfo]:
        return [b for b in self.backends.values() if b.kind == kind]

    def find(self, name: str, kind: BackendKind) -> BackendInfo | None:
        """The ``kind`` backend registered as ``name`` (or an alias), or ``None``."""
        return self.backends.get((kind, self.aliases.get((kind, name), name)))

    # -- the hooks, typed (the facade) ----------------------------------------------------

    def provision(self, request: ProvisionRequest) -> ComputeHandle:
        """``lithops_provision``: a handle for ``request.backend``."""
        answer = self._hook.lithops_provision(request=request)
        return self._answer(answer, "lithops_provision", request.backend, BackendKind.COMPUTE)

    # A handle that is a ``BackendHandle`` is called directly: its method is the one
    # implementation of a hook call that keeps only the ``wrapper=True`` implementations
    # (:meth:`_wrappers`), so those (the core's invoke timing, a plugin's tracing) still run
    # around it and no plugin is asked whether the handle is its own. Other handles go
    # through the hooks.

    def _wrappers(self, name: str) -> Any:
        """A caller of hook ``name`` with only its wrapper implementations (cached)."""
        caller = self._wrapper_callers.get(name)
        if caller is None:
            hook = getattr(self._hook, name)
            plain = [
                impl.plugin
                for impl in hook.get_hookimpls()
                if not (impl.wrapper or impl.hookwrapper)
            ]
            caller = self._wrapper_callers[name] = self._pm.subset_hook_caller(name, plain)
        return caller

    def invoke(self, handle: ComputeHandle, batch: CallBatch) -> None:
        """``lithops_invoke``: hand ``batch`` to the backend behind ``handle``."""
        if isinstance(handle, BackendHandle):
            hook = self._wrappers("lithops_invoke")

            def direct(handle: BackendHandle, batch: CallBatch) -> bool:
                handle.invoke(batch)
                return True

            answer = hook.call_extra([direct], {"handle": handle, "batch": batch})
        else:
            answer = self._hook.lithops_invoke(handle=handle, batch=batch)
        self._answer(answer, "lithops_invoke", _handle_backend(handle), BackendKind.COMPUTE)

    def cancel(self, handle: ComputeHandle, keys: list[CallKey]) -> None:
        """``lithops_cancel``: stop these calls on the backend behind ``handle``."""
        if isinstance(handle, BackendHandle):
            hook = self._wrappers("lithops_cancel")

            def direct(handle: BackendHandle, keys: list[CallKey]) -> bool:
                handle.cancel(keys)
                return True

            answer = hook.call_extra([direct], {"handle": handle, "keys": keys})
        else:
            answer = self._hook.lithops_cancel(handle=handle, keys=keys)
        self._answer(answer, "lithops_cancel", _handle_backend(handle), BackendKind.COMPUTE)

    def release(self, handle: ComputeHandle, dismantle: bool = False) -> None:
        """``lithops_release``: the executor is done with ``handle``."""
        if isinstance(handle, BackendHandle):
            hook = self._wrappers("lithops_release")

            def direct(handle: BackendHandle, dismantle: bool) -> bool:
                handle.release(dismantle)
                return True

            answer = hook.call_extra([direct], {"handle": handle, "dismantle": dismantle})
        else:
            answer = self._hook.lithops_release(handle=handle, dismantle=dismantle)
        self._answer(answer, "lithops_release", _handle_backend(handle), BackendKind.COMPUTE)

    @staticmethod
    def cost(handle: ComputeHandle | None, usage: JobUsage) -> float | None:
        """What one job cost on the backend behind ``handle`` (``job_summary``), in US
        dollars: ``handle.cost(usage)``, or an old-style handle's Lithops-era
        ``calc_cost(runtimes_s, memory_mb)``; ``None`` when the handle cannot tell (unknown,
        not zero)."""
        cost = getattr(handle, "cost", None)
        if callable(cost):
            value = cost(usage)
        else:
            calc = getattr(handle, "calc_cost", None)
            if not callable(calc):
                return None
            times = list(usage.exec_times_s)
            value = calc(times, [usage.memory_mb] * len(times))
        return None if value is None else float(value)

    def stream_logs(self, request: LogRequest) -> Iterator[LogLine]:
        """``lithops_stream_logs``: the lines functions printed (live with ``follow``)."""
        answer = self._hook.lithops_stream_logs(request=request)
        return self._answer(answer, "lithops_stream_logs", request.backend, BackendKind.COMPUTE)

    def storage_backend(self, name: str, config: Mapping[str, Any]) -> StorageBackend:
        """``lithops_storage_backend``: the storage backend ``name``, created from ``config``."""
        answer = self._hook.lithops_storage_backend(name=name, config=config)
        return self._answer(answer, "lithops_storage_backend", name, BackendKind.STORAGE)

    def vm_provider(self, name: str, config: Mapping[str, Any]) -> VMProvider:
        """``lithops_vm_provider``: the VM provider ``name``, created from ``config``."""
        answer = self._hook.lithops_vm_provider(name=name, config=config)
        return self._answer(answer, "lithops_vm_provider", name, BackendKind.VM_PROVIDER)

    def runtime_manager(self, backend: str, config: Mapping[str, Any]) -> RuntimeManager | None:
        """``lithops_runtime_manager``: the runtimes of compute backend ``backend``.

        ``None`` is an answer here, not a failure: that backend has no runtimes to manage
        (``lithops clean`` still cleans what the core left; ``lithops runtime`` says so).
        """
        manager: RuntimeManager | None = self._hook.lithops_runtime_manager(
            backend=backend, config=config
        )
        return manager

    def cli_commands(
        self, cli: click.Group, on_plugin: Callable[[str | None], None] | None = None
    ) -> list[str]:
        """``lithops_cli_commands``, one plugin at a time: a plugin whose hook raises is
        reported and the others still add their commands.

        :param on_plugin: told each plugin's name before it runs, and ``None`` after.
        :returns: the problems, one line per failed plugin.
        """
        problems = []
        for impl in self._hook.lithops_cli_commands.get_hookimpls():
            if on_plugin is not None:
                on_plugin(impl.plugin_name)
            try:
                impl.function(cli=cli)
            except Exception as exc:
                problems.append(
                    f"plugin {impl.plugin_name!r} failed to add its commands: "
                    f"{type(exc).__name__}: {exc}"
                )
            finally:
                if on_plugin is not None:
                    on_plugin(None)
        return problems

    def _answer(self, answer: Any, hook: str, name: str, kind: BackendKind) -> Any:
        """The one rule for dispatch hooks: no answer is an error that says what to fix."""
        if answer is not None:
            return answer
        info = self.find(name, kind)
        if info is None:
            raise BackendUnavailableError(
                f"no installed plugin answered {hook} for {kind.value.replace('_', ' ')} "
                f"backend {name!r}: it is not installed, or the object handed to it did not "
                f"come from its plugin. `lithops backends` lists what is installed"
            )
        raise BackendUnavailableError(
            f"the {name!r} backend registered by {info.distribution} did not answer {hook} "
            f"(every implementation returned None); reinstall {info.distribution} or report "
            f"this to its authors"
        )


class DuplicateBackendError(PluginError):
    """Two distributions register the same backend name."""

    def __init__(self, key: tuple[BackendKind, str], message: str) -> None:
        super().__init__(message)
        self.key = key


def _handle_backend(handle: Any) -> str:
    return str(getattr(handle, "backend", None) or type(handle).__name__)


def _disabled_plugins() -> set[str]:
    raw = os.environ.get("LITHOPS_DISABLE_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


_host: PluginHost | None = None
_host_lock = threading.Lock()


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("lithops")
    pm.add_hookspecs(hookspecs)
    return pm


def get_plugin_host() -> PluginHost:
    """The process-wide plugin host, loaded from entry points on first use.

    Only client-side code calls this; the worker runtime never does, so a worker cold start
    does not scan installed distributions.
    """
    global _host
    if _host is None:
        with _host_lock:
            if _host is None:
                host = PluginHost(new_plugin_manager())
                # The core's built-ins come through the same entry-point path as any plugin.
                host.load_entry_points(find_entry_points(ENTRY_POINT_GROUP))
                _host = host
    return _host


def plugin_host_loaded() -> bool:
    """Whether this process built its plugin host (scanned entry points) already."""
    return _host is not None


def reset_plugin_host() -> None:
    """Forget loaded plugins (tests, or after installing a distribution in-process)."""
    global _host
    with _host_lock:
        _host = None
