"""The Docker environment of the localhost engine, against a real engine and image."""

from __future__ import annotations

import io
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import cloudpickle
import docker
import pytest

from lithops import wire
from lithops.errors import BackendUnavailableError, CallTimeoutError
from lithops.packaging import worker_package
from lithops.plugins.types import CallBatch
from lithops_localhost.docker_env import DockerLauncher, is_docker_image
from lithops_localhost.docker_scripts import KEEPER_MARK
from lithops_localhost.engine import WorkerPool

pytestmark = pytest.mark.docker

MINE = "{}.{}".format(*sys.version_info[:2])


@pytest.fixture
def client(docker_engine: Any) -> docker.DockerClient:
    return docker_engine.client()


@pytest.fixture
def launcher(python_image: str, client: docker.DockerClient) -> Iterator[DockerLauncher]:
    launcher = DockerLauncher(python_image, client=client)
    yield launcher
    launcher.close()


def _containers_of(client: docker.DockerClient, launcher: DockerLauncher) -> list[Any]:
    """The launcher's container, if it exists (other tests' warm pools may share the engine)."""
    assert launcher.container_name, "the launcher never created its container"
    return client.containers.list(
        all=True,
        filters={"label": f"lithops.client_pid={os.getpid()}", "name": launcher.container_name},
    )


def _read_all(stream: io.BufferedReader, deadline_s: float = 30.0) -> bytes:
    result: list[bytes] = []
    done = threading.Event()

    def pump() -> None:
        result.append(stream.read())
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    assert done.wait(deadline_s), "the worker's stdout did not end"
    return result[0]


# -- the runtime rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "runtime",
    [
        "python3",
        "python",
        "python3.11",
        "pypy3",
        sys.executable,
        "/no/such/python3",
        "./venv/bin/python",
        "~/venv/bin/python",
    ],
)
def test_interpreter_runtimes_run_in_the_default_environment(runtime: str) -> None:
    assert not is_docker_image(runtime)


def test_relative_path_to_an_existing_interpreter_is_not_an_image(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    monkeypatch.chdir(tmp_path)
    assert not is_docker_image("venv/bin/python")
    assert is_docker_image("venv/bin/nothing-here")
    # For another machine's runtime, files here prove nothing.
    assert is_docker_image("venv/bin/python", check_files=False)
    assert not is_docker_image("./venv/bin/python", check_files=False)


@pytest.mark.parametrize(
    "runtime",
    ["python:3.11-slim", "python:latest", "myorg/runtime", "lithops-py311", "ubuntu", "busybox"],
)
def test_other_runtimes_are_docker_images(runtime: str) -> None:
    assert is_docker_image(runtime)


# -- shipping code ------------------------------------------------------------------------------


def test_code_archive_holds_the_worker_and_cloudpickle_without_bytecode() -> None:
    archive = worker_package().tar("opt/lithops-code", compress=False)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "opt/lithops-code/lithops/worker/__main__.py" in members
    assert "opt/lithops-code/cloudpickle/__init__.py" in members
    assert not [n for n in members if "__pycache__" in n or n.endswith(".pyc")]
    # Entries under an existing parent would reset its mode in the container.
    assert "opt" not in members
    # An image running as another user must be able to read and traverse the code.
    directory = members["opt/lithops-code/lithops/worker"]
    assert directory.isdir() and directory.mode == 0o755 and directory.uid == 0
    assert members["opt/lithops-code/lithops/worker/__main__.py"].mode == 0o644


# -- workers in the container -------------------------------------------------------------------


def test_worker_in_the_plain_python_image_greets_with_hello(launcher: DockerLauncher) -> None:
    worker = launcher.start({})
    hello = wire.decode(wire.read_frame(worker.stdout) or b"")
    wire.check_hello(hello, worker.where)
    assert hello["python"] == MINE
    assert worker.where.startswith("lithops-rt-")
    assert worker.where.endswith(f":{hello['pid']}")  # the PID inside the container


def test_workers_share_one_container(launcher: DockerLauncher, client: Any) -> None:
    first, second = launcher.start({}), launcher.start({})
    pids = {wire.decode(wire.read_frame(w.stdout) or b"")["pid"] for w in (first, second)}
    assert len(pids) == 2
    assert [c.id for c in _containers_of(client, launcher)] == [launcher.container_id]


def test_worker_runs_inside_the_image_with_the_env_it_was_given(
    python_image: str, client: docker.DockerClient
) -> None:
    probe = (
        "import os, sys, lithops; "
        "print(os.path.exists('/.dockerenv')); "
        "print(open('/etc/os-release').read().split('VERSION_CODENAME=')[1].split()[0]); "
        "print(os.environ.get('LITHOPS_PROBE'), os.environ.get('HOME')); "
        "print(os.path.dirname(os.path.dirname(lithops.__file__))); "
        "print(open('/proc/1/cmdline').read().split(chr(0))[2].split(chr(10))[0])"
    )
    launcher = DockerLauncher(python_image, client=client, worker_argv=["python3", "-c", probe])
    try:
        worker = launcher.start({"LITHOPS_PROBE": "yes", "HOME": "/client/home"})
        worker.stdin.close()
        lines = _read_all(worker.stdout).decode().splitlines()
    finally:
        launcher.close()
    # The client's HOME is a path of the client machine: it never crosses into the image.
    # /.dockerenv and bookworm alone prove little (a CI machine may be a bookworm container
    # itself); PID 1 being our keeper proves the worker shares the launcher's container.
    assert lines == ["True", "bookworm", "yes /root", "/opt/lithops-code", f"# {KEEPER_MARK}"]


def test_stdout_carries_only_stdout_and_stderr_lines_are_kept(
    python_image: str, client: docker.DockerClient
) -> None:
    # Interleaved, large writes on both streams: each must arrive whole and unmixed.
    script = (
        "import sys\n"
        "for i in range(200):\n"
        "    sys.stdout.buffer.write(bytes([i % 256]) * 5000); sys.stdout.flush()\n"
        "    sys.stderr.write('line %d\\n' % i); sys.stderr.flush()\n"
        "sys.stdout.buffer.write(sys.stdin.buffer.read())\n"
    )
    launcher = DockerLauncher(python_image, client=client, worker_argv=["python3", "-c", script])
    try:
        worker = launcher.start({})
        payload = os.urandom(300_000)
        worker.stdin.write(payload)
        worker.stdin.flush()
        worker.stdin.close()
        out = _read_all(worker.stdout)
        description = worker.exit_description()
    finally:
        launcher.close()
    expected = b"".join(bytes([i % 256]) * 5000 for i in range(200)) + payload
    assert len(out) == len(expected)
    assert out == expected
    assert worker.stderr_tail()[-1] == "line 199"
    assert len(worker.stderr_tail()) == 50
    assert description == "exited with code 0"


def test_failed_worker_description_carries_its_stderr(
    python_image: str, client: docker.DockerClient
) -> None:
    script = "import sys; sys.stderr.write('cannot go on\\n'); sys.exit(3)"
    launcher = DockerLauncher(python_image, client=client, worker_argv=["python3", "-c", script])
    try:
        worker = launcher.start({})
        assert _read_all(worker.stdout) == b""
        description = worker.exit_description()
    finally:
        launcher.close()
    assert description.startswith("exited with code 3")
    assert "cannot go on" in description


def test_kill_ends_the_worker_and_exit_description_says_killed(launcher: DockerLauncher) -> None:
    worker = launcher.start({})
    assert wire.read_frame(worker.stdout) is not None  # hello: it is up and waiting for work
    began = time.monotonic()
    worker.kill()
    assert _read_all(worker.stdout, deadline_s=10) == b""
    assert time.monotonic() - began < 5
    assert "SIGKILL" in worker.exit_description()
    worker.kill()  # idempotent


def test_kill_also_ends_processes_the_worker_started(
    python_image: str, client: docker.DockerClient
) -> None:
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '1000'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(1000)\n"
    )
    launcher = DockerLauncher(python_image, client=client, worker_argv=["python3", "-c", script])
    try:
        worker = launcher.start({})
        child_pid = int(worker.stdout.readline())
        worker.kill()
        assert _read_all(worker.stdout, deadline_s=10) == b""
        container = client.containers.get(launcher.container_id or "")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            alive = container.exec_run(["sh", "-c", f"test -d /proc/{child_pid}"]).exit_code
            if alive != 0:
                break
            time.sleep(0.1)
        assert alive != 0, "the worker's child survived the kill"
    finally:
        launcher.close()


def test_closing_stdin_lets_the_worker_exit_cleanly(launcher: DockerLauncher) -> None:
    worker = launcher.start({})
    assert wire.read_frame(worker.stdout) is not None
    worker.stdin.close()
    assert _read_all(worker.stdout) == b""
    assert worker.exit_description() == "exited with code 0"


def test_worker_runs_a_batch_of_calls(launcher: DockerLauncher) -> None:
    mark = KEEPER_MARK

    def where(x: int) -> tuple[int, bool, int]:
        import os

        with open("/proc/1/cmdline") as handle:
            in_container = mark in handle.read()
        return x * 2, in_container, os.getpid()

    worker = launcher.start({})
    assert wire.read_frame(worker.stdout) is not None
    message = {
        "t": "batch",
        "job_key": "e/j",
        "func_key": "f",
        "func": cloudpickle.dumps(where),
        "calls": ["0", "1"],
        "args": pickle.dumps([((1,), {}), ((2,), {})]),
    }
    wire.write_frame(worker.stdin, wire.encode(message))
    worker.stdin.flush()
    records: list[dict[str, Any]] = []
    while len(records) < 2:
        frame = wire.decode(wire.read_frame(worker.stdout) or b"")
        if frame["t"] == "results":
            records.extend(frame["records"])
    values = [pickle.loads(r["value"]) for r in records]
    assert [v[:2] for v in values] == [(2, True), (4, True)]
    assert f":{values[0][2]}" in worker.where


def test_a_removed_container_loses_its_workers_and_is_replaced(
    launcher: DockerLauncher, client: docker.DockerClient
) -> None:
    worker = launcher.start({})
    assert wire.read_frame(worker.stdout) is not None
    first = launcher.container_id
    client.containers.get(first or "").remove(force=True)  # someone else's `docker rm -f`
    assert _read_all(worker.stdout, deadline_s=10) == b""
    assert worker.exit_description() == "was lost with its container (removed while the worker ran)"
    replacement = launcher.start({})
    hello = wire.decode(wire.read_frame(replacement.stdout) or b"")
    assert hello["t"] == "hello"
    assert launcher.container_id not in (None, first)


# -- failures say what to do --------------------------------------------------------------------


def test_missing_image_is_unavailable_and_named(client: docker.DockerClient) -> None:
    launcher = DockerLauncher("lithops-test/no-such-image:1", client=client)
    with pytest.raises(BackendUnavailableError, match="no-such-image:1") as info:
        launcher.start({})
    assert "docker pull lithops-test/no-such-image:1" in str(info.value)
    assert "build" in str(info.value)
    launcher.close()


def test_unreachable_engine_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    launcher = DockerLauncher("any-image")
    with pytest.raises(BackendUnavailableError, match="DOCKER_HOST") as info:
        launcher.start({})
    assert "/nonexistent/docker.sock" in str(info.value)
    launcher.close()


def test_image_without_the_interpreter_is_unavailable(
    python_image: str, client: docker.DockerClient
) -> None:
    launcher = DockerLauncher(python_image, client=client, python="python9")
    with pytest.raises(BackendUnavailableError, match="python9"):
        launcher.start({})
    launcher.close()
    assert not _containers_of(client, launcher)


def test_closed_launcher_refuses_to_start(launcher: DockerLauncher) -> None:
    launcher.close()
    with pytest.raises(BackendUnavailableError, match="closed"):
        launcher.start({})


# -- cleanup ------------------------------------------------------------------------------------


def test_close_leaves_no_container_behind(python_image: str, client: docker.DockerClient) -> None:
    launcher = DockerLauncher(python_image, client=client)
    worker = launcher.start({})
    assert wire.read_frame(worker.stdout) is not None
    container = client.containers.get(launcher.container_id or "")
    assert container.labels["lithops.runtime"] == python_image
    assert container.labels["lithops.client_pid"] == str(os.getpid())
    launcher.close()
    launcher.close()
    assert not _containers_of(client, launcher)
    assert _read_all(worker.stdout, deadline_s=10) == b""


def test_a_client_that_never_closes_leaves_no_container(
    python_image: str, docker_engine: Any, tmp_path: Any
) -> None:
    script = tmp_path / "client.py"
    script.write_text(
        "import os, sys\n"
        "from lithops_localhost.docker_env import DockerLauncher\n"
        "w = DockerLauncher(sys.argv[1]).start({})\n"
        "print(os.getpid(), flush=True)\n"
    )
    env = {**os.environ, "DOCKER_HOST": docker_engine.host}
    done = subprocess.run(
        [sys.executable, str(script), python_image],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pid = done.stdout.strip()
    left = docker_engine.client().containers.list(
        all=True, filters={"label": f"lithops.client_pid={pid}"}
    )
    assert left == []


# -- through the pool and the executor ----------------------------------------------------------


class _Sink:
    """Collects the pool's events; ``wait_for(n)`` waits until ``n`` calls have ended."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lost_calls: list[tuple[Any, BaseException]] = []
        self._ended = threading.Condition()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._ended:
            return self._ended.wait_for(
                lambda: len(self.records) + len(self.lost_calls) >= count, timeout
            )

    def results(self, records: Any) -> None:
        with self._ended:
            self.records.extend(records)
            self._ended.notify_all()

    def lost(self, keys: Any, error: BaseException) -> None:
        with self._ended:
            self.lost_calls.extend((k, error) for k in keys)
            self._ended.notify_all()

    def running(self, key: Any, since: float, where: str) -> None:
        pass

    def requeue(self, keys: Any) -> None:
        pass

    def log(self, key: Any, lines: Any) -> None:
        pass


def _batch(job_key: str, func: Any, args: list[Any], timeout: float | None = None) -> CallBatch:
    calls = [str(i) for i in range(len(args))]
    message = {
        "t": "batch",
        "job_key": job_key,
        "func_key": job_key,
        "func": cloudpickle.dumps(func),
        "calls": calls,
        "args": pickle.dumps([((a,), {}) for a in args]),
        "timeout": timeout,
    }
    keys = [(job_key, c) for c in calls]
    return CallBatch(job_key, keys, wire.encode(message), timeout, func_key=job_key)


def test_worker_pool_runs_batches_in_the_container(
    python_image: str, client: docker.DockerClient
) -> None:
    mark = KEEPER_MARK

    def probe(x: int) -> tuple[int, bool, bool, str]:
        import os

        with open("/etc/os-release") as handle:
            codename = handle.read().split("VERSION_CODENAME=")[1].split()[0]
        with open("/proc/1/cmdline") as handle:
            in_container = mark in handle.read()
        return x * x, os.path.exists("/.dockerenv"), in_container, codename

    sink = _Sink()
    launcher = DockerLauncher(python_image, client=client)
    pool = WorkerPool(2, sink, launcher=launcher)
    try:
        pool.submit(_batch("e/a", probe, [1, 2, 3]))
        pool.submit(_batch("e/b", probe, [4, 5, 6]))
        assert sink.wait_for(6, timeout=60), "the pool did not finish the batches"
    finally:
        pool.close()
    assert sink.lost_calls == []
    values = sorted(pickle.loads(r["value"]) for r in sink.records)
    assert values == [(x * x, True, True, "bookworm") for x in range(1, 7)]
    assert not _containers_of(client, launcher)


def test_calls_in_the_container_reach_services_on_the_hosts_loopback(
    python_image: str, client: docker.DockerClient
) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"from the host")

    threading.Thread(target=answer, daemon=True).start()

    def fetch(port: int) -> bytes:
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            return connection.recv(100)

    sink = _Sink()
    pool = WorkerPool(1, sink, launcher=DockerLauncher(python_image, client=client))
    try:
        pool.submit(_batch("e/net", fetch, [port]))
        assert sink.wait_for(1, timeout=60)
    finally:
        pool.close()
        server.close()
    assert sink.lost_calls == []
    assert [pickle.loads(r["value"]) for r in sink.records] == [b"from the host"]


def test_call_timeout_kills_the_worker_in_the_container(
    python_image: str, client: docker.DockerClient
) -> None:
    def sleepy(x: int) -> int:
        import time

        time.sleep(x)
        return x

    sink = _Sink()
    pool = WorkerPool(1, sink, launcher=DockerLauncher(python_image, client=client))
    try:
        pool.submit(_batch("e/slow", sleepy, [60], timeout=1.0))
        assert sink.wait_for(1, timeout=30), "the timed-out call never ended"
        assert [type(e) for _, e in sink.lost_calls] == [CallTimeoutError]
        # The pool replaces the killed worker: the next call runs.
        pool.submit(_batch("e/quick", sleepy, [0]))
        assert sink.wait_for(2, timeout=30)
        assert [pickle.loads(r["value"]) for r in sink.records] == [0]
    finally:
        pool.close()


def test_function_executor_maps_in_the_image(
    python_image: str, docker_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lithops

    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)

    mark = KEEPER_MARK

    def where(x: int) -> tuple[int, bool, bool, str]:
        import os

        with open("/etc/os-release") as handle:
            codename = handle.read().split("VERSION_CODENAME=")[1].split()[0]
        with open("/proc/1/cmdline") as handle:
            in_container = mark in handle.read()
        return x + 1, os.path.exists("/.dockerenv"), in_container, codename

    with lithops.FunctionExecutor(backend="localhost", runtime=python_image) as executor:
        results = executor.get_result(executor.map(where, range(4)))
    assert results == [(x + 1, True, True, "bookworm") for x in range(4)]
    # The control: the default environment answers the same probe differently.
    with lithops.FunctionExecutor(backend="localhost") as executor:
        assert executor.get_result(executor.map(where, [0]))[0][2] is False


def test_a_client_killed_with_sigkill_leaves_no_container(
    python_image: str, docker_engine: Any, tmp_path: Any
) -> None:
    script = tmp_path / "client.py"
    script.write_text(
        "import sys, time\n"
        "from lithops_localhost.docker_env import DockerLauncher\n"
        "launcher = DockerLauncher(sys.argv[1])\n"
        "launcher.start({})\n"
        "print(launcher.container_id, flush=True)\n"
        "time.sleep(300)\n"
    )
    env = {**os.environ, "DOCKER_HOST": docker_engine.host}
    client_proc = subprocess.Popen(
        [sys.executable, str(script), python_image], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert client_proc.stdout is not None
        container_id = client_proc.stdout.readline().strip()
        assert container_id
        engine = docker_engine.client()
        assert engine.containers.get(container_id).status == "running"
    finally:
        client_proc.kill()  # SIGKILL: no atexit, no close()
        client_proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not engine.containers.list(all=True, filters={"id": container_id}):
            break
        time.sleep(0.2)
    assert not engine.containers.list(all=True, filters={"id": container_id})


def test_failed_pull_is_unavailable_and_says_why(client: docker.DockerClient) -> None:
    # A registry on a closed local port: the engine's pull fails at once, without egress.
    image = "127.0.0.1:9/lithops-test/absent:1"
    launcher = DockerLauncher(image, client=client, pull=True)
    with pytest.raises(BackendUnavailableError, match="pulling it failed") as info:
        launcher.start({})
    assert image in str(info.value)
    launcher.close()


@pytest.fixture(scope="module")
def bullseye_image(docker_engine: Any) -> str:
    from testbed import TestbedUnavailable, ensure_python_image

    try:
        return ensure_python_image(docker_engine, "bullseye")
    except TestbedUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"testbed component unavailable in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


def test_image_with_another_python_minor_is_refused(
    bullseye_image: str, client: docker.DockerClient
) -> None:
    launcher = DockerLauncher(bullseye_image, client=client)
    with pytest.raises(BackendUnavailableError, match=r"runs Python 3\.9") as info:
        launcher.start({})
    assert f"Python {MINE}" in str(info.value)
    launcher.close()
    assert not _containers_of(client, launcher)


def test_image_without_python_is_unavailable(
    busybox_image: str, client: docker.DockerClient
) -> None:
    launcher = DockerLauncher(busybox_image, client=client)
    with pytest.raises(BackendUnavailableError, match="python3") as info:
        launcher.start({})
    assert busybox_image in str(info.value)
    launcher.close()
    assert not _containers_of(client, launcher)


@pytest.fixture(scope="module")
def image_without_shell(python_image: str, docker_engine: Any) -> Iterator[str]:
    """The python image minus every shell, like a distroless image."""
    client = docker_engine.client()
    container = client.containers.run(
        python_image,
        ["python3", "-c", "import os; [os.remove(p) for p in ('/usr/bin/sh', '/usr/bin/dash')]"],
        entrypoint=[],
        detach=True,
    )
    try:
        assert container.wait(timeout=60)["StatusCode"] == 0
        tag = "lithops-test/python3-noshell:bookworm"
        container.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
    finally:
        container.remove(force=True)
    yield tag
    client.images.remove(tag, force=True)


def test_an_image_without_a_shell_runs_workers(
    image_without_shell: str, client: docker.DockerClient
) -> None:
    launcher = DockerLauncher(image_without_shell, client=client)
    try:
        worker = launcher.start({})
        hello = wire.decode(wire.read_frame(worker.stdout) or b"")
        assert hello["t"] == "hello"
        container = client.containers.get(launcher.container_id or "")
        assert (
            container.exec_run(["python3", "-c", "import shutil; print(shutil.which('sh'))"]).output
            == b"None\n"
        )
        worker.kill()
        assert _read_all(worker.stdout, deadline_s=10) == b""
        assert "SIGKILL" in worker.exit_description()
    finally:
        launcher.close()
