"""``lithops.multiprocessing`` on a remote backend: the SSH test hosts."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standalone_helpers import ssh_config

import lithops.multiprocessing as lmp
from lithops.multiprocessing import config as mp_config

pytestmark = pytest.mark.ssh


@pytest.fixture
def on_hosts(ssh_hosts: list[Any], lithops_home: Any) -> Iterator[list[Any]]:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, ssh_config(ssh_hosts, workers=2))
    yield ssh_hosts
    mp_config.reset()


def where(x: int) -> tuple[int, str]:
    time.sleep(0.05)
    return x * x, socket.gethostname()


def pair(a: int, b: int) -> tuple[int, str]:
    return a + b, socket.gethostname()


SEEN: list[str] = []


def remember(word: str) -> None:
    SEEN.append(word)


def seen(_: object) -> str:
    return "+".join(SEEN)


def fails(x: int) -> int:
    raise KeyError(x)


def exit_with(code: int) -> None:
    sys.exit(code)


def test_pool_runs_on_the_ssh_hosts(on_hosts: list[Any]) -> None:
    names = {h.name for h in on_hosts}
    assert lmp.cpu_count() == 2 * len(on_hosts)
    with lmp.Pool(initializer=remember, initargs=("init",)) as pool:
        results = pool.map(where, range(40))
        assert [r for r, _ in results] == [x * x for x in range(40)]
        assert {h for _, h in results} <= names
        assert socket.gethostname() not in {h for _, h in results}
        assert [r for r, _ in pool.starmap(pair, [(1, 2), (3, 4)])] == [3, 7]
        assert sorted(r for r, _ in pool.imap_unordered(where, range(5))) == [0, 1, 4, 9, 16]
        assert pool.apply_async(pair, (5, 6)).get(timeout=60)[0] == 11
        assert set(pool.map(seen, range(8))) == {"init"}
        with pytest.raises(KeyError):
            pool.apply(fails, (1,))


def test_process_exit_codes_on_the_ssh_hosts(on_hosts: list[Any]) -> None:
    procs = [lmp.Process(target=exit_with, args=(code,)) for code in (0, 4)]
    procs.append(lmp.Process(target=fails, args=(1,)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    errors = []
    for p in procs:
        future = p._future
        if future is not None and future.done:
            try:
                future.result()
            except BaseException as exc:  # what made exitcode 1, for the failure message
                errors.append(f"{p.name}: {type(exc).__name__}: {exc}")
    assert [p.exitcode for p in procs] == [0, 4, 1], errors


def test_bar_program_same_output_on_the_ssh_hosts(
    ssh_hosts: list[Any], redis_on_test_network: Any, lithops_home: Any, tmp_path: Any
) -> None:
    """The program written for multiprocessing: calls on the hosts, state in a Redis bound to
    the test network's gateway."""
    import os
    import subprocess
    from pathlib import Path

    import yaml

    server = redis_on_test_network
    bar = Path(__file__).resolve().parent / "bar_program.py"
    config = ssh_config(ssh_hosts, workers=2)
    config["redis"] = server.section(server.addresses[0])
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))

    def run(module: str, env: dict[str, str]) -> str:
        out = subprocess.run(
            [sys.executable, str(bar), module],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    expected = run("multiprocessing", dict(os.environ))
    ours = run("lithops.multiprocessing", {**os.environ, "LITHOPS_CONFIG_FILE": str(config_file)})
    assert ours == expected
    assert server.keys() == []
