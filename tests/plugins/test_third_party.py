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


class TestTinyBackendContract(BackendContract):
    """The third-party backend passes the contract; its missing capabilities are skipped."""

    backend = "tiny"

    @pytest.fixture(autouse=True)
    def _discoverable(self, tiny_backend) -> None:
        pass
