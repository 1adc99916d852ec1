"""The compute handle of the ``ssh`` backend: every host attached, batches spread over them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lithops import wire
from lithops.errors import BackendUnavailableError
from lithops.plugins.types import CallBatch, CallKey, EventSink
from lithops_standalone.bootstrap import host_bundle
from lithops_standalone.config import HostSpec, StandaloneSettings
from lithops_standalone.host import HostSession
from lithops_standalone.split import plan, split_message

__all__ = ["StandaloneHandle", "open_hosts"]

logger = logging.getLogger(__name__)


@dataclass
class StandaloneHandle:
    """What ``lithops_provision`` returns for ``ssh``/``vm`` (and VM-provider) backends."""

    backend: str
    sessions: list[HostSession]
    #: called on release with ``dismantle``: stops/deletes provider VMs (create/reuse modes)
    on_release: Any = None
    events: EventSink | None = None
    _functions: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def capacity(self) -> int:
        return sum(s.slots for s in self.sessions if s.alive) or 1

    @property
    def hosts(self) -> list[str]:
        return [s.name for s in self.sessions]

    def invoke(self, batch: CallBatch) -> None:
        message = wire.decode(batch.message)
        self._fill_function(message, batch.func_key)
        pending: list[tuple[list[CallKey], dict[str, Any]]] = [(list(batch.calls), message)]
        for _ in range(3):
            live = [s for s in self.sessions if s.alive and s.ensure_attached()]
            if not live:
                break
            retry: list[tuple[list[CallKey], dict[str, Any]]] = []
            for keys, part in pending:
                retry.extend(self._spread(batch, keys, part, live))
            if not retry:
                return
            pending = retry  # a host went away between planning and sending: others take it
        error = BackendUnavailableError(
            f"every standalone host of this executor is gone ({', '.join(self.hosts)}); "
            f"check them and create a new executor"
        )
        left = [key for keys, _ in pending for key in keys]
        if len(left) == len(batch.calls) or self.events is None:
            raise error
        self.events.lost(left, error)  # the rest of the batch is on its way

    def _spread(
        self,
        batch: CallBatch,
        keys: list[CallKey],
        message: dict[str, Any],
        live: list[HostSession],
    ) -> list[tuple[list[CallKey], dict[str, Any]]]:
        """Send ``keys`` over ``live`` hosts; returns the parts no host took."""
        counts = plan(len(keys), [s.slots for s in live], [s.busy() for s in live])
        parts: list[dict[str, Any] | None] = (
            [message if c else None for c in counts]
            if sum(1 for c in counts if c) == 1
            else split_message(message, counts)
        )
        failed = []
        start = 0
        for session, count, part in zip(live, counts, parts, strict=True):
            if part is None:
                continue
            mine = keys[start : start + count]
            start += count
            try:
                session.submit(
                    batch.job_key, mine, wire.encode(part), batch.timeout, batch.func_key
                )
            except BackendUnavailableError:
                failed.append((mine, part))
        return failed

    def _fill_function(self, message: dict[str, Any], func_key: str) -> None:
        # A scheduler may send a job's function once; every host (and worker) needs it.
        key = func_key or message.get("func_key") or ""
        with self._lock:
            if message.get("func") is not None:
                if key and key not in self._functions:
                    self._functions[key] = message["func"]
            elif key in self._functions:
                message["func"] = self._functions[key]

    def cancel(self, keys: list[CallKey]) -> None:
        for session in self.sessions:
            session.cancel(keys)

    def release(self, dismantle: bool) -> None:
        threads = [
            threading.Thread(target=s.close, args=(dismantle,), daemon=True) for s in self.sessions
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5.0)
        if self.on_release is not None:
            self.on_release(dismantle)


def open_hosts(
    backend: str,
    specs: Sequence[HostSpec],
    settings: StandaloneSettings,
    events: EventSink,
    on_dismantle: str | None = None,
) -> StandaloneHandle:
    """Attach every host in parallel, within ``settings.start_timeout``; all or an error."""
    bundle = host_bundle(with_docker=True)
    deadline = time.monotonic() + settings.start_timeout
    sessions = [HostSession(s, settings, events, on_dismantle=on_dismantle) for s in specs]
    errors: dict[int, BaseException] = {}

    def open_one(i: int) -> None:
        try:
            sessions[i].open(bundle, deadline)
        except BaseException as exc:
            errors[i] = exc

    # Daemon threads, not an executor pool: a host stuck past the deadline must not keep the
    # process from exiting.
    threads = [threading.Thread(target=open_one, args=(i,), daemon=True) for i in range(len(specs))]
    for t in threads:
        t.start()
    for i, t in enumerate(threads):
        t.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if t.is_alive() and i not in errors:
            errors[i] = BackendUnavailableError(
                f"{specs[i].name} was not ready within standalone.start_timeout "
                f"({settings.start_timeout:.0f} s); check the host or raise the timeout"
            )
    if errors:
        for i, session in enumerate(sessions):
            if i not in errors:
                session.close()
        first = errors[min(errors)]
        if len(errors) == 1 or not isinstance(first, BackendUnavailableError):
            raise first
        others = "; ".join(f"{specs[i].name}: {errors[i]}" for i in sorted(errors)[1:])
        raise type(first)(f"{first} (also: {others})") from first
    installed = [s.name for s in sessions if s.installed]
    if installed:
        logger.info("bootstrapped lithops %s on %s", bundle.tag, ", ".join(installed))
    return StandaloneHandle(backend=backend, sessions=sessions, events=events)
