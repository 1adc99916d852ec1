"""The installed ``lithops`` console script, run as a user runs it: a real subprocess."""

from __future__ import annotations

import importlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from lithops.plugins.manager import get_plugin_host
from lithops.plugins.types import BackendKind
from lithops.version import __version__


def skip_or_fail(reason: str) -> None:
    """Skip with a reason locally; in CI a missing piece is a failure, never a silent skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def lithops_script() -> str:
    # The script of the environment under test sits next to its interpreter; PATH (which on a
    # fresh machine holds no lithops at all) is only the fallback for unusual layouts.
    beside = Path(sys.executable).with_name("lithops")
    path = str(beside) if beside.is_file() else shutil.which("lithops")
    if path is None:
        skip_or_fail(
            f"no lithops console script next to {sys.executable} nor on PATH: "
            "pip install -e lithops-core into this environment"
        )
    assert path is not None
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITHOPS_CONFIG")}
    env["HOME"] = str(tmp_path)
    return env


def run(
    script: str, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def test_console_script_prints_the_version(
    lithops_script: str, env: dict[str, str], tmp_path: Path
) -> None:
    proc = run(lithops_script, env, tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lithops {__version__}"


def test_python_dash_m_runs_the_same_cli(env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lithops.cli", "--version"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lithops {__version__}"


def test_console_script_lists_the_cores_filesystem_storage(
    lithops_script: str, env: dict[str, str], tmp_path: Path
) -> None:
    proc = run(lithops_script, env, tmp_path, "backends")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert rows[0] == ["NAME", "KIND", "MODE", "DISTRIBUTION", "CAPABILITIES"]
    assert any(row[:4] == ["localhost", "storage", "-", "lithops-core"] for row in rows)


def test_console_script_storage_round_trip(
    lithops_script: str, env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "payload.txt"
    src.write_text("round trip\n")
    assert run(lithops_script, env, tmp_path, "storage", "put", str(src), "b1").returncode == 0
    got = run(lithops_script, env, tmp_path, "storage", "get", "b1", "payload.txt", "-o", "-")
    assert got.stdout == "round trip\n"


def _localhost_executor_ready() -> None:
    try:
        importlib.import_module("lithops.executor")
    except ImportError as exc:
        skip_or_fail(f"lithops.executor (FunctionExecutor) is not importable yet: {exc}")
    if (BackendKind.COMPUTE, "localhost") not in get_plugin_host().backends:
        skip_or_fail(
            "the localhost compute backend is not installed: pip install -e lithops-localhost"
        )


def test_hello_runs_a_map_on_the_localhost_backend(
    lithops_script: str, env: dict[str, str], tmp_path: Path
) -> None:
    _localhost_executor_ready()
    proc = run(lithops_script, env, tmp_path, "hello")
    assert proc.returncode == 0, proc.stderr
    assert "Lithops is working as expected" in proc.stdout
    assert "backend 'localhost' (localhost mode)" in proc.stdout


def test_selftest_passes_on_the_localhost_backend(
    lithops_script: str, env: dict[str, str], tmp_path: Path
) -> None:
    _localhost_executor_ready()
    proc = run(lithops_script, env, tmp_path, "test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[2:6]}
    assert table == {"config": "pass", "map": "pass", "errors": "pass", "storage": "pass"}


def print_marker(marker: str) -> str:
    print(marker)
    return marker


def test_logs_poll_shows_live_output_and_ends_on_sigint(
    lithops_script: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _localhost_executor_ready()
    import lithops

    # The executor in this process records logs where the polling process reads them.
    monkeypatch.setenv("HOME", str(tmp_path))
    poll = subprocess.Popen(
        [lithops_script, "logs", "poll"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = poll.stdout
    assert stdout is not None

    def read() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        seen = None
        deadline = time.monotonic() + 60
        with lithops.FunctionExecutor() as fexec:
            # `poll` shows lines printed after it started; retry until it is up and shows ours.
            while seen is None and time.monotonic() < deadline:
                marker = f"marker-{uuid.uuid4().hex}"
                assert fexec.map(print_marker, [marker]).get_result() == [marker]
                try:
                    while seen is None:
                        line = lines.get(timeout=3)
                        if marker in line:
                            seen = line
                except queue.Empty:
                    continue
        assert seen is not None, "the printed line never reached `lithops logs poll`"
        assert seen.startswith("[") and seen.rstrip().endswith(f"00000] {marker}")
        poll.send_signal(signal.SIGINT)
        assert poll.wait(timeout=10) == 0
    finally:
        if poll.poll() is None:
            poll.kill()
            poll.wait()
