"""No orphans in the Docker environment: a client that dies takes its container (and the calls
running in it) along, however it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

pytestmark = pytest.mark.docker

CLIENT = textwrap.dedent(
    """
    import sys, time
    import lithops

    def work(mode):
        import time
        if mode == "sleep":
            time.sleep(600)
        x = 0
        while True:
            x += 1

    fexec = lithops.FunctionExecutor(runtime=sys.argv[1], worker_processes=2)
    futures = fexec.map(work, [sys.argv[2]] * 2)
    while not all(f.running() or f.done for f in futures):
        time.sleep(0.05)
    print("running", flush=True)
    fexec.get_result(futures, timeout=600)
    """
)


@pytest.mark.parametrize(
    ("mode", "signum"),
    [("sleep", signal.SIGKILL), ("spin", signal.SIGKILL), ("sleep", signal.SIGTERM)],
)
def test_a_killed_client_leaves_no_container_and_no_call_running(
    python_image: str, docker_engine: Any, tmp_path: Any, mode: str, signum: int
) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = {**os.environ, "DOCKER_HOST": docker_engine.host, "HOME": str(tmp_path)}
    client = subprocess.Popen(
        [sys.executable, str(script), python_image, mode],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = docker_engine.client()
    label = {"label": f"lithops.client_pid={client.pid}"}
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "running"
        (container,) = engine.containers.list(filters=label)
        # The keeper, the lease and two workers running the calls.
        deadline = time.monotonic() + 10
        while len(container.top()["Processes"]) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(container.top()["Processes"]) >= 4
        os.kill(client.pid, signum)
        client.wait(30)
        deadline = time.monotonic() + 10
        while _containers(engine, label) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _containers(engine, label) == []
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        for leftover in _containers(engine, label):
            engine.api.remove_container(leftover, force=True)


def _containers(engine: Any, label: dict[str, str]) -> list[str]:
    # The low-level listing: the SDK's containers.list() inspects each one afterwards, and
    # fails on a container removed in between (which is exactly what happens here).
    return [c["Id"] for c in engine.api.containers(all=True, filters=label)]
