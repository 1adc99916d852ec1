"""The host-side end of one client's SSH channel: joins it to the host's single agent.

Every client (several executors, several users of one login) runs
``python3 -m lithops_standalone.relay`` over an SSH exec channel, in the bootstrap directory. The
relay connects to the agent's unix socket (``agent-<hostname>.sock`` there, mode 0600 in the
user's home: no network port is ever opened) and copies bytes both ways until either side
closes. When no agent answers it starts one, under an ``flock`` so that concurrent clients
start exactly one.

Standard library only, and nothing else imported: it runs on every attach, so it must start in a
few tens of milliseconds.
"""

from __future__ import annotations

import fcntl
import os
import re
import selectors
import socket
import subprocess
import sys
import time

__all__ = ["LOG_NAME", "PID_NAME", "SOCKET_NAME", "connect_or_start", "main"]

# Per machine: the home directory (and so this directory) may be shared by several hosts over
# NFS, where a unix socket or flock of one host means nothing to another.
_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"
SOCKET_NAME = f"agent-{_HOST}.sock"
PID_NAME = f"agent-{_HOST}.pid"
LOG_NAME = f"agent-{_HOST}.log"
_LOCK_NAME = f"agent-{_HOST}.lock"
_START_TIMEOUT = 20.0


def _connect() -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Relative path: the directory may be deeper than a unix socket path allows (108 bytes).
        sock.connect(SOCKET_NAME)
    except OSError:
        sock.close()
        return None
    return sock


def connect_or_start() -> socket.socket:
    """A connection to the agent of the current directory, starting the agent if needed."""
    sock = _connect()
    if sock is not None:
        return sock
    fd = os.open(_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        sock = _connect()  # another relay may have started it while we waited
        if sock is not None:
            return sock
        with open(LOG_NAME, "ab") as log:
            agent = subprocess.Popen(
                [sys.executable, "-s", "-m", "lithops_standalone.agent"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: the agent outlives this SSH channel and its process group.
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            sock = _connect()
            if sock is not None:
                return sock
            if agent.poll() is not None:
                break
            time.sleep(0.02)
        sys.stderr.write(
            f"lithops agent did not start (exit status {agent.poll()}); "
            f"see {os.getcwd()}/{LOG_NAME}\n"
        )
        sys.exit(3)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _pump(sock: socket.socket) -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ, "in")
    selector.register(sock, selectors.EVENT_READ, "sock")
    while True:
        for key, _ in selector.select():
            if key.data == "in":
                data = os.read(stdin, 1 << 16)
                if not data:  # the client closed its channel
                    sock.close()
                    return
                sock.sendall(data)
            else:
                try:
                    data = sock.recv(1 << 16)
                except ConnectionResetError:
                    data = b""
                if not data:  # the agent stopped
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(stdout, view) :]


def main(argv: list[str]) -> None:
    # The first stdout line is the attach status (see bootstrap.py); frames follow.
    want = argv[argv.index("--python") + 1] if "--python" in argv else None
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if want is not None and want != mine:
        os.write(sys.stdout.fileno(), f"LITHOPS-STATUS python {mine}\n".encode())
        return
    os.write(sys.stdout.fileno(), b"LITHOPS-STATUS ready\n")
    sock = connect_or_start()
    try:
        _pump(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
