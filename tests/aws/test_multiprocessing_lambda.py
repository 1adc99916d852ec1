"""``lithops.multiprocessing`` on aws_lambda (moto's server, each invocation in a container):
the bar program written for ``multiprocessing`` gives the same output, with its processes and
pool tasks as Lambda invocations and its shared state in the test's own redis-server (moto
runs the containers with host networking, so a server on 127.0.0.1 is reachable from them).

The function's code carries the redis client (``lithops.packaging.LIBRARY_PACKAGES``): the
Lambda has nothing installed but what the client ships.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

MP_TESTS = Path(__file__).resolve().parents[1] / "multiprocessing"
if str(MP_TESTS) not in sys.path:
    sys.path.insert(0, str(MP_TESTS))

from redis_server import RedisServer  # noqa: E402 (needs the path above)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path, ("127.0.0.1",))
    except (FileNotFoundError, RuntimeError, ImportError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"testbed component unavailable in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


def lambda_log_streams() -> int:
    """How many invocation log streams moto's Lambda functions have written so far."""
    import boto3

    logs = boto3.client("logs")
    # Paged: a page holds 50 streams, and earlier tests of the run leave more than that.
    groups = [
        group["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix="/aws/lambda/"
        )
        for group in page["logGroups"]
    ]
    streams = logs.get_paginator("describe_log_streams")
    return sum(
        len(page["logStreams"]) for name in groups for page in streams.paginate(logGroupName=name)
    )


def run_bar(module: str, env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, str(MP_TESTS / "bar_program.py"), module],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.timeout(600)
def test_bar_program_same_output_on_lambda(
    lambda_config: dict[str, Any], redis_server: RedisServer, tmp_path: Path
) -> None:
    config = {**lambda_config, "redis": redis_server.section()}
    config["aws_lambda"] = {**config["aws_lambda"], "max_workers": 6}
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    expected = run_bar("multiprocessing", dict(os.environ), tmp_path)
    env = {**os.environ, "LITHOPS_CONFIG_FILE": str(config_file)}
    invocations_before = lambda_log_streams()
    ours = run_bar("lithops.multiprocessing", env, tmp_path)
    # the processes and pool tasks ran as invocations (8 + 2 pool calls, 9 processes)
    assert lambda_log_streams() - invocations_before >= 19
    assert "value 60 [0, 0, 0]" in expected
    assert ours == expected
    assert redis_server.keys() == []  # nothing left after a clean exit


STREAMING_PROGRAM = """
import os
import lithops.multiprocessing as mp
from lithops.multiprocessing import config

def hello(n):
    print(f"hello {n} in a Lambda:", bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")))

if __name__ == "__main__":
    config.set_parameter(config.STREAM_STDOUT, True)
    p = mp.Process(target=hello, args=(1,))
    p.start()
    p.join()
    print("joined")
    with mp.Pool(2) as pool:
        pool.map(hello, [2, 3])
    print("mapped")
"""


@pytest.mark.timeout(300)
def test_stream_stdout_shows_what_lambda_calls_print(
    lambda_config: dict[str, Any], redis_server: RedisServer, tmp_path: Path
) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({**lambda_config, "redis": redis_server.section()}))
    program = tmp_path / "streaming.py"
    program.write_text(STREAMING_PROGRAM)
    out = subprocess.run(
        [sys.executable, str(program)],
        env={**os.environ, "LITHOPS_CONFIG_FILE": str(config_file)},
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[:2] == ["hello 1 in a Lambda: True", "joined"], lines
    assert sorted(lines[2:4]) == ["hello 2 in a Lambda: True", "hello 3 in a Lambda: True"]
    assert lines[4:] == ["mapped"]
