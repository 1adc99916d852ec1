"""The client's side of one host: SSH connection, attach, and the events coming back.

A reader thread turns the agent's frames into calls on the executor's event sink as they
arrive. Both sides ping every second; a host silent for :data:`SILENCE_TIMEOUT` seconds (killed,
unplugged, its agent dead) fails every call outstanding on it with ``WorkerLostError``, so a
wait never outlives a dead host.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import paramiko

from lithops import wire
from lithops.errors import BackendUnavailableError, WorkerLostError
from lithops.plugins.types import CallKey, EventSink
from lithops_standalone.bootstrap import AgentChannel, open_agent_channel
from lithops_standalone.bundle import Bundle
from lithops_standalone.config import HostSpec, StandaloneSettings, is_docker_runtime
from lithops_standalone.errors import BootstrapError
from lithops_standalone.protocol import PING_INTERVAL, SILENCE_TIMEOUT, call_key
from lithops_standalone.ssh import connect

__all__ = ["HostSession", "attach_message"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")


class HostSession:
    """One attached host. Thread-safe: the scheduler submits while the reader delivers."""

    def __init__(
        self,
        spec: HostSpec,
        settings: StandaloneSettings,
        events: EventSink,
        on_dead: Callable[[HostSession], None] | None = None,
        on_dismantle: str | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.events = events
        self.on_dead = on_dead
        self.on_dismantle = on_dismantle
        self.slots = 0
        self.hello: dict[str, Any] = {}
        self.installed = False
        self.alive = False
        self.outstanding: dict[CallKey, None] = {}  # insertion-ordered set
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None
        self._channel: AgentChannel | None = None
        self._last_seen = time.monotonic()
        self._closing = False

    @property
    def name(self) -> str:
        return self.spec.name

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self, bundle: Bundle, deadline: float) -> None:
        """Connect, bootstrap if needed, attach to the agent; raises a BackendUnavailableError."""
        self._client = connect(self.spec, deadline)
        try:
            for attempt in range(2):
                self._channel, installed = open_agent_channel(
                    self._client, self.spec, bundle, deadline
                )
                self.installed = self.installed or installed
                try:
                    self._attach(deadline)
                    break
                except EOFError:
                    # The agent was dismantling itself just as we attached: a fresh one starts.
                    self._channel.close()
                    if attempt:
                        raise BootstrapError(
                            f"the agent on {self.name} closed the connection while attaching; "
                            f"see ~/.lithops/standalone/{bundle.tag}/agent.log on the host"
                        )
        except BaseException:
            self._shutdown_transport()
            raise
        self.alive = True
        self._last_seen = time.monotonic()
        threading.Thread(
            target=self._read_loop, name=f"lithops-ssh-{self.name}", daemon=True
        ).start()
        for loop in (self._ping_loop, self._watch_loop):
            threading.Thread(target=loop, name=f"lithops-ssh-{self.name}", daemon=True).start()

    def _attach(self, deadline: float) -> None:
        assert self._channel is not None
        self._send(attach_message(self.spec, self.settings, self.on_dismantle))
        self._channel.channel.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            frame = self._channel.rfile.read_frame()
        except TimeoutError:
            raise BootstrapError(
                f"the agent on {self.name} did not answer within standalone.start_timeout"
            )
        finally:
            self._channel.channel.settimeout(None)
        if frame is None:
            raise EOFError("agent closed the connection")
        message = wire.decode(frame)
        if message["t"] == "error":
            raise BackendUnavailableError(
                f"the agent on {self.name} cannot run runtime {self.settings.runtime!r}: "
                f"{message['message']}"
            )
        wire.check_hello(message, self.name)
        self.hello = message
        self.slots = int(message["slots"])

    def close(self, dismantle: bool = False) -> None:
        """Detach (the agent lingers for the next executor unless ``dismantle``)."""
        if self._closing:
            return
        self._closing = True
        if self.alive:
            try:
                self._send({"t": "detach", "dismantle": dismantle})
            except Exception:
                pass
        self.alive = False
        self._shutdown_transport()

    def _shutdown_transport(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._client is not None:
            self._client.close()

    # -- calls -------------------------------------------------------------------------------

    def submit(
        self,
        job_key: str,
        keys: list[CallKey],
        message: bytes,
        timeout: float | None,
        func_key: str,
    ) -> None:
        with self._lock:
            if not self.alive:
                raise BackendUnavailableError(f"host {self.name} is gone")
            for key in keys:
                self.outstanding[key] = None
        try:
            self._send(
                {
                    "t": "submit",
                    "job_key": job_key,
                    "calls": keys,
                    "timeout": timeout,
                    "func_key": func_key,
                    "message": message,
                }
            )
        except OSError as exc:
            self._fail(f"writing to it failed ({exc})")

    def cancel(self, keys: list[CallKey]) -> None:
        with self._lock:
            mine = [k for k in keys if k in self.outstanding]
        if mine and self.alive:
            try:
                self._send({"t": "cancel", "keys": mine})
            except OSError:
                pass

    def busy(self) -> int:
        with self._lock:
            return len(self.outstanding)

    # -- the channel ---------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        assert self._channel is not None
        payload = wire.encode(message)
        with self._write_lock:
            self._channel.write(_HEADER.pack(len(payload)) + payload)

    def _done(self, keys: list[CallKey]) -> list[CallKey]:
        with self._lock:
            return [k for k in keys if self.outstanding.pop(k, 0) is None]

    def _read_loop(self) -> None:
        assert self._channel is not None
        reason = "closed the connection"
        try:
            while True:
                frame = self._channel.rfile.read_frame()
                if frame is None:
                    break
                message = wire.decode(frame)
                try:
                    self._dispatch(message)
                except Exception:
                    # A failing event consumer must not be mistaken for a dead host.
                    logger.exception("handling %r from %s failed", message.get("t"), self.name)
        except Exception as exc:
            reason = f"broke the connection ({type(exc).__name__}: {exc})"
        if not self._closing:
            self._fail(f"{reason}")

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["t"]
        if kind == "results":
            records = message["records"]
            mine = set(self._done([call_key(r["key"]) for r in records]))
            records = [r for r in records if call_key(r["key"]) in mine]
            if records:
                self.events.results(records)
        elif kind == "log":
            key = call_key(message["key"])
            self.events.log(key, message["lines"])
        elif kind == "lost":
            keys = self._done([call_key(k) for k in message["keys"]])
            if keys:
                self.events.lost(keys, message["error"])
        elif kind == "requeue":
            keys = self._done([call_key(k) for k in message["keys"]])
            if keys:
                self.events.requeue(keys)
        elif kind == "running":
            self.events.running(call_key(message["key"]), message["since"], message["where"])

    def _ping_loop(self) -> None:
        # A send to a dead host may block (full SSH window): silence is judged elsewhere.
        while self.alive and not self._closing:
            time.sleep(PING_INTERVAL)
            try:
                self._send({"t": "ping"})
            except Exception:
                return

    def _watch_loop(self) -> None:
        while self.alive and not self._closing:
            time.sleep(PING_INTERVAL / 2)
            assert self._channel is not None
            silent = time.monotonic() - max(self._last_seen, self._channel.rfile.last_data)
            if silent > SILENCE_TIMEOUT and not self._closing:
                self._fail(f"stopped answering (nothing received for {silent:.0f} s)")
                return

    def _fail(self, reason: str) -> None:
        """The host is gone: every outstanding call is lost, and nothing waits on it."""
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            keys = list(self.outstanding)
            self.outstanding.clear()
        logger.warning("standalone host %s %s; %d calls lost", self.name, reason, len(keys))
        if keys:
            job_key, call_id = keys[0]
            error = WorkerLostError(
                f"host {self.name} {reason} while running {len(keys)} call(s) (first: "
                f"{job_key}/{call_id}); the host or its lithops agent died. Check the host; "
                f"with retries set, such calls run again on the other hosts",
                job_key,
                call_id,
            )
            self.events.lost(keys, error)
        # Closing may block on a dead peer's socket: never in the caller's thread.
        threading.Thread(target=self._shutdown_transport, daemon=True).start()
        if self.on_dead is not None:
            self.on_dead(self)


def attach_message(
    spec: HostSpec, settings: StandaloneSettings, on_dismantle: str | None
) -> dict[str, Any]:
    """What a client tells an agent when it attaches: settings only, never credentials."""
    return {
        "t": "attach",
        "client": f"{socket.gethostname()}:{os.getpid()}",
        "runtime": _agent_runtime(settings.runtime),
        "workers": spec.worker_processes,
        "soft": settings.soft_dismantle_timeout,
        "hard": settings.hard_dismantle_timeout,
        "on_dismantle": on_dismantle,
    }


def _agent_runtime(runtime: str | None) -> str | None:
    """What the agent runs calls in: ``None`` (its python3), an image, or an interpreter path."""
    if runtime and (is_docker_runtime(runtime) or runtime.startswith("/")):
        return runtime
    return None
