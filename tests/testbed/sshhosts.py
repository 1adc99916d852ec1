"""SSH test hosts: containers with python3 and sshd, each with its own IP on a test network.

A host stands in for a VM that standalone mode bootstraps: own filesystem, hostname and IP,
port 22, key authentication, nothing installed but python3. The engine's socket is mounted
at ``/var/run/docker.sock`` so an agent on the host can run containers the way it would
against a remote engine (the engine does not see the host's filesystem).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import paramiko
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.networks import Network

from .engine import DockerEngine
from .errors import TestbedUnavailable
from .images import SUITES, ensure_sshhost_image, sshhost_image_tag
from .keys import ClientKey, ensure_client_key
from .scratch import file_lock, log

__all__ = ["SESSION_LABEL", "SshHost", "SshHostFactory", "TestNetwork", "remove_abandoned"]

# Every container and network carries the id of the run that made it, so a run removes
# only its own and can tell whether other runs still use the engine.
SESSION_LABEL = "lithops-testbed.session"
_READY_TIMEOUT_S = 30.0
# Subnets 10.213.<n>.0/24 are tried in order; a concurrent run holding one moves us on.
_SUBNET_RANGE = range(7, 250)


class TestNetwork:
    """A user bridge network with its own /24, owned by one test run."""

    __test__ = False

    def __init__(self, client: docker.DockerClient, session: str) -> None:
        self.network: Network = self._create(client, session)
        config = self.network.attrs["IPAM"]["Config"][0]
        self.subnet = ipaddress.ip_network(config["Subnet"])
        self.name: str = self.network.name or ""

    @staticmethod
    def _create(client: docker.DockerClient, session: str) -> Network:
        # Machine-wide: another engine (another scratch root, another developer's dockerd)
        # makes its bridges in the same routing table.
        with file_lock("subnets", machine_wide=True):
            taken = _routed_networks()
            for existing in client.networks.list():
                for config in (existing.attrs.get("IPAM") or {}).get("Config") or []:
                    try:
                        taken.append(ipaddress.IPv4Network(config.get("Subnet", ""), strict=False))
                    except ValueError:
                        continue  # IPv6 or no subnet: cannot collide with 10.213.x.0/24
            for third in _SUBNET_RANGE:
                subnet = ipaddress.ip_network(f"10.213.{third}.0/24")
                if any(subnet.overlaps(other) for other in taken):
                    continue
                try:
                    return client.networks.create(
                        f"lithops-test-{session}",
                        driver="bridge",
                        ipam=docker.types.IPAMConfig(
                            pool_configs=[docker.types.IPAMPool(subnet=str(subnet))]
                        ),
                        labels={SESSION_LABEL: session},
                    )
                except APIError as exc:
                    # A run on an older testbed without the lock took it meanwhile.
                    if "overlap" in str(exc).lower():
                        continue
                    raise
        raise TestbedUnavailable("no free 10.213.x.0/24 subnet for the SSH test network")

    def remove(self) -> None:
        """Remove the network, first detaching containers a test attached and left."""
        try:
            self.network.reload()
            for container_id in self.network.attrs.get("Containers") or {}:
                self.network.disconnect(container_id, force=True)
            self.network.remove()
        except NotFound:
            pass
        except APIError as exc:
            log(f"could not remove network {self.name}: {exc}")


@dataclass
class SshHost:
    """One SSH test host.

    :ivar name: container name, also the host's hostname.
    :ivar address: IP address reachable from this machine.
    :ivar port: sshd port at ``address`` (22).
    :ivar user: non-root login user (``lithops``); ``root`` accepts the same key.
    :ivar key_filename: path of the client's private key (OpenSSH ed25519).
    :ivar suite: Debian suite of the host (``bookworm``: Python 3.11, ``bullseye``: 3.9).
    """

    name: str
    address: str
    port: int
    user: str
    key_filename: str
    suite: str
    container: Container
    _factory: SshHostFactory = field(repr=False)

    @property
    def python_version(self) -> tuple[int, int]:
        return SUITES[self.suite]

    def exec(self, cmd: str, user: str = "root") -> tuple[int, str]:
        """Run ``cmd`` with ``sh -c`` in the host via ``docker exec``, outside SSH.

        For assertions on the host's state ("no agent process remains").
        :returns: exit code and combined stdout/stderr.
        """
        result = self.container.exec_run(["sh", "-c", cmd], user=user, demux=False)
        output = result.output.decode(errors="replace") if result.output else ""
        return int(result.exit_code or 0), output

    def is_running(self) -> bool:
        try:
            self.container.reload()
        except NotFound:
            return False
        return bool(self.container.status == "running")

    def kill(self) -> None:
        """SIGKILL the container: the host vanishes, open connections get no answer."""
        self.container.kill(signal="SIGKILL")

    def recreate(self) -> None:
        """Replace the container: same name and IP, fresh filesystem, NEW host key."""
        self._factory.recreate(self)

    def connect(self, user: str | None = None, timeout: float = 10.0) -> paramiko.SSHClient:
        """Open a paramiko session with the testbed key, accepting any host key.

        For tests of the testbed itself and for quick probes; product code under test
        must do its own host key checking.
        """
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            self.address,
            port=self.port,
            username=user or self.user,
            key_filename=self.key_filename,
            look_for_keys=False,
            allow_agent=False,
            timeout=timeout,
        )
        return client

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> None:
        """Block until sshd sends its banner at ``address:port``."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=2) as sock:
                    sock.settimeout(2)
                    if sock.recv(8).startswith(b"SSH-"):
                        return
            except OSError as exc:
                last_error = exc
            time.sleep(0.1)
        logs = self.container.logs(tail=20).decode(errors="replace")
        raise TestbedUnavailable(
            f"sshd of {self.name} at {self.address}:{self.port} not ready after {timeout:.0f}s "
            f"({last_error}); container log:\n{logs}"
        )


class SshHostFactory:
    """Creates SSH test hosts on one network and removes every host it made."""

    def __init__(self, engine: DockerEngine, session: str | None = None) -> None:
        self.engine = engine
        self.session = session or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._client = engine.client()
        remove_abandoned(self._client)
        self._key: ClientKey = ensure_client_key()
        self._network: TestNetwork | None = None
        self._hosts: list[SshHost] = []
        self._count = 0

    @property
    def network(self) -> TestNetwork:
        if self._network is None:
            self._network = TestNetwork(self._client, self.session)
            log(f"network {self._network.name} on {self._network.subnet}")
        return self._network

    def make(
        self, image: str = "bookworm", name: str | None = None, address: str | None = None
    ) -> SshHost:
        """Start a host of the given Debian suite and wait until its sshd answers.

        :param image: ``bookworm`` (Python 3.11) or ``bullseye`` (Python 3.9).
        :param name: container name; defaults to a name unique to this run.
        :param address: the host's IP in :attr:`network`'s subnet (default: the engine picks).
        """
        tag = ensure_sshhost_image(self.engine, image)
        self._count += 1
        name = name or f"lithops-test-{self.session}-h{self._count}"
        container = self._start_container(tag, name, address=address)
        host = SshHost(
            name=name,
            address=self._address_of(container),
            port=22,
            user="lithops",
            key_filename=str(self._key.private_path),
            suite=image,
            container=container,
            _factory=self,
        )
        self._hosts.append(host)
        host.wait_ready()
        return host

    def recreate(self, host: SshHost) -> None:
        self._remove_container(host.container)
        host.container = self._start_container(
            sshhost_image_tag(host.suite), host.name, address=host.address
        )
        host.wait_ready()

    def close(self) -> None:
        """Remove every host this factory made, then its network."""
        for host in self._hosts:
            self._remove_container(host.container)
        self._hosts.clear()
        if self._network is not None:
            self._network.remove()
            self._network = None

    def _start_container(self, tag: str, name: str, address: str | None) -> Container:
        networking: dict[str, Any] = {
            self.network.name: self._client.api.create_endpoint_config(ipv4_address=address)
        }
        # The low-level API is the only one that pins an IP at creation, which recreate needs.
        created = self._client.api.create_container(
            tag,
            name=name,
            hostname=name,
            environment={"AUTHORIZED_KEY": self._key.public_line},
            labels={SESSION_LABEL: self.session},
            host_config=self._client.api.create_host_config(
                binds={
                    str(self.engine.socket_path): {"bind": "/var/run/docker.sock", "mode": "rw"}
                },
            ),
            networking_config=self._client.api.create_networking_config(networking),
        )
        container = self._client.containers.get(created["Id"])
        container.start()
        container.reload()
        return container

    def _address_of(self, container: Container) -> str:
        return str(container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"])

    def _remove_container(self, container: Container) -> None:
        try:
            container.remove(force=True, v=True)
        except NotFound:
            pass


def _routed_networks() -> list[ipaddress.IPv4Network]:
    """Destinations in the machine's IPv4 routing table, except the default route."""
    networks = []
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[1] == "00000000":
            continue
        # Little-endian hex, as the kernel prints it.
        destination = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
        mask = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(fields[7]), "little"))
        networks.append(ipaddress.IPv4Network(f"{destination}/{mask}", strict=False))
    return networks


def remove_abandoned(client: docker.DockerClient) -> None:
    """Remove containers and networks of test runs whose process no longer exists.

    A run killed with SIGKILL cannot clean up; its session id starts with its PID, so the
    next run removes what it left (only things carrying the testbed's session label).
    """
    containers = client.containers.list(all=True, filters={"label": SESSION_LABEL})
    networks = client.networks.list(filters={"label": SESSION_LABEL})
    for item in [*containers, *networks]:
        session = (
            item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
        ).get(SESSION_LABEL, "")
        pid = session.split("-", 1)[0]
        if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        log(f"removing {item.name} left by dead run {session}")
        try:
            if isinstance(item, Container):
                item.remove(force=True, v=True)
            else:
                item.remove()
        except (NotFound, APIError):
            pass
