"""The testbed itself: images and hosts are what the other tests assume they are."""

from __future__ import annotations

from collections.abc import Callable

import docker
import paramiko
import pytest
from testbed import DockerEngine, SshHost


def _ssh_run(host: SshHost, command: str, user: str | None = None) -> tuple[int, str]:
    client = host.connect(user=user)
    try:
        _, stdout, stderr = client.exec_command(command, timeout=30)
        code = stdout.channel.recv_exit_status()
        return code, stdout.read().decode() + stderr.read().decode()
    finally:
        client.close()


def test_engine_answers_and_is_exported(docker_engine: DockerEngine) -> None:
    import os

    assert os.environ["DOCKER_HOST"] == docker_engine.host
    assert docker_engine.client().ping()


def test_plain_python_image_runs_python_3_11(
    docker_engine: DockerEngine, python_image: str
) -> None:
    output = docker_engine.client().containers.run(
        python_image,
        ["python3", "-c", "import sys; print(sys.version_info[:2])"],
        remove=True,
        network_mode="none",
    )
    assert output.decode().strip() == "(3, 11)"


def test_plain_python_image_has_no_pip(docker_engine: DockerEngine, python_image: str) -> None:
    with pytest.raises(docker.errors.ContainerError):
        docker_engine.client().containers.run(
            python_image, ["python3", "-m", "pip", "--version"], remove=True, network_mode="none"
        )


def test_busybox_image_runs_a_shell(docker_engine: DockerEngine, busybox_image: str) -> None:
    output = docker_engine.client().containers.run(
        busybox_image, ["sh", "-c", "echo ok"], remove=True, network_mode="none"
    )
    assert output == b"ok\n"


def test_both_ssh_hosts_accept_the_key_and_run_python_3_11(ssh_hosts: list[SshHost]) -> None:
    assert len(ssh_hosts) == 2
    assert len({host.address for host in ssh_hosts}) == 2
    for host in ssh_hosts:
        for user in (host.user, "root"):
            code, output = _ssh_run(host, "python3 --version", user=user)
            assert (code, output.strip()) == (0, "Python 3.11.2")


def test_ssh_hosts_have_nothing_but_python(ssh_hosts: list[SshHost]) -> None:
    for host in ssh_hosts:
        for tool in ("pip", "pip3", "sudo", "docker", "systemctl"):
            code, _ = _ssh_run(host, f"command -v {tool}")
            assert code != 0, f"{tool} should not exist on {host.name}"
        code, _ = _ssh_run(host, "python3 -c 'import venv, ensurepip'")
        assert code != 0, "python3-venv is not installed on a fresh VM"


def test_ssh_host_user_can_use_the_mounted_engine(ssh_hosts: list[SshHost]) -> None:
    host = ssh_hosts[0]
    # A raw HTTP ping over the socket: no docker SDK on the host, only python3.
    probe = (
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock'); "
        "s.sendall(b'GET /_ping HTTP/1.0\\r\\n\\r\\n'); print(s.recv(4096).split(b'\\r\\n')[0])"
    )
    code, output = _ssh_run(host, f'python3 -c "{probe}"')
    assert code == 0, output
    assert "200 OK" in output


def test_bullseye_host_reports_python_3_9(ssh_host_factory: Callable[..., SshHost]) -> None:
    host = ssh_host_factory(image="bullseye")
    assert host.python_version == (3, 9)
    code, output = _ssh_run(host, "python3 -c 'import sys; print(sys.version_info[:2])'")
    assert (code, output.strip()) == (0, "(3, 9)")


def test_recreated_host_keeps_its_address_but_not_its_host_key(
    ssh_host_factory: Callable[..., SshHost],
) -> None:
    host = ssh_host_factory()
    before = host.connect().get_transport()
    assert before is not None
    old_key = before.get_remote_server_key()
    before.close()
    address = host.address
    code, _ = host.exec("touch /tmp/marker")
    assert code == 0

    host.recreate()

    assert host.address == address
    after = host.connect().get_transport()
    assert after is not None
    assert after.get_remote_server_key() != old_key
    after.close()
    code, _ = host.exec("test -e /tmp/marker")
    assert code != 0, "a recreated host starts from a fresh filesystem"


def test_killed_host_stops_answering(ssh_host_factory: Callable[..., SshHost]) -> None:
    host = ssh_host_factory()
    client = host.connect()
    host.kill()
    assert not host.is_running()
    with pytest.raises((paramiko.SSHException, OSError, EOFError)):
        _, stdout, _ = client.exec_command("true", timeout=5)
        stdout.channel.recv_exit_status()
    client.close()


@pytest.mark.docker
def test_engine_killed_mid_run_starts_clean_next_time(
    docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session that ends hard SIGKILLs the engine under running containers; the next run
    (CI on the same disk) must get an engine at once, with nothing of the dead run left.

    Uses an engine of its own, in a scratch root of its own, beside the run's engine.
    """
    import os
    import shutil
    import signal
    import tempfile
    from pathlib import Path

    from testbed import ensure_busybox_image, ensure_engine, stop_engine
    from testbed.engine import unmount_below

    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed although the run's engine answers")
    root = Path(tempfile.mkdtemp(prefix="tb-", dir="/var/tmp"))
    monkeypatch.setenv("LITHOPS_TESTBED_DIR", str(root))
    first = ensure_engine()
    second = None
    try:
        assert first.pid is not None, "a fresh scratch root must start its own engine"
        client = first.client()
        image = ensure_busybox_image(first)
        running = [
            client.containers.run(image, ["sleep", "300"], detach=True, network_mode="none")
            for _ in range(5)
        ]
        container_pids = [c.attrs["State"]["Pid"] for c in (c.reload() or c for c in running)]
        first.close_clients()
        # What the end of a session does: every process goes, the engine's first.
        doomed = [first.pid, *container_pids, *_processes_mentioning(str(root))]
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in doomed:
            _reap(pid)
        log_path = root / "dockerd.log"
        before = log_path.stat().st_size

        second = ensure_engine()

        assert second.pid is not None and second.pid != first.pid
        assert second.client().ping()
        assert second.client().containers.list(all=True) == []
        assert image in {tag for i in second.client().images.list() for tag in i.tags}
        with open(log_path, "rb") as handle:
            handle.seek(before)
            restart_log = handle.read().decode(errors="replace")
        assert "Removing stale sandbox" not in restart_log
    finally:
        for engine in (second, first):
            if engine is not None and engine.pid is not None:
                engine.close_clients()
                stop_engine(engine.pid)
        for pid in _processes_mentioning(str(root)):
            os.kill(pid, signal.SIGKILL)
        unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line mentions ``text`` (the engine's containerd and shims)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _reap(pid: int) -> None:
    import os
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
            return
        time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
