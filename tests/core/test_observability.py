"""What a user sees: progress bars only when interactive, quiet logs, plots, job summaries,
and stats on every future, failed ones included."""

from __future__ import annotations

import csv
import io
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lithops
from lithops.future import CallState

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: A warm pool of these tests' own (pools are shared per runtime and size): calls that other
#: test modules leave running cannot take the workers these timings count on.
OWN_POOL = sys.executable


@pytest.fixture
def fexec(lithops_home: Path) -> Iterator[lithops.FunctionExecutor]:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        yield executor


def needs_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        reason = "matplotlib missing: pip install 'lithops-core[plot]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must install the plot extra: {reason}", pytrace=False)
        pytest.skip(reason)


def mixed(x: int) -> int:
    """Succeeds, raises, or kills its own worker, depending on ``x``."""
    if x == 1:
        raise ValueError("one")
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 3:
        time.sleep(60)
    time.sleep(0.05)
    return x


def slow(x: int) -> int:
    time.sleep(0.3)
    return x


def mixed_futures(fexec: lithops.FunctionExecutor) -> list[lithops.future.ResponseFuture]:
    """Every outcome: success, failed, lost, timed out, unpicklable argument, cancelled."""
    fs = fexec.map(mixed, [0, 1, 2, 3, 4, 5], timeout=2)
    bad = fexec.map(mixed, [0, threading.Lock()])
    running = fexec.call_async(time.sleep, (60,))
    fexec.wait([*fs, *bad], throw_except=False, timeout=15)
    running.cancel()
    return [*fs, *bad, running]


# -- stats ------------------------------------------------------------------------------------


def test_every_future_has_stats_whatever_its_outcome(fexec: lithops.FunctionExecutor) -> None:
    futures = mixed_futures(fexec)
    states = [f.call_state for f in futures]
    assert states == [
        CallState.SUCCESS, CallState.FAILED, CallState.LOST, CallState.LOST,
        CallState.SUCCESS, CallState.SUCCESS, CallState.SUCCESS, CallState.FAILED,
        CallState.CANCELLED,
    ]  # fmt: skip
    for f in futures:
        submitted = f.stats["host_submit_tstamp"]
        done = f.stats["host_status_done_tstamp"]
        assert 0 < submitted <= done, f
        assert f.stats["host_job_create_tstamp"] <= submitted
    ran = [f for f in futures if f.call_state in (CallState.SUCCESS, CallState.FAILED)]
    for f in ran[:-1]:  # the last FAILED one never ran: its argument could not be pickled
        for key in ("worker_start_tstamp", "worker_func_start_tstamp", "worker_exec_time"):
            assert key in f.stats, (f, key)


# -- plots ------------------------------------------------------------------------------------


def test_plot_writes_a_timeline_and_a_histogram(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    needs_matplotlib()
    futures = mixed_futures(fexec)
    futures += fexec.map(slow, range(6))
    fexec.wait(futures, throw_except=False)
    paths = fexec.plot(futures, dst=str(tmp_path / "run"))
    assert [Path(p).name for p in paths] == ["run_timeline.png", "run_histogram.png"]
    for path in paths:
        data = Path(path).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_plot_of_every_future_by_default_into_a_directory(
    fexec: lithops.FunctionExecutor, tmp_path: Path
) -> None:
    needs_matplotlib()
    fexec.map(slow, range(4)).get_result()
    paths = fexec.plot(dst=str(tmp_path) + os.sep)
    assert len(paths) == 2 and all(Path(p).parent == tmp_path for p in paths)
    assert all(Path(p).stat().st_size > 0 for p in paths)


def test_plot_without_matplotlib_says_which_extra_to_install(
    fexec: lithops.FunctionExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fexec.map(abs, [1]).get_result()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'lithops-core\[plot\]'"):
        fexec.plot(dst=str(tmp_path / "x"))


# -- job summary ------------------------------------------------------------------------------


def test_job_summary_writes_one_row_per_job_with_a_cost(
    fexec: lithops.FunctionExecutor,
) -> None:
    first = fexec.map(abs, [-1, -2, -3])
    second = fexec.call_async(abs, (-4,))
    third = fexec.map(mixed, [0, 1])
    fexec.wait([*first, second, *third], throw_except=False)
    path = fexec.job_summary()
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["job_key"] for r in rows] == [first[0].job_key, second.job_key, third[0].job_key]
    assert [r["function"] for r in rows] == ["abs", "abs", "mixed"]
    assert [r["calls"] for r in rows] == ["3", "1", "2"]
    assert [(r["success"], r["failed"]) for r in rows] == [("3", "0"), ("1", "0"), ("1", "1")]
    assert all(float(r["cost"]) == 0 for r in rows)  # localhost is free
    assert all(float(r["total_exec_time_s"]) >= 0 for r in rows)
    fexec.map(abs, [1]).get_result()
    with open(fexec.job_summary(), newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4  # rewritten whole: every job so far


# -- progress bar and logs --------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_an_interactive_terminal(
    fexec: lithops.FunctionExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fexec.get_result(fexec.map(slow, range(6)))
    drawn = terminal.getvalue()
    assert "0/6" in drawn and "call/s" in drawn  # tqdm drew a bar of 6 calls

    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    fexec.get_result(fexec.map(slow, range(6)), show_progressbar=False)
    assert quiet.getvalue() == ""

    piped = io.StringIO()  # not a TTY (CI, a pipe): no bar, whatever the log level
    monkeypatch.setattr(sys, "stderr", piped)
    logging.getLogger("lithops").setLevel(logging.DEBUG)
    try:
        fexec.get_result(fexec.map(slow, range(6)))
    finally:
        logging.getLogger("lithops").setLevel(logging.NOTSET)
    assert "/6" not in piped.getvalue() and "%|" not in piped.getvalue()


def test_logs_are_quiet_by_default(lithops_home: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with lithops.FunctionExecutor(
        backend="localhost", worker_processes=2, runtime=OWN_POOL
    ) as executor:
        fs = executor.map(mixed, [0, 1, 4], retries=1)
        executor.get_result(fs, throw_except=False)
    out, err = capfd.readouterr()
    assert "lithops" not in err and "retrying" not in err
    assert out == ""
