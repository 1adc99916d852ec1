"""The standalone CLI commands against real hosts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from standalone_helpers import agent_processes, ssh_config, wait_until

import lithops

pytestmark = pytest.mark.ssh


def _lithops(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "lithops.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _write_config(home: Path, config: dict[str, Any]) -> str:
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_worker_and_job_list_show_agents_processes_jobs_and_time_to_dismantle(
    ssh_host_factory: Callable[..., Any], lithops_home: Path
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], workers=2, soft_dismantle_timeout=120)
    cfg = _write_config(lithops_home, config)
    with lithops.FunctionExecutor(config=config) as fexec:
        futures = fexec.map(_nap, [6, 6])
        assert wait_until(
            lambda: sum("lithops.worker" in p for p in agent_processes(host)) >= 2, 10
        )
        workers = _lithops(lithops_home, "worker", "list", "-c", cfg)
        jobs = _lithops(lithops_home, "job", "list", "-c", cfg)
        fexec.get_result(futures)
    assert workers.returncode == 0, workers.stderr
    print(workers.stdout)
    # Busy: the hang guard (hard timeout) is what would stop it.
    assert host.address in workers.stdout and "(hard_dismantle_timeout)" in workers.stdout
    assert "python3 2/2 busy" in workers.stdout
    assert jobs.returncode == 0, jobs.stderr
    print(jobs.stdout)
    job_key = futures[0].key[0] if hasattr(futures[0], "key") else ""
    assert job_key in jobs.stdout and "2" in jobs.stdout

    after = _lithops(lithops_home, "worker", "list", "-c", cfg)
    assert "dismantles in 1" in after.stdout and "soft_dismantle_timeout" in after.stdout


def test_standalone_clean_stops_agents_and_removes_bootstrap_directories(
    ssh_host_factory: Callable[..., Any], lithops_home: Path
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], soft_dismantle_timeout=300)
    cfg = _write_config(lithops_home, config)
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_nap, 0).result() == 0
    assert agent_processes(host)
    result = _lithops(lithops_home, "standalone", "clean", "-c", cfg)
    assert result.returncode == 0, result.stderr
    assert "1 agent(s) stopped" in result.stdout
    assert wait_until(lambda: not agent_processes(host), 5)
    code, _ = host.exec("test -e /home/lithops/.lithops/standalone")
    assert code != 0


def test_attach_opens_a_shell_on_the_host(ssh_hosts: list[Any], lithops_home: Path) -> None:
    host = ssh_hosts[0]
    cfg = _write_config(lithops_home, ssh_config([host]))
    result = _lithops(
        lithops_home, "attach", host.address, "-c", cfg, stdin="echo on-$(hostname)\nexit\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"on-{host.name}" in result.stdout


def test_forget_host_removes_the_recorded_key(ssh_hosts: list[Any], lithops_home: Path) -> None:
    host = ssh_hosts[0]
    with lithops.FunctionExecutor(config=ssh_config([host])) as fexec:
        fexec.call_async(_nap, 0).result()
    known = lithops_home / ".lithops" / "known_hosts"
    assert host.address in known.read_text()
    result = _lithops(lithops_home, "standalone", "forget-host", host.address)
    assert result.returncode == 0 and "removed 1 key" in result.stdout
    assert host.address not in known.read_text()
