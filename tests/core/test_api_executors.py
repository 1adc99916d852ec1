"""``ServerlessExecutor``/``StandaloneExecutor`` without their backends installed: a clear error
at construction that says which distribution to install. Run in a fresh interpreter with every
plugin but the core's and localhost's disabled, as on a machine with only those installed."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

KEEP = {"core", "core_storage", "localhost"}

PROBE = """
import lithops
from lithops.errors import UnknownBackendError
try:
    lithops.{name}(**{kwargs})
except UnknownBackendError as exc:
    assert isinstance(exc, ValueError)
    print("ERROR:", exc)
else:
    print("NO ERROR")
"""


def only_core_and_localhost(home: Path) -> dict[str, str]:
    others = sorted({ep.name for ep in entry_points(group="lithops")} - KEEP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITHOPS_")}
    env.update(
        HOME=str(home),
        LITHOPS_LOGS_DIR=str(home / "logs"),
        LITHOPS_DISABLE_PLUGINS=",".join([*others, "lithops-aws", "lithops-gcp"]),
    )
    return env


def probe(tmp_path: Path, name: str, **kwargs: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name, kwargs=kwargs)],
        env=only_core_and_localhost(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("StandaloneExecutor", {}), ("FunctionExecutor", {"mode": "standalone"})],
)
def test_standalone_without_lithops_standalone_says_to_install_it(tmp_path, name, kwargs):
    out = probe(tmp_path, name, **kwargs)
    assert out.startswith("ERROR:"), out
    assert "pip install lithops-standalone" in out
    assert "localhost" in out  # what is installed


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("ServerlessExecutor", {}), ("FunctionExecutor", {"mode": "serverless"})],
)
def test_serverless_without_a_serverless_backend_says_what_to_install(tmp_path, name, kwargs):
    out = probe(tmp_path, name, **kwargs)
    assert out.startswith("ERROR:"), out
    assert "pip install lithops-" in out
    assert "aws_lambda" in out


def test_localhost_executor_still_works_with_only_core_and_localhost(tmp_path):
    code = "import lithops; print(lithops.LocalhostExecutor().map(abs, [-1, -2]).get_result())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=only_core_and_localhost(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1, 2]"
