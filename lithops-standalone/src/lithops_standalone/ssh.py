"""Opening SSH connections to hosts: host-key policy, timeouts and errors a user can act on."""

from __future__ import annotations

import socket
import time

import paramiko

from lithops_standalone.config import HostSpec
from lithops_standalone.errors import HostKeyChangedError, HostUnreachableError
from lithops_standalone.known_hosts import (
    TrustOnFirstUse,
    changed_key_error,
    host_entry_name,
    known_hosts_path,
)

__all__ = ["connect", "run"]


def connect(spec: HostSpec, deadline: float) -> paramiko.SSHClient:
    """An authenticated SSH connection to ``spec``, retried until ``deadline`` (monotonic).

    Connection refused / timed out is retried (a VM may still be booting); a refused login or a
    changed host key is not.
    """
    last: BaseException | None = None
    pause = 0.2
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _connect_once(spec, min(remaining, 30.0))
        except (HostKeyChangedError, paramiko.AuthenticationException) as exc:
            if isinstance(exc, paramiko.AuthenticationException):
                raise HostUnreachableError(
                    f"{spec.name} refused the SSH login ({exc}); check ssh_username and "
                    f"ssh_key_filename/ssh_password in the ssh config section (or this host's "
                    f"entry in ssh.hosts)"
                ) from exc
            raise
        except (OSError, paramiko.SSHException, EOFError) as exc:
            last = exc
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 2.0)
    raise HostUnreachableError(
        f"cannot reach {spec.name} over SSH within standalone.start_timeout "
        f"({type(last).__name__ if last else 'timeout'}: {last}); check that the host is up, "
        f"that sshd listens on port {spec.port} and that the address in the ssh config section "
        f"is right, or raise standalone.start_timeout"
    )


def _connect_once(spec: HostSpec, timeout: float) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    path = known_hosts_path()
    if path.exists():
        client.get_host_keys().load(str(path))
    client.set_missing_host_key_policy(TrustOnFirstUse())
    try:
        client.connect(
            spec.address,
            port=spec.port,
            username=spec.user,
            key_filename=spec.key_filename,
            password=spec.password,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=spec.key_filename is None and spec.password is None,
            look_for_keys=spec.key_filename is None and spec.password is None,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise changed_key_error(host_entry_name(spec.address, spec.port)) from exc
    except BaseException:
        client.close()
        raise
    transport = client.get_transport()
    if transport is not None:
        sock = transport.sock
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def run(
    client: paramiko.SSHClient, command: str, timeout: float, stdin: bytes = b""
) -> tuple[int, str, str]:
    """Run ``command`` on the host; returns ``(exit status, stdout, stderr)``."""
    transport = client.get_transport()
    if transport is None:
        raise HostUnreachableError("the SSH connection is closed")
    channel = transport.open_session(timeout=timeout)
    channel.settimeout(timeout)
    channel.exec_command(command)
    if stdin:
        channel.sendall(stdin)
    channel.shutdown_write()
    out, err = bytearray(), bytearray()
    while True:
        data = channel.recv(1 << 16)
        if not data:
            break
        out += data
    while True:  # small outputs only: stdout reached EOF, so stderr is complete too
        data = channel.recv_stderr(1 << 16)
        if not data:
            break
        err += data
    status = channel.recv_exit_status()
    channel.close()
    return status, out.decode(errors="replace"), err.decode(errors="replace")
