"""The agent: one per host (and bootstrap directory), running calls for every attached client.

Started by :mod:`lithops_standalone.relay` in the bootstrap directory, it listens on the unix
socket ``agent-<hostname>.sock`` there (no network port) and serves each relay connection as one
client session. Calls run in :class:`lithops_localhost.engine.WorkerPool` pools, one per
runtime: the host's python3, or a Docker image through :mod:`lithops_localhost.docker_env`.
Pool events are routed back to the session that submitted the call, as they happen.

Self-dismantle (checked every half second), following Lithops' keeper:

* no client attached and no call in flight for ``soft_dismantle_timeout`` -> stop;
* nothing submitted for ``hard_dismantle_timeout``, clients attached or not -> stop; calls
  still in flight fail with :class:`~lithops.errors.WorkerLostError` (the hang guard), and an
  idle client attaches again (to a fresh agent) on its next invoke;
* a client that detached with ``dismantle`` set -> stop as soon as nothing else is attached.

Stopping closes the pools (workers killed, containers removed), removes the socket and runs the
configured ``on_dismantle`` command (a VM provider's self-stop), leaving no process behind.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from lithops import wire
from lithops.errors import BackendUnavailableError, WorkerLostError
from lithops.plugins.types import CallBatch, CallKey
from lithops_standalone.logtail import prune
from lithops_standalone.procfs import child_processes
from lithops_standalone.protocol import PING_INTERVAL, call_key
from lithops_standalone.relay import PID_NAME, SOCKET_NAME
from lithops_standalone.sessions import Router, Session

__all__ = ["Agent", "main"]

logger = logging.getLogger("lithops_standalone.agent")

#: A client whose relay sent nothing (not even pings) for this long is dropped.
CLIENT_SILENCE = 30.0
#: Until the first client attaches, the agent waits this long (the relay attaches at once).
FIRST_ATTACH_SOFT = 60.0


class Agent:
    """The host's agent: sessions, pools per runtime, and the dismantle clock."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.root = Path(directory)
        self.host = socket.gethostname()
        self.lock = threading.RLock()
        self.sessions: set[Session] = set()
        self.owners: dict[CallKey, Session] = {}
        self.pools: dict[str, Any] = {}
        self.router = Router(self)
        self.started = time.time()
        self.soft = FIRST_ATTACH_SOFT
        self.hard = 3600.0
        self.on_dismantle: str | None = None
        self.dismantle_when_idle = False
        self.idle_since = time.monotonic()
        self.last_submit = time.monotonic()
        self.stopping = threading.Event()
        self.stop_reason = ""
        self._numbers = 0
        self._listener: socket.socket | None = None

    # -- serving ----------------------------------------------------------------------------

    def serve_forever(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(SOCKET_NAME)  # a dead agent's socket (the relay holds the start lock)
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o077)  # only the login user may connect
        try:
            listener.bind(SOCKET_NAME)
        finally:
            os.umask(old_umask)
        listener.listen(64)
        listener.settimeout(0.5)
        self._listener = listener
        with open(PID_NAME, "w") as fh:
            fh.write(str(os.getpid()))
        logger.info("agent %d serving in %s", os.getpid(), self.directory)
        prune(self.root)
        threading.Thread(target=self._tick, name="lithops-agent-clock", daemon=True).start()
        while not self.stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.settimeout(None)
            with self.lock:
                self._numbers += 1
                session = Session(self, conn, self._numbers)
                self.sessions.add(session)
            threading.Thread(
                target=session.serve, name="lithops-agent-session", daemon=True
            ).start()
        self._finish()

    def handle(self, session: Session, message: dict[str, Any]) -> bool:
        """Act on one client message; ``False`` ends the session."""
        kind = message["t"]
        if kind == "ping":
            return True
        if kind == "submit":
            self._submit(session, message)
        elif kind == "cancel":
            self._cancel([call_key(k) for k in message["keys"]])
        elif kind == "attach":
            self._attach(session, message)
        elif kind == "detach":
            if message.get("dismantle"):
                self.dismantle_when_idle = True
            return False
        elif kind == "status":
            session.send(self.status())
        elif kind == "stop":
            session.send({"t": "stopping"})
            self.stop("stopped by `lithops standalone clean`")
            return False
        else:
            logger.warning("%s sent an unknown message %r", session.client, kind)
        return True

    def _attach(self, session: Session, message: dict[str, Any]) -> None:
        session.client = str(message.get("client") or session.client)
        runtime = message.get("runtime") or ""
        try:
            pool = self._pool(runtime, message.get("workers"))
        except Exception as exc:
            logger.exception("cannot prepare runtime %r", runtime)
            session.send({"t": "error", "message": f"{type(exc).__name__}: {exc}"})
            return
        with self.lock:
            session.pool_key = runtime
            self.soft = float(message.get("soft") or self.soft)
            self.hard = float(message.get("hard") or self.hard)
            self.on_dismantle = message.get("on_dismantle") or self.on_dismantle
            self.last_submit = time.monotonic()
        hello = wire.hello_message()
        hello.update(slots=pool.capacity, agent_pid=os.getpid(), started=self.started)
        session.send(hello)
        # Attached only once the hello is out: the ticker pings attached sessions, and a ping
        # ahead of the hello fails the client's version check.
        with self.lock:
            session.attached = True
        logger.info("%s attached (runtime %r, %d slots)", session.client, runtime, pool.capacity)

    def _pool(self, runtime: str, workers: int | None) -> Any:
        with self.lock:
            pool = self.pools.get(runtime)
            if pool is not None:
                return pool
            from lithops_localhost.engine import WorkerPool

            size = int(workers or os.cpu_count() or 1)
            if runtime.startswith("/"):  # an interpreter path on the host
                from lithops_localhost.launcher import SubprocessLauncher

                launcher: Any = SubprocessLauncher(python=runtime)
                where = self.host
            elif runtime:
                from lithops_localhost.docker_env import DockerLauncher

                launcher = DockerLauncher(runtime)
                where = f"{self.host}/{runtime}"
            else:
                from lithops_localhost.launcher import SubprocessLauncher

                launcher = SubprocessLauncher(python=sys.executable)
                where = self.host
            pool = WorkerPool(size, self.router, launcher=launcher, where=where)
            self.pools[runtime] = pool
            return pool

    def _submit(self, session: Session, message: dict[str, Any]) -> None:
        keys: list[CallKey] = [call_key(k) for k in message["calls"]]
        batch = CallBatch(
            job_key=message["job_key"],
            calls=keys,
            message=message["message"],
            timeout=message.get("timeout"),
            func_key=message.get("func_key", ""),
        )
        with self.lock:
            pool = self.pools.get(session.pool_key or "")
            for key in keys:
                self.owners[key] = session
            self.last_submit = time.monotonic()
        if pool is None:
            self.router.lost(keys, BackendUnavailableError("submit before attach"))
            return
        try:
            pool.submit(batch)
        except Exception as exc:
            self.router.lost(keys, exc)

    def _cancel(self, keys: list[CallKey]) -> None:
        with self.lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.cancel(keys)

    def drop(self, session: Session) -> None:
        """A client went away: forget it and stop its calls (nobody can receive their results)."""
        with self.lock:
            self.sessions.discard(session)
            orphans = [k for k, s in self.owners.items() if s is session]
            for key in orphans:
                del self.owners[key]
            # A status probe (never attached) must not extend the agent's life.
            if session.attached and not self._attached() and not self.owners:
                self.idle_since = time.monotonic()
        if orphans:
            self._cancel(orphans)
        logger.info("%s detached (%d calls cancelled)", session.client, len(orphans))

    # -- the clock -----------------------------------------------------------------------------

    def time_to_dismantle(self) -> tuple[float, str]:
        """Seconds until this agent stops by itself if nothing changes, and why."""
        now = time.monotonic()
        with self.lock:
            if self.owners:
                return self.last_submit + self.hard - now, "hard_dismantle_timeout"
            if self._attached():
                # An idle client does not keep an agent forever: it attaches again if needed.
                return self.last_submit + self.hard - now, "hard_dismantle_timeout"
            if self.dismantle_when_idle:
                return 0.0, "released with dismantle"
            return self.idle_since + self.soft - now, "soft_dismantle_timeout"

    def _attached(self) -> bool:
        return any(s.attached for s in self.sessions)

    def _tick(self) -> None:
        while not self.stopping.is_set():
            time.sleep(min(PING_INTERVAL, 0.5))
            now = time.monotonic()
            with self.lock:
                sessions = list(self.sessions)
            for session in sessions:
                if now - session.rfile.last_data > CLIENT_SILENCE:
                    logger.warning(
                        "%s silent for %.0f s: dropping it", session.client, CLIENT_SILENCE
                    )
                    session.close()
                elif session.attached:
                    session.send({"t": "ping"})
            remaining, why = self.time_to_dismantle()
            if remaining <= 0:
                if why == "hard_dismantle_timeout":
                    self._fail_in_flight()
                self.stop(f"{why} reached")

    def _fail_in_flight(self) -> None:
        with self.lock:
            keys = list(self.owners)
        error = WorkerLostError(
            f"the agent on {self.host} stopped: no new call for hard_dismantle_timeout="
            f"{self.hard:.0f} s while calls were still running; raise "
            f"standalone.hard_dismantle_timeout for calls that run longer"
        )
        self.router.lost(keys, error)

    def stop(self, reason: str) -> None:
        if self.stopping.is_set():
            return
        self.stop_reason = reason
        logger.info("dismantling: %s", reason)
        # Unlink first: a client attaching from now on starts a fresh agent instead of ours.
        try:
            os.unlink(SOCKET_NAME)
        except FileNotFoundError:
            pass
        self.stopping.set()
        if self._listener is not None:
            self._listener.close()

    def _finish(self) -> None:
        with self.lock:
            sessions = list(self.sessions)
            keys = list(self.owners)
            pools = list(self.pools.values())
            self.pools.clear()
        if keys:
            self.router.lost(
                keys, WorkerLostError(f"the agent on {self.host} stopped ({self.stop_reason})")
            )
        for session in sessions:
            session.close()
        for pool in pools:
            try:
                pool.close(wait=False)
            except Exception:
                logger.exception("closing a pool failed")
        for name in (PID_NAME,):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        if self.on_dismantle:
            logger.info("running on_dismantle: %s", self.on_dismantle)
            subprocess.Popen(
                self.on_dismantle,
                shell=True,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        logger.info("agent %d stopped", os.getpid())

    # -- introspection -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        remaining, why = self.time_to_dismantle()
        with self.lock:
            jobs: dict[str, int] = defaultdict(int)
            for job_key, _ in self.owners:
                jobs[job_key] += 1
            pools = [
                {"runtime": name or "python3", "capacity": p.capacity, "idle": p.idle_slots()}
                for name, p in self.pools.items()
            ]
            clients = sorted(s.client for s in self.sessions if s.attached)
        return {
            "t": "status",
            "host": self.host,
            "pid": os.getpid(),
            "directory": self.directory,
            "started": self.started,
            "clients": clients,
            "pools": pools,
            "jobs": dict(jobs),
            "processes": child_processes(os.getpid()),
            "time_to_dismantle": remaining,
            "dismantle_reason": why,
            "soft": self.soft,
            "hard": self.hard,
        }


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    agent = Agent(os.getcwd())
    signal.signal(signal.SIGTERM, lambda *_: agent.stop("SIGTERM"))
    try:
        agent.serve_forever()
    finally:
        logging.shutdown()
    # Pool reader threads are daemons; exit without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
