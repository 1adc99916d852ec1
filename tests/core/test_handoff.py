"""Futures pickled while their call runs can be waited on in another process."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import lithops


def slow_square(x: int) -> int:
    time.sleep(1.0)
    return x * x


def test_a_pending_future_pickled_to_another_process_gets_its_result(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LITHOPS_LOGS_DIR", str(tmp_path / "logs"))
    with lithops.FunctionExecutor() as fexec:
        future = fexec.call_async(slow_square, 7)
        assert not future.done
        blob = tmp_path / "future.pickle"
        blob.write_bytes(pickle.dumps(future))
        script = (
            "import pickle, sys, lithops\n"
            "f = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "print(lithops.get_result([f], timeout=30))\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        out = subprocess.run(
            [sys.executable, "-c", script, str(blob)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "[49]"
        assert future.result() == 49


def test_a_done_future_carries_its_result_when_pickled(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with lithops.FunctionExecutor() as fexec:
        future = fexec.call_async(abs, -3)
        future.result()
        copy = pickle.loads(pickle.dumps(future))
        assert copy.done and copy.result() == 3 and copy.call_id == future.call_id
