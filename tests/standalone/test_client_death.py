"""A client that dies (SIGKILL, SIGTERM) mid-job: its calls are cancelled on the host.

The host's agent may stay up for its idle timeout (a next client finds it warm), but nothing of
the dead client's work keeps running there: no worker busy with its calls, no process a call
started, no relay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest
from standalone_helpers import agent_processes, ssh_config, wait_until

pytestmark = pytest.mark.ssh

CLIENT = textwrap.dedent(
    """
    import json, sys, time
    import lithops

    config, mode, mark = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]

    def work(x):
        import subprocess, sys, time
        # A process of the call's own, recognisable in the host's process table by its mark.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", mark])
        if mode == "sleep":
            time.sleep(600)
        while True:
            x += 1

    fexec = lithops.FunctionExecutor(config=config)
    futures = fexec.map(work, range(2))
    while not all(f.running() or f.done for f in futures):
        time.sleep(0.05)
    print("running", flush=True)
    fexec.get_result(futures, timeout=600)
    """
)


def _user_processes(host: Any, mark: str) -> tuple[list[str], list[str]]:
    """(workers, processes started by calls) of the client marked ``mark`` on ``host``."""
    _, out = host.exec("ps -eo pid,args")
    lines = [line.strip() for line in out.splitlines()]
    workers = [line for line in lines if "lithops.worker" in line]
    started = [line for line in lines if mark in line and "ps -eo" not in line]
    return workers, started


@pytest.mark.parametrize(("mode", "signum"), [("sleep", signal.SIGKILL), ("spin", signal.SIGTERM)])
def test_a_dead_client_has_its_calls_cancelled_on_the_host(
    ssh_hosts: Any, lithops_home: Any, tmp_path: Any, mode: str, signum: int
) -> None:
    host = ssh_hosts[0]
    mark = f"lithops-test-{uuid.uuid4().hex[:12]}"
    config = ssh_config([host], workers=2)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    # Other clients (executors of earlier tests in this process) may keep relays of their own
    # on this shared host: only the dead client's relay must go.
    relays_before = {p for p in agent_processes(host) if "lithops_standalone.relay" in p}
    client = subprocess.Popen(
        [sys.executable, str(script), json.dumps(config), mode, mark],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "running"
        assert wait_until(lambda: len(_user_processes(host, mark)[1]) >= 2, 30)
        os.kill(client.pid, signum)
        client.wait(30)
        gone = wait_until(lambda: _user_processes(host, mark)[1] == [], 10)
        workers, started = _user_processes(host, mark)
        assert gone, f"processes of the dead client's calls still run on the host: {started}"
        # Replacements may already be idle in the pool; none is busy with the dead client's
        # calls (those started the marked processes, which are gone with their workers).
        assert len(workers) <= 2, workers
        relays = {p for p in agent_processes(host) if "lithops_standalone.relay" in p}
        assert relays <= relays_before, relays - relays_before
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        # Never leave the test's sleepers on the host (by PID, from the process table).
        pids = [line.split()[0] for line in _user_processes(host, mark)[1]]
        if pids:
            host.exec("kill -KILL " + " ".join(pids))
