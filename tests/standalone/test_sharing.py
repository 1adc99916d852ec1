"""Several executors and client versions on the same hosts; Lithops' names for the backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standalone_helpers import agent_processes, ssh_config

import lithops
from lithops.packaging import WorkerPackage
from lithops_standalone import handle as handle_module
from lithops_standalone.bootstrap import host_bundle

pytestmark = pytest.mark.ssh


def _double(x: int) -> int:
    return 2 * x


def _agents(host: Any) -> list[str]:
    return [p for p in agent_processes(host) if "lithops_standalone.agent" in p]


def test_two_executors_share_one_agent_at_the_same_time(
    ssh_host_factory: Callable[..., Any], lithops_home: Path
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host], workers=2)
    results: dict[int, list[int]] = {}

    def run(n: int) -> None:
        with lithops.FunctionExecutor(config=config) as fexec:
            results[n] = fexec.get_result(fexec.map(_double, range(n, n + 50)))

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {0: [2 * x for x in range(50)], 100: [2 * x for x in range(100, 150)]}
    assert len(_agents(host)) == 1


def test_a_client_of_another_version_installs_beside_the_old_one(
    ssh_host_factory: Callable[..., Any], lithops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = ssh_host_factory()
    config = ssh_config([host])
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_double, 1).result() == 2
    old_agent = _agents(host)

    # Another client: same packages plus one more file, so another content hash.
    current = host_bundle()
    variant = WorkerPackage(
        files=(*current.files, ("lithops_standalone/_variant.py", b"VARIANT = True\n")),
        digest="f" * 64,
        packages=current.packages,
    )
    monkeypatch.setattr(handle_module, "host_bundle", lambda with_docker=True: variant)
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.call_async(_double, 2).result() == 4

    code, out = host.exec("ls /home/lithops/.lithops/standalone")
    assert sorted(out.split()) == sorted([current.tag, variant.tag])
    lib = f"/home/lithops/.lithops/standalone/{variant.tag}/lib"
    code, _ = host.exec(f"test -f {lib}/lithops_standalone/_variant.py")
    assert code == 0
    agents = _agents(host)
    assert len(agents) == 2 and old_agent[0] in agents  # the old agent was left alone


def test_vm_alias_with_lithops_keys_and_standalone_executor(
    ssh_hosts: list[Any], lithops_home: Path
) -> None:
    host = ssh_hosts[0]
    config = {
        "lithops": {"backend": "vm"},
        "vm": {
            "ip_address": host.address,
            "ssh_username": host.user,
            "ssh_key_filename": host.key_filename,
            "worker_processes": 2,
        },
    }
    with lithops.FunctionExecutor(config=config) as fexec:
        assert fexec.get_result(fexec.map(_double, [1, 2, 3])) == [2, 4, 6]
    config["lithops"] = {"backend": "ssh"}
    config["ssh"] = config.pop("vm")
    with lithops.StandaloneExecutor(config=config) as fexec:
        assert fexec.call_async(_double, 21).result() == 42
    with lithops.FunctionExecutor(config=config, backend="vm") as fexec:
        assert fexec.call_async(_double, 5).result() == 10
