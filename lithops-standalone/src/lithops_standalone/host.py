"""The client's side of one host: SSH connection, attach, and the events coming back.

A reader thread turns the agent's frames into calls on the executor's event sink as they
arrive. Both sides ping every second; a host silent for :data:`SILENCE_TIMEOUT` seconds (killed,
unplugged, its agent dead) fails every call outstanding on it with ``WorkerLostError``, so a
wait never outlives a dead host. A connection that ends while no call is outstanding (the
agent's idle dismantle, a laptop that slept) is attached again on the next invoke.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from typing import Any

import paramiko

from lithops import wire
from lithops.errors import BackendUnavailableError, WorkerLostError
from lithops.packaging import WorkerPackage
from lithops.plugins.types import CallKey, EventSink
from lithops_standalone.bootstrap import AgentChannel, open_agent_channel
from lithops_standalone.config import HostSpec, StandaloneSettings, is_docker_runtime
from lithops_standalone.errors import BootstrapError
from lithops_standalone.protocol import PING_INTERVAL, SILENCE_TIMEOUT, call_key
from lithops_standalone.ssh import connect

__all__ = ["HostSession", "attach_message"]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
#: Attaching again to a host whose connection ended while idle gives up after this long.
REATTACH_TIMEOUT = 15.0


class _Connection:
    """One SSH connection and its channel to the agent; threads stop when it is replaced."""

    def __init__(self, client: paramiko.SSHClient, channel: AgentChannel) -> None:
        self.client = client
        self.channel = channel
        self.write_lock = threading.Lock()
        self.last_seen = time.monotonic()

    def send(self, message: dict[str, Any]) -> None:
        payload = wire.encode(message)
        with self.write_lock:
            self.channel.write(_HEADER.pack(len(payload)) + payload)

    def silent_for(self) -> float:
        return time.monotonic() - max(self.last_seen, self.channel.rfile.last_data)

    def close(self) -> None:
        self.channel.close()
        self.client.close()


class HostSession:
    """One host of an executor. Thread-safe: the scheduler submits while the reader delivers.

    States: ``attached``; ``detached`` (the connection ended while no call was outstanding:
    the agent dismantled itself, or the laptop slept; the next invoke attaches again);
    ``dead`` (it ended with calls outstanding, or re-attaching failed); ``closed``.
    """

    def __init__(
        self,
        spec: HostSpec,
        settings: StandaloneSettings,
        events: EventSink,
        on_dismantle: str | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.events = events
        self.on_dismantle = on_dismantle
        self.slots = 0
        self.hello: dict[str, Any] = {}
        self.installed = False
        self.state = "new"
        self.outstanding: dict[CallKey, None] = {}  # insertion-ordered set
        self._lock = threading.Lock()
        self._attach_lock = threading.Lock()
        self._conn: _Connection | None = None
        self._bundle: WorkerPackage | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def alive(self) -> bool:
        """Attached, or able to attach again on the next invoke."""
        return self.state in ("attached", "detached")

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self, bundle: WorkerPackage, deadline: float) -> None:
        """Connect, bootstrap if needed, attach to the agent; raises a BackendUnavailableError."""
        self._bundle = bundle
        conn = self._connect(bundle, deadline)
        with self._lock:
            self._conn = conn
            self.state = "attached"
        for loop in (self._read_loop, self._ping_loop, self._watch_loop):
            threading.Thread(
                target=loop, args=(conn,), name=f"lithops-ssh-{self.name}", daemon=True
            ).start()

    def ensure_attached(self) -> bool:
        """Attach again if the connection ended while idle; ``False`` if the host is gone."""
        with self._attach_lock:
            if self.state != "detached":
                return self.state == "attached"
            assert self._bundle is not None
            deadline = time.monotonic() + min(self.settings.start_timeout, REATTACH_TIMEOUT)
            try:
                self.open(self._bundle, deadline)
            except Exception as exc:
                logger.warning("standalone host %s is gone: %s", self.name, exc)
                with self._lock:
                    if self.state == "detached":
                        self.state = "dead"
                return False
            logger.info("attached again to %s", self.name)
            return True

    def _connect(self, bundle: WorkerPackage, deadline: float) -> _Connection:
        client = connect(self.spec, deadline)
        try:
            for attempt in range(2):
                channel, installed = open_agent_channel(client, self.spec, bundle, deadline)
                self.installed = self.installed or installed
                conn = _Connection(client, channel)
                try:
                    self._attach(conn, deadline)
                    return conn
                except EOFError:
                    # The agent was dismantling itself just as we attached: a fresh one starts.
                    channel.close()
                    if attempt:
                        raise BootstrapError(
                            f"the agent on {self.name} closed the connection while attaching; "
                            f"see ~/.lithops/standalone/{bundle.tag}/agent-*.log on the host"
                        )
            raise AssertionError("unreachable")
        except BaseException:
            client.close()
            raise

    def _attach(self, conn: _Connection, deadline: float) -> None:
        conn.send(attach_message(self.spec, self.settings, self.on_dismantle))
        channel = conn.channel
        channel.channel.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            message = channel.rfile.read_message()
        except TimeoutError:
            raise BootstrapError(
                f"the agent on {self.name} did not answer within standalone.start_timeout"
            )
        finally:
            channel.channel.settimeout(None)
        if message is None:
            raise EOFError("agent closed the connection")
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
        with self._lock:
            if self.state == "closed":
                return
            conn, self._conn = self._conn, None
            self.state = "closed"
        if conn is not None:
            try:
                conn.send({"t": "detach", "dismantle": dismantle})
            except Exception:
                pass
            conn.close()

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
            conn = self._conn
            if self.state != "attached" or conn is None:
                raise BackendUnavailableError(f"host {self.name} is not attached")
            for key in keys:
                self.outstanding[key] = None
        try:
            conn.send(
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
            self._connection_ended(conn, f"could not be written to ({exc})")

    def cancel(self, keys: list[CallKey]) -> None:
        with self._lock:
            mine = [k for k in keys if k in self.outstanding]
            conn = self._conn
        if mine and conn is not None:
            try:
                conn.send({"t": "cancel", "keys": mine})
            except OSError:
                pass

    def busy(self) -> int:
        with self._lock:
            return len(self.outstanding)

    # -- the channel ---------------------------------------------------------------------------

    def _current(self, conn: _Connection) -> bool:
        return self._conn is conn and self.state == "attached"

    def _done(self, keys: list[CallKey]) -> list[CallKey]:
        with self._lock:
            return [k for k in keys if self.outstanding.pop(k, 0) is None]

    def _read_loop(self, conn: _Connection) -> None:
        reason = "closed the connection"
        try:
            while True:
                message = conn.channel.rfile.read_message()
                if message is None:
                    break
                try:
                    self._dispatch(message)
                except Exception:
                    # A failing event consumer must not be mistaken for a dead host.
                    logger.exception("handling %r from %s failed", message.get("t"), self.name)
        except Exception as exc:
            reason = f"broke the connection ({type(exc).__name__}: {exc})"
        self._connection_ended(conn, reason)

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

    def _ping_loop(self, conn: _Connection) -> None:
        # A send to a dead host may block (full SSH window): silence is judged elsewhere.
        while self._current(conn):
            time.sleep(PING_INTERVAL)
            try:
                conn.send({"t": "ping"})
            except Exception:
                return

    def _watch_loop(self, conn: _Connection) -> None:
        while self._current(conn):
            time.sleep(PING_INTERVAL / 2)
            silent = conn.silent_for()
            if silent > SILENCE_TIMEOUT:
                self._connection_ended(
                    conn, f"stopped answering (nothing received for {silent:.0f} s)"
                )
                return

    def _connection_ended(self, conn: _Connection, reason: str) -> None:
        """The connection is gone: calls on it are lost; an idle host may be attached again."""
        with self._lock:
            if not self._current(conn):
                return  # closed on purpose, or already handled
            self._conn = None
            keys = list(self.outstanding)
            self.outstanding.clear()
            self.state = "dead" if keys else "detached"
        # Closing may block on a dead peer's socket: never in the caller's thread.
        threading.Thread(target=conn.close, daemon=True).start()
        if not keys:
            logger.info("standalone host %s %s while idle; will attach again", self.name, reason)
            return
        logger.warning("standalone host %s %s; %d calls lost", self.name, reason, len(keys))
        job_key, call_id = keys[0]
        error = WorkerLostError(
            f"host {self.name} {reason} while running {len(keys)} call(s) (first: "
            f"{job_key}/{call_id}); the host or its lithops agent died. Check the host; "
            f"with retries set, such calls run again on the other hosts",
            job_key,
            call_id,
        )
        self.events.lost(keys, error)


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
