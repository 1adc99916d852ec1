"""The peers under comparison and how to run code in each of them.

Every measurement runs in a child interpreter wrapped in ``timeout`` (a Lithops 3.8 task that
dies makes it hang; our own code is being written while this runs). Each child carries a unique
``BENCH_RUN_ID`` in its environment, so processes it leaves behind (Lithops 3.8's detached
cleaner, a worker pool that outlives its client) are found by that marker and stopped by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LITHOPS38_VERSION",
    "PEERS",
    "PEER_LABELS",
    "PeerSet",
    "ProbeOutcome",
    "Session",
    "compile_sources",
    "ensure_lithops38",
]

BENCH_DIR = Path(__file__).resolve().parent
PROBE = BENCH_DIR / "probe.py"
VENVS = BENCH_DIR / ".venvs"
LITHOPS38_VERSION = "3.8.0"
LITHOPS38_VENV = VENVS / "lithops38"

PEERS = ("ours", "ppe", "lithops38")
PEER_LABELS = {"ours": "ours", "ppe": "PPE", "lithops38": "Lithops 3.8"}

RESULT_MARK = "BENCH_RESULT "
SAMPLE_MARK = "BENCH_SAMPLE "
FIRST_MARK = "BENCH_FIRST "


class Lithops38InstallError(RuntimeError):
    """pip could not install Lithops 3.8 into bench/.venvs/lithops38."""


@dataclass
class ProbeOutcome:
    samples: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    exit_note: str = ""


def lithops38_python() -> Path:
    return LITHOPS38_VENV / "bin" / "python"


def ensure_lithops38(log: Any) -> Path:
    """Create bench/.venvs/lithops38 with lithops==3.8.0 unless it is already there."""
    python = lithops38_python()
    probe = [str(python), "-c", "import lithops; print(lithops.__version__)"]
    if python.exists():
        got = subprocess.run(probe, capture_output=True, text=True, check=False)
        if got.returncode == 0 and got.stdout.strip() == LITHOPS38_VERSION:
            return python
    log(f"installing lithops=={LITHOPS38_VERSION} into {LITHOPS38_VENV} ...")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(LITHOPS38_VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"lithops=={LITHOPS38_VERSION}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode != 0:
        raise Lithops38InstallError(
            f"pip install lithops=={LITHOPS38_VERSION} failed (exit {pip.returncode}):\n"
            f"{pip.stderr[-2000:]}\nCheck the package index settings of pip, or run without "
            "this peer: --only ours,ppe"
        )
    return python


@dataclass
class Session:
    """One child-process environment for a peer: interpreter, env, cwd, scratch dir."""

    peer: str
    python: str
    env: dict[str, str]
    cwd: str
    run_id: str

    def probe(self, spec: dict[str, Any], timeout_s: float) -> ProbeOutcome:
        """Run probe.py with ``spec`` and return its samples (or the error)."""
        api = "ppe" if self.peer == "ppe" else "lithops"
        argv = [self.python, str(PROBE), json.dumps({"api": api, **spec})]
        out = self._run(argv, timeout_s)
        line = _last_marked(out.stdout, RESULT_MARK)
        result = ProbeOutcome(wall_s=out.wall_s, exit_note=out.exit_note)
        if line is None:
            partial = [float(s) for s in _all_marked(out.stdout, SAMPLE_MARK)]
            why = out.exit_note or f"exit {out.returncode}"
            if partial:
                # Keep what was measured before a later repeat hung or crashed.
                result.samples = partial
                result.exit_note = f"only {len(partial)} of {spec.get('repeats')} repeats: {why}"
                return result
            result.error = f"no result ({why}): " + (_tail(out.stderr) or _tail(out.stdout))
            return result
        data = json.loads(line)
        result.samples = [float(s) for s in data["samples"]]
        result.info = data.get("info", {})
        result.error = data.get("error")
        if result.error and data.get("traceback"):
            result.info["traceback"] = data["traceback"]
        return result

    def cold(self, code: str, timeout_s: float) -> ProbeOutcome:
        """Wall time from spawning ``python -c code`` to the moment it prints its first result."""
        argv = [self.python, "-c", code]
        out = self._run(argv, timeout_s)
        result = ProbeOutcome(wall_s=out.wall_s, exit_note=out.exit_note)
        line = _last_marked(out.stdout, FIRST_MARK)
        if line is None:
            result.error = f"no result ({out.exit_note or 'exit ' + str(out.returncode)}): " + (
                _tail(out.stderr) or _tail(out.stdout)
            )
            return result
        # Both stamps are time.time() on the same machine: comparable across processes.
        result.samples = [float(line) - out.started_at]
        return result

    def _run(self, argv: list[str], timeout_s: float) -> _RunOutput:
        cmd = ["timeout", "-k", "10", str(int(timeout_s)), *argv]
        started_at = time.time()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                env=self.env,
                cwd=self.cwd,
                capture_output=True,
                text=True,
                timeout=timeout_s + 60,
                check=False,
            )
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = _text(exc.stdout)
            stderr = _text(exc.stderr)
            rc = -9
        wall = time.perf_counter() - t0
        note = ""
        if rc in (124, 137, -9):
            note = f"killed by timeout after {timeout_s:.0f} s"
        stop_leftovers(self.run_id, grace_s=30.0)
        return _RunOutput(stdout, stderr, rc, wall, started_at, note)


def compile_sources(log: Callable[[str], None]) -> None:
    """Write the bytecode of our distributions and of Lithops 3.8's venv, if it exists.

    pip compiles what it installs; an editable checkout has only what earlier runs wrote.
    """
    repo = Path(__file__).resolve().parents[1]
    targets = [str(src) for src in sorted(repo.glob("lithops-*/src"))]
    if LITHOPS38_VENV.exists():
        targets.append(str(LITHOPS38_VENV / "lib"))
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *targets], capture_output=True, check=False
    )
    if done.returncode != 0:
        log(f"compileall exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")


@dataclass
class _RunOutput:
    stdout: str
    stderr: str
    returncode: int
    wall_s: float
    started_at: float
    exit_note: str


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _all_marked(stdout: str, mark: str) -> list[str]:
    return [line[len(mark) :] for line in stdout.splitlines() if line.startswith(mark)]


def _last_marked(stdout: str, mark: str) -> str | None:
    found = _all_marked(stdout, mark)
    return found[-1] if found else None


def _tail(text: str, lines: int = 6) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(kept)[-800:]


def _pids_with_marker(run_id: str) -> list[int]:
    marker = f"BENCH_RUN_ID={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def stop_leftovers(run_id: str, grace_s: float) -> list[int]:
    """Wait for processes started by this run to exit on their own, then stop them by PID."""
    deadline = time.monotonic() + grace_s
    pids = _pids_with_marker(run_id)
    while pids and time.monotonic() < deadline:
        time.sleep(0.5)
        pids = _pids_with_marker(run_id)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids:
            time.sleep(2)
            pids = _pids_with_marker(run_id)
    return pids


@dataclass
class PeerSet:
    """The peers selected with --only, and a factory of child-process sessions for each."""

    selected: tuple[str, ...]

    @contextmanager
    def session(self, peer: str, *, own_tmpdir: bool = False) -> Iterator[Session]:
        """A fresh scratch dir (TMPDIR for Lithops 3.8, with its own config), removed after.

        :param own_tmpdir: also point TMPDIR at the scratch dir for ``ours`` and ``ppe``
            (a machine with nothing cached in its temporary directory).
        """
        run_id = uuid.uuid4().hex
        scratch = tempfile.mkdtemp(prefix=f"bench-{peer}-")
        env = dict(os.environ)
        env["BENCH_RUN_ID"] = run_id
        env["PYTHONUNBUFFERED"] = "1"
        # Every peer starts from bytecode written once (compile_sources), as after a pip
        # install; a shell's PYTHONDONTWRITEBYTECODE would leave edited modules to be compiled
        # again at every cold start.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Zero config for our executor and PPE; Lithops 3.8 gets exactly the file below.
        env.pop("LITHOPS_CONFIG_FILE", None)
        python = sys.executable
        if own_tmpdir:
            env["TMPDIR"] = scratch
        if peer == "lithops38":
            python = str(lithops38_python())
            config = Path(scratch) / "lithops_config.yaml"
            # localhost.runtime: Lithops 3.8 otherwise runs tasks with whatever `python` is on
            # PATH (the system one, where it is not installed) and every call fails.
            # data_limit false: its default 4 MiB cap on map arguments rejects scenario (c).
            config.write_text(
                "lithops:\n  backend: localhost\n  storage: localhost\n  data_limit: false\n"
                f"localhost:\n  runtime: {python}\n"
            )
            env["LITHOPS_CONFIG_FILE"] = str(config)
            env["TMPDIR"] = scratch
            env["PATH"] = f"{LITHOPS38_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env["VIRTUAL_ENV"] = str(LITHOPS38_VENV)
        try:
            yield Session(peer, python, env, scratch, run_id)
        finally:
            stop_leftovers(run_id, grace_s=30.0)
            shutil.rmtree(scratch, ignore_errors=True)
