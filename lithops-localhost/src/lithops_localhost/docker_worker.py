"""One worker process running as a ``docker exec`` in a runtime container."""

from __future__ import annotations

import logging
import signal
import time
from typing import IO, TYPE_CHECKING, Any

from lithops_localhost.docker_scripts import KILL_BY_TOKEN
from lithops_localhost.docker_stream import ExecStream
from lithops_localhost.launcher import describe_exit

if TYPE_CHECKING:
    import docker

    from lithops_localhost.docker_env import DockerLauncher

__all__ = ["DockerWorkerProcess"]

log = logging.getLogger(__name__)


class DockerWorkerProcess:
    """One worker: an exec in the launcher's container, attached over the engine's socket.

    ``pid`` (inside the container) is known once the reader has met the exec's first stderr
    line, written before the worker starts; ``kill`` does not need it.
    """

    def __init__(
        self,
        launcher: DockerLauncher,
        client: docker.DockerClient,
        container_id: str,
        exec_id: str,
        sock: Any,
        token: str,
    ) -> None:
        self._launcher = launcher
        self._client = client
        self._container_id = container_id
        self._exec_id = exec_id
        self._token = token
        self.pid: int | None = None
        self._early_error = ""
        self._killed = False
        self._ended = False
        self._stream = ExecStream(sock, launcher.container_name, self._take_pid)
        self.stdin: IO[bytes] = self._stream.stdin
        self.stdout: IO[bytes] = self._stream.stdout

    @property
    def where(self) -> str:
        """``<container name>:<pid in the container>`` (``?`` until the PID is known)."""
        return f"{self._launcher.container_name}:{self.pid if self.pid is not None else '?'}"

    def _take_pid(self, line: str) -> None:
        if line.strip().isdigit():
            self.pid = int(line)
        else:  # not the boot line: the exec failed before it; keep the text for errors
            self._early_error = line

    def kill(self) -> None:
        """SIGKILL the worker and every process it started; idempotent, needs no PID."""
        if self._killed or self._ended:
            return
        self._killed = True
        try:
            exec_id = self._client.api.exec_create(
                self._container_id,
                [self._launcher.python, "-S", "-c", KILL_BY_TOKEN, self._token],
                stdout=True,
                stderr=True,
            )["Id"]
            self._client.api.exec_start(exec_id)
        except Exception as error:
            # The engine or the container is gone; cutting the connection still ends the
            # reader's wait, which is what the caller needs from kill().
            log.debug(
                "kill of %s via the engine failed (%s); dropping its stream", self.where, error
            )
            self._stream.close()

    def exit_description(self, timeout: float = 2.0) -> str:
        """How the worker ended, e.g. ``exited with code 3`` or ``killed by signal SIGKILL (9)``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self._client.api.exec_inspect(self._exec_id)
            except Exception as error:
                if getattr(error, "status_code", None) == 404:  # the engine forgot the exec
                    return "was lost with its container (removed while the worker ran)"
                return f"was lost: the Docker engine does not answer ({error})"
            if not info.get("Running"):
                self._ended = True  # a later kill() has nothing to do
                break
            if time.monotonic() >= deadline:
                return "still running (its output stream ended)"
            time.sleep(0.05)
        return self._describe_code(int(info.get("ExitCode") or 0))

    def stderr_tail(self) -> list[str]:
        """The worker's last stderr lines (up to 50)."""
        tail = self._stream.stderr_tail()
        return [self._early_error, *tail] if self._early_error else tail

    def _describe_code(self, code: int) -> str:
        if self._killed and code == 128 + signal.SIGKILL:
            return "was killed by SIGKILL (9), as lithops asked"
        text = describe_exit(code)
        tail = [line.strip() for line in self.stderr_tail() if line.strip()]
        if 0 < code < 128 and tail:
            # One line: callers embed this in a sentence ("the worker ... exited with ...").
            text += " (last stderr: " + " | ".join(tail[-3:]) + ")"
        return text
