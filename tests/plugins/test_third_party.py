"""A backend that exists only as a test distribution is discovered and runs maps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lithops.testing import BackendContract

from .conftest import TINY


def test_third_party_backend_is_discovered_through_its_entry_point_and_runs_a_map() -> None:
    script = (
        "import lithops\n"
        "with lithops.FunctionExecutor(backend='tiny') as fexec:\n"
        "    print(fexec.map(lambda x: x * 3, [1, 2, 3]).get_result())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TINY), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[3, 6, 9]"


def test_a_third_party_backend_that_loses_batches_cannot_hang_get_result() -> None:
    # The bar of issue 7: map(timeout=2), then get_result() with no wait timeout raises
    # within 15 s and every future is done. The backend declares nothing about deadlines.
    script = (
        "import time, lithops\n"
        "from lithops.errors import CallTimeoutError\n"
        "config = {'lithops': {'backend': 'tiny'}, 'tiny': {'flavour': 'drop'}}\n"
        "with lithops.FunctionExecutor(config=config) as fexec:\n"
        "    start = time.monotonic()\n"
        "    futures = fexec.map(abs, range(-10, 10), timeout=2)\n"
        "    try:\n"
        "        fexec.get_result()\n"
        "    except CallTimeoutError as exc:\n"
        "        print(type(exc).__name__, round(time.monotonic() - start, 1))\n"
        "    print(all(f.done for f in futures), sum(f.error for f in futures))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TINY), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    raised, done = out.stdout.strip().splitlines()
    name, seconds = raised.split()
    assert name == "CallTimeoutError"
    assert float(seconds) < 15
    assert done == "True 20"


def test_calls_queued_behind_busy_ones_are_not_ended_by_the_deadlines(tiny_backend) -> None:
    # tiny runs four calls at a time and never reports one running: 24 calls of 1.5 s wait
    # far longer than timeout=2 + grace in all, yet none is ended: their clock starts only
    # when the backend has room for them.
    import lithops
    from lithops.testing import tasks

    with lithops.FunctionExecutor(backend="tiny") as fexec:
        futures = fexec.map(tasks.sleep_then, [(1.5, i) for i in range(24)], timeout=2)
        assert futures.get_result(timeout=120) == list(range(24))


class TestTinyBackendContract(BackendContract):
    """The third-party backend passes the contract; its missing capabilities are skipped."""

    backend = "tiny"

    @pytest.fixture(autouse=True)
    def _discoverable(self, tiny_backend) -> None:
        pass
