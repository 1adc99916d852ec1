"""The agent's clients: one session per relay connection, and the router of pool events.

Every event of a call (result, loss, printed line) goes to the session that submitted it, as it
happens; printed lines are also kept on the host (:mod:`lithops_standalone.logtail`).
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, cast

from lithops import wire
from lithops.errors import WorkerLostError
from lithops.plugins.types import CallKey
from lithops_standalone.logtail import append_lines
from lithops_standalone.protocol import ActivityReader, SocketWriter, call_key, out_of_band

if TYPE_CHECKING:
    from lithops_standalone.agent import Agent

__all__ = ["Router", "Session"]

logger = logging.getLogger("lithops_standalone.agent")


class Session:
    """One attached client (one relay connection)."""

    def __init__(self, agent: Agent, sock: socket.socket, number: int) -> None:
        self.agent = agent
        self.sock = sock
        self.number = number
        self.rfile = ActivityReader(sock.recv)
        self.writer = SocketWriter(sock.sendall)
        self.write_lock = threading.Lock()
        self.client = f"session-{number}"
        self.pool_key: str | None = None
        self.attached = False
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        message = out_of_band(message)
        try:
            with self.write_lock:
                try:
                    wire.write_message(cast(IO[bytes], self.writer), message)
                except (pickle.PicklingError, TypeError, AttributeError) as exc:
                    # Pickling fails before anything is written: e.g. an exception object
                    # that does not pickle. The calls still end, with a readable error.
                    if message.get("t") != "lost":
                        raise
                    error = WorkerLostError(
                        f"{type(message['error']).__name__}: {message['error']}"
                    )
                    logger.warning("could not pickle %r (%s)", message["error"], exc)
                    wire.write_message(cast(IO[bytes], self.writer), {**message, "error": error})
        except OSError:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def serve(self) -> None:
        try:
            while True:
                message = self.rfile.read_message()
                if message is None:
                    break
                if not self.agent.handle(self, message):
                    break
        except (OSError, EOFError, ValueError) as exc:
            logger.info("%s: connection ended: %s", self.client, exc)
        finally:
            self.agent.drop(self)
            self.close()


class Router:
    """The pools' event sink: each event goes to the session that submitted the call."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def _take(self, keys: Sequence[CallKey]) -> dict[Session, list[CallKey]]:
        grouped: dict[Session, list[CallKey]] = defaultdict(list)
        with self.agent.lock:
            for key in keys:
                owner = self.agent.owners.pop(call_key(key), None)
                if owner is not None:
                    grouped[owner].append(call_key(key))
        return grouped

    def results(self, records: Sequence[dict[str, Any]]) -> None:
        by_key = {call_key(r["key"]): r for r in records}
        for session, keys in self._take(list(by_key)).items():
            session.send({"t": "results", "records": [by_key[k] for k in keys]})

    def running(self, key: CallKey, since: float, where: str) -> None:
        session = self.agent.owners.get(call_key(key))
        if session is not None:
            session.send({"t": "running", "key": key, "since": since, "where": where})

    def lost(self, keys: Sequence[CallKey], error: BaseException) -> None:
        for session, mine in self._take(keys).items():
            session.send({"t": "lost", "keys": mine, "error": error})

    def requeue(self, keys: Sequence[CallKey]) -> None:
        for session, mine in self._take(keys).items():
            session.send({"t": "requeue", "keys": mine})

    def log(self, key: CallKey, lines: Sequence[tuple[float, str]]) -> None:
        try:  # kept on the host too: `lithops logs` works without the client's records
            append_lines(self.agent.root, key[0], key[1], list(lines))
        except OSError as exc:
            logger.warning("could not record output of %s: %s", key, exc)
        session = self.agent.owners.get(call_key(key))
        if session is not None:
            session.send({"t": "log", "key": key, "lines": list(lines)})
