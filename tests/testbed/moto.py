"""moto's real HTTP server on loopback: S3, Lambda (code really runs in containers), IAM...

Started and stopped by the test run (by PID). Lambda invocations run in containers of the
testbed's Lambda image on the testbed engine, with the host's network, so the function reaches
this server at ``host.docker.internal`` (the engine maps it to 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import TestbedUnavailable
from .scratch import log, scratch_dir

__all__ = ["MotoServer", "free_port", "start_moto"]

_START_TIMEOUT_S = 60.0
#: moto looks up its own container by HOSTNAME when it sees /.dockerenv; no container has this.
_NOT_A_CONTAINER = "lithops-testbed-moto-host"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MotoServer:
    """A running ``moto_server``: ``endpoint`` is its URL; ``stop()`` ends it."""

    port: int
    pid: int
    log_path: Path
    _process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget every resource (buckets, functions...), as a fresh server would."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self._process.wait()


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def start_moto(docker_host: str, lambda_image: str) -> MotoServer:
    """Start ``moto_server`` on a free loopback port; Lambdas run ``lambda_image``.

    :raises TestbedUnavailable: moto is not installed or does not come up.
    """
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        raise TestbedUnavailable(
            f"moto_server is not installed next to {sys.executable}; run `./dev setup` "
            f"(pip install 'moto[server]')"
        )
    port = free_port()
    log_path = scratch_dir("moto") / f"moto-{port}.log"
    env = {
        **os.environ,
        "DOCKER_HOST": docker_host,
        "MOTO_DOCKER_LAMBDA_IMAGE": lambda_image,
        "MOTO_DOCKER_NETWORK_MODE": "host",
        "MOTO_PORT": str(port),
        "HOSTNAME": _NOT_A_CONTAINER,
        # The server must not reach out to AWS for anything.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: stop() ends it and its reloader, if any
        )
    server = MotoServer(port=port, pid=process.pid, log_path=log_path, _process=process)
    began = time.monotonic()
    while time.monotonic() - began < _START_TIMEOUT_S:
        if process.poll() is not None:
            raise TestbedUnavailable(
                f"moto_server exited with code {process.returncode} at start; see {log_path}"
            )
        if _answers(server.endpoint):
            log(
                f"moto_server (pid {process.pid}) on {server.endpoint} in "
                f"{time.monotonic() - began:.1f}s (log: {log_path})"
            )
            return server
        time.sleep(0.2)
    server.stop()
    raise TestbedUnavailable(f"moto_server did not answer within {_START_TIMEOUT_S:.0f}s")
