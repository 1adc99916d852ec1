"""Function output streams live to `lithops logs poll` running in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from standalone_helpers import ssh_config

import lithops

pytestmark = pytest.mark.ssh


def _talk(marker: str) -> str:
    print(f"{marker} printed-at {time.time():.6f}", flush=True)
    time.sleep(3)
    print(f"{marker} done", flush=True)
    return marker


def test_logs_poll_in_another_process_shows_a_printed_line_within_1s(
    ssh_hosts: list[Any], lithops_home: Path
) -> None:
    config = ssh_config(ssh_hosts[:1])
    config_file = lithops_home / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "HOME": str(lithops_home), "PYTHONUNBUFFERED": "1"}
    poll = subprocess.Popen(
        [sys.executable, "-m", "lithops.cli", "-c", str(config_file), "logs", "poll"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    seen: list[tuple[float, str]] = []

    def read() -> None:
        assert poll.stdout is not None
        for line in poll.stdout:
            seen.append((time.time(), line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(2.0)  # let `poll` start before the job
        marker = f"marker-{uuid.uuid4().hex[:8]}"
        with lithops.FunctionExecutor(config=config) as fexec:
            future = fexec.call_async(_talk, marker)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(marker in s for _, s in seen):
                time.sleep(0.05)
            assert not future.done, "the line must show while the function still runs"
            assert future.result() == marker
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(f"{marker} done" in s for _, s in seen):
            time.sleep(0.05)
    finally:
        poll.terminate()
        poll.wait(10)
    lines = [(t, s) for t, s in seen if marker in s]
    assert lines, f"poll showed nothing; stderr: {poll.stderr.read() if poll.stderr else ''}"
    arrived, text = lines[0]
    printed = float(text.split("printed-at ")[1].split()[0])
    print(f"line printed on the host reached `lithops logs poll` after {arrived - printed:.3f} s")
    assert arrived - printed <= 1.0
    assert any("done" in s for _, s in lines)


def _shout(marker: str) -> str:
    for i in range(3):
        print(f"{marker} line {i}")
    return marker


def test_logs_get_reads_the_lines_kept_on_the_hosts_without_local_records(
    ssh_hosts: list[Any], lithops_home: Path, tmp_path: Path
) -> None:
    config = ssh_config(ssh_hosts)
    config_file = lithops_home / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    marker = f"kept-{uuid.uuid4().hex[:8]}"
    with lithops.FunctionExecutor(config=config) as fexec:
        future = fexec.call_async(_shout, marker)
        assert future.result() == marker
        job_key = future.job_key
    # Another machine (or after `lithops clean`): no local records at all.
    env = {**os.environ, "HOME": str(lithops_home), "LITHOPS_LOGS_DIR": str(tmp_path / "empty")}
    got = subprocess.run(
        [sys.executable, "-m", "lithops.cli", "-c", str(config_file), "logs", "get", job_key],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    lines = [line for line in got.stdout.splitlines() if marker in line]
    assert [line.split(f"{marker} ")[1] for line in lines] == ["line 0", "line 1", "line 2"]

    # With the local records too, each line is shown once.
    env["LITHOPS_LOGS_DIR"] = str(lithops_home / ".lithops" / "logs")
    both = subprocess.run(
        [sys.executable, "-m", "lithops.cli", "-c", str(config_file), "logs", "get", job_key],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert len([line for line in both.stdout.splitlines() if marker in line]) == 3
