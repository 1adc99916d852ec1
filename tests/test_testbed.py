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
