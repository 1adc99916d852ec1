"""The data that crosses the plugin contract: backend descriptions, requests and handles."""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lithops import wire

__all__ = [
    "BackendHandle",
    "BackendInfo",
    "BackendKind",
    "CallBatch",
    "CallKey",
    "ComputeHandle",
    "EventSink",
    "FunctionTracker",
    "JobUsage",
    "KeySpec",
    "LogLine",
    "LogRequest",
    "ProvisionRequest",
    "RegisterBackend",
    "RuntimeInfo",
    "RuntimeManager",
]

#: ``(job_key, call_id)``: names one call everywhere (client, wire, worker, logs).
CallKey = tuple[str, str]


class BackendKind(str, enum.Enum):
    """What a registered backend provides."""

    #: runs calls; ``BackendInfo.mode`` says which execution mode (localhost/serverless/standalone)
    COMPUTE = "compute"
    #: stores objects (``lithops.Storage(backend=...)``)
    STORAGE = "storage"
    #: creates and stops VMs for standalone ``create``/``reuse`` modes
    VM_PROVIDER = "vm_provider"


@dataclass(frozen=True)
class KeySpec:
    """One config key: its type, default and allowed values (the core's and plugins' keys).

    :param types: accepted Python types of the value (``bool`` is never taken for ``int``).
    :param help: one line for error messages and docs.
    :param default: filled in when the key is missing (``None``: left missing).
    :param choices: the accepted values, when the value is one of a fixed set.
    :param check: extra check of a value of the right type, returning what is wrong with it
        (``"must be more than 0"``), or ``None`` when the value is fine.
    :param fold_case: compare a string value with ``choices`` ignoring case.
    :param unsupported: why this key cannot be honoured here. Such a key is still known (no
        "unknown key" error), but any value other than ``default`` (which is what lithops does
        anyway) is rejected with this reason, instead of being accepted and ignored.

    A plugin declares its section's keys with ``BackendInfo.config_keys``, mapping each key to a
    ``KeySpec`` (checked when the executor is created) or to a plain description (only the
    key's name is checked).
    """

    types: tuple[type, ...]
    help: str
    default: Any = None
    choices: tuple[Any, ...] = ()
    fold_case: bool = False
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    unsupported: str = ""


@dataclass(frozen=True)
class BackendInfo:
    """One backend announced by a plugin through ``lithops_register_backends``.

    :param name: the name users select (``backend='localhost'``, a ``localhost:`` config section).
    :param kind: compute, storage or VM provider.
    :param mode: for compute backends, ``localhost``, ``serverless`` or ``standalone``.
    :param capabilities: free-form flags the contract suite and the core read, e.g.
        ``"cancel"`` (running calls can be stopped), ``"timeout"`` (per-call timeouts enforced by
        stopping the worker), ``"docker"`` (runtime may name an image), ``"logs"`` (live log
        streaming), ``"worker_lost"`` (a dying worker is reported as ``WorkerLostError``),
        ``"running"`` (calls are reported through ``EventSink.running`` as they start, so the
        core holds the backend to ``ack_timeout``), ``"function_once"`` (the backend delivers a
        job's function to each worker once, from ``CallBatch.function``, so batch messages
        carry only its key; see :class:`FunctionTracker`).
    :param config_keys: the keys accepted in the backend's config section, each mapped to a
        :class:`KeySpec` (its value is checked when an executor is created) or to a short
        description (only the name is checked); an unknown key is an error that lists these.
    :param aliases: other names accepted for this backend (``vm`` for ``ssh``).
    :param ack_timeout: seconds within which the backend reports a call running (or
        finished) once it has room for it: when fewer than ``capacity`` of an executor's
        batches are under way, or the previous call of the same batch ended. Past it the core
        ends the call with ``WorkerLostError`` and asks the backend to cancel it. A backend
        that does not report running calls (no ``"running"`` capability, and never calls
        ``EventSink.running``) acknowledges with the result instead: it gets the call's
        ``timeout`` plus a grace.
    :param distribution: filled in by the core with the distribution that registered it.
    """

    name: str
    kind: BackendKind
    mode: str | None = None
    capabilities: frozenset[str] = frozenset()
    config_keys: Mapping[str, KeySpec | str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""
    ack_timeout: float = 60.0
    distribution: str = ""


#: The callback handed to ``lithops_register_backends``; a plugin calls it once per backend.
RegisterBackend = Callable[[BackendInfo], None]


class EventSink(Protocol):
    """Where a compute backend pushes what happens to the calls it accepted.

    Every call handed to ``lithops_invoke`` must end with exactly one of ``results``
    (the worker runtime's result record, success or user exception), ``lost`` (the backend knows
    the call cannot finish: worker died, call timed out, platform refused) or ``requeue`` (the
    call never started and may be given to another worker). The core enforces deadlines on top,
    so a backend that forgets a call cannot hang a user, but it should never rely on that.
    """

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        """Finished calls: result records produced by :func:`lithops.worker.run_batch`."""

    def running(self, key: CallKey, since: float, where: str) -> None:
        """A call started (``where`` names the worker, e.g. ``host:pid``). Optional."""

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        """These calls ended without a result; ``error`` is the exception their futures get."""

    def requeue(self, keys: Sequence[CallKey]) -> None:
        """These calls were accepted but never started; the core dispatches them again."""

    def log(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        """Output lines printed by a running call, as ``(timestamp, text)``."""


@dataclass
class ProvisionRequest:
    """What the core asks a compute backend to prepare before the first invoke.

    :param backend: the selected backend name (a plugin answers only for its own).
    :param config: the full validated config; ``config[backend]`` is the backend's section.
    :param runtime: the runtime name (a python path, a Docker image, a function name...).
    :param runtime_memory: memory per worker in MB, when the user set one.
    :param events: where results and events for calls of this handle are pushed.
    """

    backend: str
    config: dict[str, Any]
    runtime: str | None
    runtime_memory: int | None
    events: EventSink


class ComputeHandle(Protocol):
    """What ``lithops_provision`` returns: a ready-to-invoke backend instance.

    ``capacity`` is how many calls it can run at once right now (worker processes, VM slots,
    concurrent invocations); the scheduler sizes batches from it.
    """

    backend: str
    capacity: int

    def cost(self, usage: JobUsage) -> float | None:
        """The price of one job in US dollars, for ``fexec.job_summary()``.

        ``0.0`` when it is free, ``None`` when unknown (the summary's cell stays empty). A
        serverless backend prices what it was billed for the job's invocations (kept per
        ``usage.job_key``), a VM backend instance hours. Optional: the summary checks for
        it (and for Lithops' older ``calc_cost(runtimes, memory)``), so a handle without it
        works and shows no cost.
        """


@dataclass(frozen=True)
class JobUsage:
    """What a job used, as handed to a compute handle's ``cost(usage)`` method.

    ``cost`` returns the job's price in US dollars (``0.0`` when free, ``None`` when unknown);
    a serverless backend prices what it was billed for the job's invocations (it keeps that
    per ``job_key``), a VM backend instance hours.

    :param job_key: ``"<executor_id>/<job_id>"``.
    :param calls: calls of the job.
    :param exec_times_s: execution time of each finished call, as the worker measured it.
    :param memory_mb: memory per worker in MB, when known.
    """

    job_key: str
    calls: int
    exec_times_s: tuple[float, ...]
    memory_mb: int | None


class BackendHandle:
    """Base class of a handle object: the core calls its methods directly.

    ``lithops_provision`` may return an instance of a subclass; the core then calls these
    methods (through :class:`~lithops.plugins.manager.PluginHost`, which still runs the
    ``wrapper=True`` implementations of ``lithops_invoke``/``lithops_cancel``/``lithops_release``
    around them) and never asks the plugins' hooks "is this handle mine?". Any other object is
    an old-style handle, dispatched through those hooks as before.
    """

    #: the backend name this handle belongs to
    backend: str = ""
    #: how many calls it can run at once right now (the scheduler sizes batches from it)
    capacity: int = 1

    def invoke(self, batch: CallBatch) -> None:
        """Take ``batch``; push what happens to its calls to the provision request's events."""
        raise NotImplementedError

    def cancel(self, keys: list[CallKey]) -> None:
        """Stop these calls if they run; drop them if they wait. Default: nothing to stop."""

    def release(self, dismantle: bool) -> None:
        """The executor is done; with ``dismantle``, remove what provision created too."""

    def cost(self, usage: JobUsage) -> float | None:
        """The price of one job in US dollars, for ``fexec.job_summary()``: ``0.0`` when it
        is free, ``None`` (the default) when unknown (the summary's cell stays empty)."""
        return None


@dataclass
class CallBatch:
    """A batch of calls of one job, as handed to ``lithops_invoke``.

    :param job_key: ``"<executor_id>/<job_id>"``.
    :param calls: the call keys, in order.
    :param message: the encoded wire message (:func:`lithops.wire.encode`) holding the
        function's key (and the function itself, unless ``function`` is set), the wire version,
        the serialized arguments, timeouts and environment. Backends forward it untouched to
        :func:`lithops.worker.run_batch` on the worker side.
    :param timeout: per-call execution timeout in seconds (the backend stops the worker).
    :param func_key: names the job's function (a content digest): workers cache it by this key.
    :param extra: stamps the core and wrapper hooks add (``host_submit_tstamp``...).
    :param runtime_memory: memory in MB the job asked for (``map(runtime_memory=)``), else
        ``None`` (the backend's configured default).
    :param function: for backends with the ``"function_once"`` capability, the pickled
        function, which ``message`` then does not carry: deliver it to a worker that does not
        have ``func_key`` yet (:meth:`function_message`, :class:`FunctionTracker`). ``None`` for
        other backends: the message carries the function.
    """

    job_key: str
    calls: list[CallKey]
    message: bytes
    timeout: float | None
    func_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    runtime_memory: int | None = None
    function: bytes | None = None

    def function_message(self) -> bytes:
        """The encoded ``function`` wire message that gives a worker this job's function;
        write it to a worker's stream before the first batch of the job that worker runs."""
        if self.function is None:
            raise ValueError(f"batch of {self.job_key} carries its function in its message")
        return wire.function_message(self.func_key, self.function)

    def message_with_function(self) -> bytes:
        """``message`` with the function put back in (for a worker reached by one message)."""
        if self.function is None:
            return self.message
        message = wire.decode(self.message)
        message["func"] = self.function
        return wire.encode(message)


class FunctionTracker:
    """Which job functions one worker has, on the backend's side of a stream.

    Mirrors the worker's :class:`~lithops.worker.runtime.FunctionCache` (same size, same
    least-recently-used order, both updated in the order batches are written), so a backend
    sends each function once per worker and again only after the worker dropped it.
    """

    def __init__(self, size: int = wire.FUNCTION_CACHE_SIZE) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def needs(self, batch: CallBatch) -> bool:
        """Whether ``batch``'s function must go to the worker before it; call once per batch
        written to that worker, in order (it records the use)."""
        key = batch.func_key
        if batch.function is None or not key:
            return False
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True


@dataclass(frozen=True)
class LogLine:
    """One line a function printed."""

    tstamp: float
    job_key: str
    call_id: str
    text: str
    where: str = ""


@dataclass
class LogRequest:
    """What ``lithops logs poll|get`` asks a backend for.

    :param backend: the selected backend name.
    :param config: the full config.
    :param job_key: only lines of this job, or every job when ``None``.
    :param follow: keep streaming new lines (``poll``) instead of returning what exists (``get``).
    :param stop: set when the caller wants the stream to end (Ctrl-C, test teardown).
    """

    backend: str
    config: dict[str, Any]
    job_key: str | None = None
    follow: bool = True
    stop: Any = None


# --------------------------------------------------------------------------------------------
# runtime management (``lithops runtime ...``, ``lithops clean``)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeInfo:
    """One deployed runtime, as ``lithops runtime list`` shows it.

    :param name: the runtime as users name it (``runtime`` in the config: ``default`` for a
        backend's default runtime, an image URI...).
    :param memory: memory of the deployment in MB, when it has one.
    :param version: the lithops version (and code digest) the deployment runs.
    :param deployed_as: the platform's name for it (a function name).
    :param details: more columns, backend-specific (``{"timeout": "180 s"}``).
    """

    name: str
    memory: int | None
    version: str
    deployed_as: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


class RuntimeManager(Protocol):
    """What ``lithops_runtime_manager`` returns: the runtimes of one backend, for the CLI.

    ``name`` is the runtime as the config names it; ``None`` means the configured one (the
    default runtime when the config names none). A backend that cannot do one of these
    (build images, say) raises :class:`lithops.errors.BackendUnavailableError` saying so.
    """

    backend: str

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        """Build the runtime ``name`` from ``file`` (a Dockerfile...) and publish it where the
        backend takes it from (a registry); returns what was published."""

    def deploy(self, name: str | None, memory: int | None, timeout: int | None) -> RuntimeInfo:
        """Deploy the runtime (what the first executor would otherwise do) and check it."""

    def list(self, name: str | None) -> Sequence[RuntimeInfo]:
        """The deployed runtimes: every one of this backend, or only those of ``name``."""

    def update(self, name: str | None) -> Sequence[RuntimeInfo]:
        """Replace the code of every deployment of ``name`` (each memory) with what this
        client runs; returns the deployments updated."""

    def delete(
        self, name: str | None, memory: int | None, version: str | None
    ) -> Sequence[RuntimeInfo]:
        """Delete the deployments of ``name`` (only that ``memory``/``version`` when given);
        returns what was deleted."""

    def clean(self, everything: bool) -> Sequence[str]:
        """Remove what this backend left behind: deployments, their temporary data in
        storage, local caches. ``everything``: also other users' namespaces and versions.
        Returns one line per thing removed."""
