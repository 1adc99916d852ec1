"""No orphans: when the client dies, every process it started for its calls goes with it.

A client program maps calls that sleep, spin or wedge (and start a child of their own), then is
killed. Every process of the run carries a marker in its environment (inherited from the
client), so the test finds them all, whatever launched them, and stops any survivor by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

MARKER = "LITHOPS_TEST_ORPHAN_MARK"

CLIENT = textwrap.dedent(
    """
    import os, sys, time
    import lithops

    mode, pids = sys.argv[1], sys.argv[2]

    def work(x):
        import signal, subprocess, threading
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.path.join(pids, f"{os.getpid()}-{child.pid}"), "w"):
            pass
        if mode == "sleep":
            time.sleep(600)
        elif mode == "spin":
            while True:
                x += 1
        elif mode == "wedged":  # deaf to SIGTERM, blocked forever on a lock it holds
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()
        return x

    fexec = lithops.FunctionExecutor(worker_processes=2)
    fexec.map(work, range(2))
    fexec.get_result(timeout=600)
    """
)


def marked_processes(mark: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose environment carries ``mark``."""
    needle = f"{MARKER}={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            if needle not in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                continue
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(name))
    return found


def kill_client_while_busy(tmp_path: Path, mode: str, signum: int, start: str) -> list[int]:
    """Run the client, wait until both calls run (and started their child), kill the client
    with ``signum``; return what is left of the run 10 s later."""
    mark = uuid.uuid4().hex
    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = {**os.environ, MARKER: mark, "HOME": str(tmp_path), "LITHOPS_WORKER_START": start}
    client = subprocess.Popen([sys.executable, str(script), mode, str(pids)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while len(os.listdir(pids)) < 2:
            assert client.poll() is None, "the client ended before its calls ran"
            assert time.monotonic() < deadline, "the calls did not start within 60 s"
            time.sleep(0.05)
        started = {int(p) for name in os.listdir(pids) for p in name.split("-")}
        # (a process in the middle of its exec may not show its environment for a moment)
        deadline = time.monotonic() + 5
        while not started <= set(marked_processes(mark)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started <= set(marked_processes(mark)), "the marker did not reach the calls"
        os.kill(client.pid, signum)
        client.wait(30)
        deadline = time.monotonic() + 10
        left = marked_processes(mark)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = marked_processes(mark)
        return left
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        for pid in marked_processes(mark):  # never leave anything behind, even on failure
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("mode", ["sleep", "spin", "wedged"])
def test_a_sigkilled_client_leaves_no_worker_behind(tmp_path, mode) -> None:
    assert kill_client_while_busy(tmp_path, mode, signal.SIGKILL, "fork") == []


@pytest.mark.parametrize("mode", ["sleep", "spin"])
def test_a_sigtermed_client_leaves_no_worker_behind(tmp_path, mode) -> None:
    assert kill_client_while_busy(tmp_path, mode, signal.SIGTERM, "fork") == []


@pytest.mark.parametrize(
    ("mode", "signum"),
    [("sleep", signal.SIGKILL), ("spin", signal.SIGKILL), ("sleep", signal.SIGTERM)],
)
def test_workers_of_the_subprocess_launcher_die_with_their_client(tmp_path, mode, signum) -> None:
    assert kill_client_while_busy(tmp_path, mode, signum, "spawn") == []


def test_a_killed_worker_template_takes_its_workers_along(tmp_path) -> None:
    # The template is the workers' parent: if it dies (killed by hand, OOM), the kernel
    # kills its workers (PR_SET_PDEATHSIG) and the launcher says what happened.
    from lithops_localhost.forkserver import ForkServerLauncher

    launcher = ForkServerLauncher()
    try:
        worker = launcher.start({})
        template = launcher.template_pid
        assert template is not None
        os.kill(template, signal.SIGKILL)
        assert "lost with its worker template" in worker.exit_description(10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{worker.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{worker.pid}").exists()
        # The launcher starts a new template for the next worker.
        assert launcher.start({}).pid != worker.pid
        assert launcher.template_pid != template
    finally:
        launcher.close()
