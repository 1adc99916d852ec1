"""The lithops plugin contract: every hook a backend distribution may implement.

Hooks are grouped by lifecycle. Dispatch hooks are ``firstresult``: the core calls them for the
one backend the user selected and every implementation returns ``None`` for a backend (or handle)
that is not its own. Cross-cutting behaviour (timing, tracing, log capture around an invoke) is
written once as a ``wrapper=True`` implementation, never copied into each backend.

How the three kinds of compute backend fit:

* **localhost** -- provision starts (lazily) a warm pool of worker processes; invoke queues the
  batch for the pool, whose processes run :func:`lithops.worker.run_batch` and push results back
  over their pipes.
* **serverless** (``aws_lambda``, ``gcp_functions``) -- provision deploys (or finds) the function
  for the runtime; invoke calls it synchronously with the batch's wire message as the payload
  and pushes the records in the response to the sink. Only results too large for the response
  travel through storage.
* **standalone** (``ssh``/``vm``, EC2, GCE) -- provision bootstraps the hosts over SSH and starts
  one agent per host; invoke writes the batch to an agent's SSH channel; results and log lines
  stream back on the same channel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from lithops.plugins.types import (
        CallBatch,
        CallKey,
        ComputeHandle,
        LogLine,
        LogRequest,
        ProvisionRequest,
        RegisterBackend,
        RuntimeManager,
    )
    from lithops.storage.backend import StorageBackend
    from lithops.vm import VMProvider

# Private: plugins use the public ``lithops.plugins.hookimpl`` marker.
_hookspec = pluggy.HookspecMarker("lithops")

__all__: list[str] = []

# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


@_hookspec
def lithops_register_backends(register: RegisterBackend) -> None:
    """Announce the backends this plugin provides.

    Call ``register(BackendInfo(...))`` once per backend: its name, kind (compute / storage /
    VM provider), mode, capabilities and accepted config keys. The core fills in the
    distribution and rejects a name already registered by another distribution.

    :param register: the callback to call once per backend.
    :returns: nothing; the return value is ignored.
    """


# --------------------------------------------------------------------------------------------
# compute lifecycle: provision -> invoke* -> cancel? -> release
# --------------------------------------------------------------------------------------------


@_hookspec(firstresult=True)
def lithops_provision(request: ProvisionRequest) -> ComputeHandle | None:
    """Prepare compute for ``request.backend`` and return a handle to invoke on.

    Called once per executor, before the first invoke. Deploy the function (serverless),
    bootstrap the hosts and start their agents (standalone) or set up the worker pool
    (localhost). Results of every later invoke are pushed to ``request.events``.
    Stops at first non-None result.

    :param request: the backend name, config, runtime and the event sink.
    :returns: a :class:`~lithops.plugins.types.ComputeHandle`, or ``None`` when
        ``request.backend`` is not this plugin's backend. A
        :class:`~lithops.plugins.types.BackendHandle` is called directly (its ``invoke``,
        ``cancel``, ``release`` and ``cost`` methods): the three hooks below are then not
        asked about it, except their ``wrapper=True`` implementations, which run around it.
    """


@_hookspec(firstresult=True)
def lithops_invoke(handle: ComputeHandle, batch: CallBatch) -> bool | None:
    """Start the calls of ``batch`` on the compute behind ``handle``.

    For old-style handles (not a :class:`~lithops.plugins.types.BackendHandle`). Must not
    wait for the calls to finish: results arrive later through the event sink given
    at provision. Serverless: invoke the function with ``batch.message`` as the payload (from a
    thread) and push the records of the response. Standalone: write the message to an agent.
    Stops at first non-None result.

    :param handle: a handle returned by ``lithops_provision``.
    :param batch: the calls, with their encoded wire message.
    :returns: ``True`` once the batch is accepted, or ``None`` when ``handle`` is not this
        plugin's. Raise :class:`lithops.errors.BackendUnavailableError` when it cannot be.
    """


@_hookspec(firstresult=True)
def lithops_cancel(handle: ComputeHandle, keys: list[CallKey]) -> bool | None:
    """Stop these calls: drop them if queued, stop their worker if running.

    Each cancelled call must still end on the sink (``lost`` with a ``CancelledError``)
    unless its result raced ahead. Stops at first non-None result.

    :param handle: a handle returned by ``lithops_provision``.
    :param keys: the calls to stop.
    :returns: ``True`` when handled, ``None`` when ``handle`` is not this plugin's.
    """


@_hookspec(firstresult=True)
def lithops_release(handle: ComputeHandle, dismantle: bool) -> bool | None:
    """The executor is done with ``handle``: free what it holds.

    Stops at first non-None result.

    :param handle: a handle returned by ``lithops_provision``.
    :param dismantle: also tear down what provision created (stop VMs, delete deployed
        functions) rather than leaving it warm for the next executor.
    :returns: ``True`` when handled, ``None`` when ``handle`` is not this plugin's.
    """


# --------------------------------------------------------------------------------------------
# logs
# --------------------------------------------------------------------------------------------


@_hookspec(firstresult=True)
def lithops_stream_logs(request: LogRequest) -> Iterator[LogLine] | None:
    """Yield the lines functions printed, live when ``request.follow`` is true.

    The core implements this for every backend from the lines executors record locally; a
    backend overrides it to read logs where they live (e.g. agents on remote hosts).
    Stops at first non-None result.

    :param request: backend, config, optional job key, follow flag.
    :returns: an iterator of :class:`~lithops.plugins.types.LogLine`, or ``None`` to let
        another implementation answer.
    """


# --------------------------------------------------------------------------------------------
# storage and VM providers
# --------------------------------------------------------------------------------------------


@_hookspec(firstresult=True)
def lithops_storage_backend(name: str, config: Mapping[str, Any]) -> StorageBackend | None:
    """Create the storage backend ``name`` from its config section.

    Stops at first non-None result.

    :param name: the storage backend name (``localhost``, ``aws_s3``...).
    :param config: the backend's config section (``config[name]``), plus ``storage_bucket``;
        for a name ``<provider>_<service>`` the keys of a ``<provider>`` section (Lithops'
        ``aws:``, ``gcp:``) come first, as defaults the backend's own section overrides.
    :returns: a :class:`~lithops.storage.backend.StorageBackend`, or ``None`` when ``name``
        is not this plugin's.
    """


@_hookspec(firstresult=True)
def lithops_vm_provider(name: str, config: Mapping[str, Any]) -> VMProvider | None:
    """Create the VM provider ``name`` used by standalone ``create``/``reuse`` modes.

    A provider creates, starts, stops and deletes VMs and reports their SSH address
    (see :class:`lithops.vm.VMProvider`). Stops at first non-None result.

    :param name: the provider's backend name (``aws_ec2``, ``gcp_compute``).
    :param config: the provider's config section.
    :returns: a provider, or ``None`` when ``name`` is not this plugin's.
    """


# --------------------------------------------------------------------------------------------
# runtime management
# --------------------------------------------------------------------------------------------


@_hookspec(firstresult=True)
def lithops_runtime_manager(backend: str, config: Mapping[str, Any]) -> RuntimeManager | None:
    """The runtimes of compute backend ``backend``, for ``lithops runtime build|deploy|list|
    update|delete`` and ``lithops clean``.

    One object answers every command (see :class:`~lithops.plugins.types.RuntimeManager`),
    so a backend plugs into the core's commands instead of adding its own.
    Stops at first non-None result.

    :param backend: the compute backend selected (``-b`` or the config's).
    :param config: the full validated config; ``config[backend]`` is the backend's section.
    :returns: a runtime manager, or ``None`` when ``backend`` is not this plugin's (a backend
        no plugin answers for has no runtimes to manage: the commands say so).
    """


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


@_hookspec
def lithops_cli_commands(cli: click.Group) -> None:
    """Add commands or command groups to the ``lithops`` CLI.

    :param cli: the root ``lithops`` group; call ``cli.add_command(...)``.
    :returns: nothing; the return value is ignored.
    """
