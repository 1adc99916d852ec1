"""Every key of ``lithops.multiprocessing.config`` does what Lithops documents, or
``set_parameter`` refuses it naming the key; the calls run on the localhost backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

import lithops.multiprocessing as lmp
from lithops.multiprocessing import config as mp_config


def localhost_config(server: RedisServer | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "lithops": {"backend": "localhost", "storage": "localhost"},
        "localhost": {"worker_processes": 2, "runtime": sys.executable},
    }
    if server is not None:
        config["redis"] = server.section()
    return config


@pytest.fixture
def configured(redis_server: RedisServer, lithops_home: Path) -> Iterator[RedisServer]:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, localhost_config(redis_server))
    yield redis_server
    mp_config.reset()


@pytest.fixture
def no_redis(lithops_home: Path) -> Iterator[None]:
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, localhost_config())
    yield
    mp_config.reset()


def chatty(x: int) -> int:
    print(f"line one of {x}")
    print(f"line two of {x}", end="")  # no newline: published when the call ends
    return x


def complain(word: str) -> None:
    print("before the failure")
    raise KeyError(word)


def read_env(_: object) -> str | None:
    return os.environ.get("LITHOPS_MP_TEST_VAR")


def put_env(q: Any) -> None:
    q.put(os.environ.get("LITHOPS_MP_TEST_VAR"))


def test_stream_stdout_writes_what_calls_print_before_join_and_get_return(
    configured: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    mp_config.set_parameter(mp_config.STREAM_STDOUT, True)
    p = lmp.Process(target=chatty, args=(7,))
    p.start()
    p.join(60)
    out = capsys.readouterr().out
    assert "line one of 7\n" in out and "line two of 7" in out
    with lmp.Pool(2) as pool:
        assert pool.map(chatty, range(4)) == [0, 1, 2, 3]
        out = capsys.readouterr().out
        assert all(f"line one of {x}\n" in out for x in range(4)), out
        assert pool.apply(chatty, (9,)) == 9
        assert "line one of 9" in capsys.readouterr().out
        assert list(pool.imap(chatty, [5])) == [5]
        assert "line one of 5" in capsys.readouterr().out
    failing = lmp.Process(target=complain, args=("boom",))
    failing.start()
    failing.join(60)
    captured = capsys.readouterr()
    assert failing.exitcode == 1
    assert "before the failure" in captured.out
    assert "KeyError: 'boom'" in captured.err  # the traceback, as a local child shows it
    assert configured.keys() == []  # pub/sub channels are not keys


def test_stream_stdout_publishes_only_what_the_calls_thread_prints(
    configured: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backend may run calls in threads of one process: another thread's prints stay out
    of the call's stream."""
    from lithops.multiprocessing.connection import settings
    from lithops.multiprocessing.stdout_stream import feed_for, streaming

    feed = feed_for(settings())
    inside, printed = threading.Event(), threading.Event()

    def call() -> None:
        with streaming(feed.target):
            inside.set()
            assert printed.wait(15)
            print("printed by the call")

    thread = threading.Thread(target=call)
    thread.start()
    assert inside.wait(15)
    print("printed by another thread")
    printed.set()
    thread.join(15)
    feed.sync()
    out = capsys.readouterr().out
    assert out.count("printed by the call") == 2  # where it went anyway, and the feed's copy
    assert out.count("printed by another thread") == 1
    assert "Router" not in type(sys.stdout).__name__  # removed once no call streams


def test_without_stream_stdout_calls_print_nothing_here(
    no_redis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mp_config.get_parameter(mp_config.STREAM_STDOUT) is False
    with lmp.Pool(2) as pool:  # and no Redis is needed for it
        assert pool.map(chatty, range(3)) == [0, 1, 2]
    assert "line one" not in capsys.readouterr().out
    with pytest.raises(TypeError, match="STREAM_STDOUT"):
        mp_config.set_parameter(mp_config.STREAM_STDOUT, "yes")


def test_stream_stdout_with_redis_down_is_a_clear_error(lithops_home: Path) -> None:
    from redis_server import free_port

    config = localhost_config()
    config["redis"] = {"host": "127.0.0.1", "port": free_port()}
    mp_config.set_parameter(mp_config.LITHOPS_CONFIG, config)
    mp_config.set_parameter(mp_config.STREAM_STDOUT, True)
    try:
        with pytest.raises(lmp.RedisUnavailableError, match="'redis' config section"):
            lmp.Pool(2)
    finally:
        mp_config.reset()


def test_pipe_connection_types_other_than_redislist_are_refused(configured: RedisServer) -> None:
    with pytest.raises(mp_config.UnsupportedSettingError) as refused:
        mp_config.set_parameter(mp_config.PIPE_CONNECTION_TYPE, "nanomsg")
    assert "PIPE_CONNECTION_TYPE" in str(refused.value)
    assert "not supported" in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert mp_config.get_parameter(mp_config.PIPE_CONNECTION_TYPE) == "redislist"
    mp_config.set_parameter(mp_config.PIPE_CONNECTION_TYPE, "redislist")
    a, b = lmp.Pipe()
    a.send("over redis lists")
    assert b.recv() == "over redis lists"


def test_export_execution_details_writes_plots_and_stats(no_redis: None, tmp_path: Path) -> None:
    folder = tmp_path / "details"
    mp_config.set_parameter(mp_config.EXPORT_EXECUTION_DETAILS, folder)
    with lmp.Pool(2) as pool:
        assert pool.map(read_env, range(6), chunksize=2) == [None] * 6
    p = lmp.Process(target=read_env, args=(0,))
    p.start()
    p.join(60)
    stats_files = sorted(folder.glob("*_stats.json"))
    assert len(stats_files) == 2, sorted(folder.iterdir())
    for stats_file in stats_files:
        prefix = str(stats_file)[: -len("_stats.json")]
        assert Path(f"{prefix}_timeline.png").stat().st_size > 0
        assert Path(f"{prefix}_histogram.png").stat().st_size > 0
    by_calls = sorted(len(json.loads(f.read_text())) for f in stats_files)
    assert by_calls == [1, 3]  # the process; the map's three chunks
    stats = next(iter(json.loads(stats_files[0].read_text()).values()))
    assert "worker_func_start_tstamp" in stats or "host_submit_tstamp" in stats
    mp_config.set_parameter(mp_config.EXPORT_EXECUTION_DETAILS, None)
    with lmp.Pool(2) as pool:
        pool.map(read_env, range(2))
    assert len(list(folder.glob("*_stats.json"))) == 2


def test_export_execution_details_without_matplotlib_names_the_extra(tmp_path: Path) -> None:
    program = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from lithops.multiprocessing import config\n"
        f"config.set_parameter(config.EXPORT_EXECUTION_DETAILS, {str(tmp_path)!r})\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.returncode != 0
    assert "EXPORT_EXECUTION_DETAILS" in out.stderr
    assert "lithops-core[plot]" in out.stderr


def test_env_vars_reach_processes_and_pool_tasks(configured: RedisServer) -> None:
    mp_config.set_parameter(mp_config.ENV_VARS, {"LITHOPS_MP_TEST_VAR": "from-config"})
    with lmp.Pool(2) as pool:
        assert pool.map(read_env, range(3)) == ["from-config"] * 3
    q = lmp.Queue()
    p = lmp.Process(target=put_env, args=(q,))
    p.start()
    assert q.get(timeout=60) == "from-config"
    p.join(60)
    with pytest.raises(TypeError, match="ENV_VARS"):
        mp_config.set_parameter(mp_config.ENV_VARS, ["LITHOPS_MP_TEST_VAR=x"])


def test_redis_expiry_time_sets_the_keys_ttl(configured: RedisServer) -> None:
    assert mp_config.get_parameter(mp_config.REDIS_EXPIRY_TIME) == 3600  # Lithops' default
    mp_config.set_parameter(mp_config.REDIS_EXPIRY_TIME, 45)
    event = lmp.Event()
    event.set()
    names = configured.keys()
    ttls = [configured.client().ttl(k) for k in names]
    assert ttls and all(0 < t <= 45 for t in ttls)
    for wrong in (0, -5, "60", 1.5, True):
        with pytest.raises(TypeError, match="REDIS_EXPIRY_TIME"):
            mp_config.set_parameter(mp_config.REDIS_EXPIRY_TIME, wrong)


def test_unknown_keys_name_the_valid_ones(no_redis: None) -> None:
    with pytest.raises(KeyError, match="STREAM_STDOUT"):
        mp_config.set_parameter("STREAM_OUTPUT", True)
    with pytest.raises(KeyError, match="PIPE_CONNECTION_TYPE"):
        mp_config.get_parameter("PIPE_TYPE")
