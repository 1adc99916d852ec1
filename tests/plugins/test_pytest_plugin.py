"""A third-party backend's test suite uses ``pytest_plugins = ["lithops.testing"]``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import TINY


def test_a_backend_project_runs_the_contract_through_the_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["lithops.testing"]\n')
    (tmp_path / "test_tiny.py").write_text(
        "import os\n"
        "from lithops.testing import BackendContract\n\n"
        "class TestTiny(BackendContract):\n"
        "    backend = 'tiny'\n\n"
        "def test_home_fixture_isolates_lithops_state(lithops_home):\n"
        "    assert os.environ['HOME'] == str(lithops_home)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TINY), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "15 passed" in out.stdout and "4 skipped" in out.stdout
    assert "does not declare the 'timeout' capability" in out.stdout
