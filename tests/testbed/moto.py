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
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import DockerException

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
    docker_host: str = ""
    lambda_image: str = ""
    _stopped: bool = field(default=False, repr=False)

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
        if not self._stopped:
            self._stopped = True
            self._remove_function_containers()

    def _remove_function_containers(self) -> None:
        """Remove the Lambda containers this server started and had not removed yet.

        moto removes an invocation's container only after it has answered, and names each
        function's code volume after the code's digest: a server stopped right after its last
        answer leaves containers that hold the volume, and the next server with the same code
        then fails its invocations (409, volume in use). The containers are this server's by
        the endpoint moto put in their environment (its port).
        """
        if not self.docker_host or not self.lambda_image:
            return
        mine = f"MOTO_HTTP_ENDPOINT=http://host.docker.internal:{self.port}"
        client = docker.DockerClient(base_url=self.docker_host, version="auto", timeout=60)
        try:
            volumes: set[str] = set()
            for container in client.containers.list(
                all=True, filters={"ancestor": self.lambda_image}
            ):
                if mine not in (container.attrs.get("Config", {}).get("Env") or []):
                    continue
                volumes.update(
                    m["Name"] for m in container.attrs.get("Mounts") or [] if m.get("Name")
                )
                try:
                    container.remove(force=True)
                except DockerException:
                    pass  # moto removed it itself meanwhile
            for name in volumes:
                try:
                    client.volumes.get(name).remove()
                except DockerException:
                    pass  # still used by another server's function: that server removes it
        finally:
            client.close()


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
    server = MotoServer(
        port=port,
        pid=process.pid,
        log_path=log_path,
        _process=process,
        docker_host=docker_host,
        lambda_image=lambda_image,
    )
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
