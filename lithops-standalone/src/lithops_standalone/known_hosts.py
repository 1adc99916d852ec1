"""Host keys: trust on first use, recorded in ``~/.lithops/known_hosts``; a changed key refuses.

The file has OpenSSH's ``known_hosts`` format (paramiko's ``HostKeys``), so ``ssh-keygen -R``
works on it too. Several executors (threads or processes) may meet new hosts at once, so adding
a key re-reads the file under a lock and never drops what another writer recorded.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import paramiko

from lithops_standalone.errors import HostKeyChangedError

__all__ = [
    "TrustOnFirstUse",
    "changed_key_error",
    "forget_host",
    "host_entry_name",
    "known_hosts_path",
]

_lock = threading.Lock()


def known_hosts_path() -> Path:
    """``~/.lithops/known_hosts``, resolved at each call (``HOME`` may change in tests)."""
    return Path(os.path.expanduser("~")) / ".lithops" / "known_hosts"


def host_entry_name(address: str, port: int) -> str:
    """How OpenSSH and paramiko name a host in ``known_hosts``."""
    return address if port == 22 else f"[{address}]:{port}"


class TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Record the key of a host seen for the first time; paramiko rejects later changes."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        path = known_hosts_path()
        with _locked(path):
            keys = paramiko.HostKeys()
            if path.exists():
                keys.load(str(path))
            recorded = keys.lookup(hostname)
            if recorded is not None:
                # Paramiko only asks when the offered key type is not recorded: a host we know
                # by another key type is as suspicious as a changed key (a downgrade).
                if key.get_name() not in recorded or recorded[key.get_name()] != key:
                    raise changed_key_error(hostname, path)
            else:
                keys.add(hostname, key.get_name(), key)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                keys.save(str(tmp))
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
        client.get_host_keys().add(hostname, key.get_name(), key)


def changed_key_error(hostname: str, path: Path | None = None) -> HostKeyChangedError:
    path = path or known_hosts_path()
    line = _line_of(hostname, path)
    where = f"{path}, line {line}" if line else str(path)
    address = hostname
    if hostname.startswith("["):
        address = hostname[1:].split("]")[0]
    return HostKeyChangedError(
        f"the SSH host key of {hostname} changed since it was first recorded in {where}; "
        f"refusing to connect (this is what a man-in-the-middle attack looks like). If the host "
        f"was legitimately reinstalled, forget the old key with `lithops standalone forget-host "
        f"{address}` (or delete that line) and connect again"
    )


def forget_host(address: str, port: int | None = None) -> int:
    """Remove the recorded keys of ``address`` (every port when ``port`` is None); returns count."""
    path = known_hosts_path()
    if not path.exists():
        return 0
    names = {address, f"[{address}]"} if port is None else {host_entry_name(address, port)}
    removed = 0
    with _locked(path):
        kept: list[str] = []
        for line in path.read_text().splitlines(keepends=True):
            hosts = line.split(" ", 1)[0].split(",") if line.strip() else []
            if any(h in names or (port is None and h.startswith(f"[{address}]:")) for h in hosts):
                removed += 1
                continue
            kept.append(line)
        path.write_text("".join(kept))
    return removed


def _line_of(hostname: str, path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, start=1):
        if hostname in line.split(" ", 1)[0].split(","):
            return number
    return None


class _locked:
    """Thread lock plus an ``flock`` on a sibling lock file (other processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")

    def __enter__(self) -> None:
        _lock.acquire()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        _lock.release()
