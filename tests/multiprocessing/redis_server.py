"""A real ``redis-server`` owned by one test: started on a free port, stopped by its PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class RedisServer:
    """``redis-server`` bound to ``addresses`` with a password, no persistence."""

    def __init__(self, workdir: Path, addresses: tuple[str, ...] = ("127.0.0.1",)) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (./dev setup installs it)")
        self.host = addresses[0]
        self.addresses = addresses
        self.port = free_port(self.host)
        self.password = "test-" + socket.gethostname()[:8]
        self.process = subprocess.Popen(
            [binary, "--bind", *addresses, "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--requirepass", self.password, "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on {addresses}:{self.port}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return self.client().ping() is True
        except Exception:
            return False

    def client(self) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, password=self.password)

    def section(self, host: str | None = None) -> dict[str, Any]:
        """The ``redis`` config section naming this server."""
        return {"host": host or self.host, "port": self.port, "password": self.password}

    def keys(self) -> list[bytes]:
        return list(self.client().keys("*"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
