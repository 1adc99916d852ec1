"""Getting from "a host with python3" to "a channel to its agent", in as few round trips as we can.

One SSH exec does the common case: a tiny shell script checks the host's ``python3`` minor
version and the bootstrap directory's completion marker, prints one status line, and, when all
is well, becomes the relay to the agent on the same channel. Only a host that lacks this
client's bundle gets the upload (SFTP) and an extraction step, then the same script again.

Host layout (``~`` is the SSH user's home)::

    ~/.lithops/standalone/<version>-<hash>/
        .complete      marker: the directory is fully extracted
        lib/           our packages (PYTHONPATH of the agent and its workers)
        agent-<hostname>.sock   the agent's unix socket (mode 0600); .pid, .log, .lock beside
        logs/<hostname>/        what functions printed (see logtail.py)

Every per-agent file is named after the machine: a home directory shared by several hosts
(NFS) holds one agent per host, each with its own socket and lock.

The bundle is the core's worker package (:func:`lithops.packaging.worker_package`) of
:data:`HOST_PACKAGES`, plus :data:`DOCKER_PACKAGES` for hosts whose runtime is an image: the
host has only ``python3`` (no pip, no internet), so it gets the exact code the client runs.
Its ``tag`` (version and content digest) names the host directory, so a client of another
version installs beside the old one and an unchanged client never uploads twice.
"""

from __future__ import annotations

import io
import platform
import shlex
import time
import uuid

import paramiko

from lithops.packaging import WorkerPackage, worker_package
from lithops_standalone.config import HostSpec
from lithops_standalone.errors import BootstrapError, PythonVersionMismatchError
from lithops_standalone.protocol import STATUS_PREFIX, ActivityReader
from lithops_standalone.ssh import run

__all__ = [
    "DOCKER_PACKAGES",
    "HOST_PACKAGES",
    "REMOTE_ROOT",
    "AgentChannel",
    "client_python",
    "host_bundle",
    "install",
    "open_agent_channel",
]

#: Relative to the SSH user's home.
REMOTE_ROOT = ".lithops/standalone"
#: Imported by the agent and the worker runtime on every host.
HOST_PACKAGES = ("lithops", "lithops_localhost", "lithops_standalone", "cloudpickle", "pluggy")
#: Needed on hosts whose runtime is a Docker image (the agent drives the host's Docker engine).
DOCKER_PACKAGES = ("docker", "requests", "urllib3", "idna", "certifi", "charset_normalizer")
#: Shipped when installed on the client: lithops.multiprocessing's Redis client (async_timeout:
#: redis needs it on Python < 3.11.3, as on bookworm's python3).
OPTIONAL_PACKAGES = ("redis", "async_timeout")


def host_bundle(with_docker: bool = True) -> WorkerPackage:
    """What a host gets: this client's :data:`HOST_PACKAGES` (and :data:`DOCKER_PACKAGES`
    where installed), computed once per process."""
    optional = OPTIONAL_PACKAGES + (DOCKER_PACKAGES if with_docker else ())
    return worker_package(extra=HOST_PACKAGES, optional=optional)


_EXTRACT = """
import glob, os, shutil, sys, tarfile, time
tmp, final = sys.argv[1], sys.argv[2]
for stale in glob.glob(os.path.join(os.path.dirname(final), "*.partial-*")):
    if stale != tmp and os.path.getmtime(stale) < time.time() - 3600:
        shutil.rmtree(stale, ignore_errors=True)  # an upload interrupted long ago
archive = os.path.join(tmp, "bundle.tar.gz")
with tarfile.open(archive) as tar:
    options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    tar.extractall(os.path.join(tmp, "lib"), **options)
os.unlink(archive)
with open(os.path.join(tmp, ".complete"), "w") as fh:
    fh.write("ok\\n")
try:
    os.rename(tmp, final)
except OSError:
    if os.path.exists(os.path.join(final, ".complete")):
        shutil.rmtree(tmp)  # another client installed the same bundle meanwhile
    else:
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
"""


def client_python() -> str:
    major, minor = platform.python_version_tuple()[:2]
    return f"{major}.{minor}"


def attach_command(tag: str) -> str:
    """The shell script of the one-round-trip attach (see the module docstring).

    On a bootstrapped host the relay itself checks the Python version and prints the status
    line: one interpreter start per attach. Otherwise a one-liner reports the version.
    """
    want = client_python()
    script = f"""
d="$HOME/{REMOTE_ROOT}/{tag}"
if [ -f "$d/.complete" ] && cd "$d"; then
  PYTHONPATH="$d/lib" exec python3 -S -s -m lithops_standalone.relay --python {want}
fi
v=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) ||
  {{ echo "LITHOPS-STATUS nopython"; exit 0; }}
[ "$v" = "{want}" ] || {{ echo "LITHOPS-STATUS python $v"; exit 0; }}
echo "LITHOPS-STATUS missing"
"""
    return "sh -c " + shlex.quote(script)


class AgentChannel:
    """An SSH exec channel whose stdin/stdout reach the host's agent (through the relay)."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.rfile = ActivityReader(channel.recv)

    def write(self, data: bytes) -> None:
        self.channel.sendall(data)

    def stderr_text(self) -> str:
        chunks = []
        while self.channel.recv_stderr_ready():
            chunks.append(self.channel.recv_stderr(1 << 16))
        return b"".join(chunks).decode(errors="replace").strip()

    def close(self) -> None:
        try:
            self.channel.close()
        except Exception:
            pass


def open_agent_channel(
    client: paramiko.SSHClient, spec: HostSpec, bundle: WorkerPackage, deadline: float
) -> tuple[AgentChannel, bool]:
    """A channel to ``spec``'s agent, installing the bundle first when the host lacks it.

    :returns: the channel, and whether this call installed the bundle.
    :raises PythonVersionMismatchError: before anything is uploaded or started.
    """
    installed = False
    for _ in range(2):
        status, channel = _try_attach(client, spec, bundle, deadline)
        if status == "ready":
            assert channel is not None
            return channel, installed
        if status.startswith("python "):
            theirs = status.split(" ", 1)[1]
            raise PythonVersionMismatchError(
                f"{spec.name} runs Python {theirs} as python3 but this client runs Python "
                f"{client_python()}; functions are pickled, so both must have the same minor "
                f"version. Run the client with Python {theirs}, or install python{client_python()} "
                f"on the host as its python3 (nothing was uploaded or started there)"
            )
        if status == "nopython":
            raise BootstrapError(
                f"{spec.name} has no working `python3` on the SSH user's PATH; install Python "
                f"{client_python()} there (nothing else is needed)"
            )
        if status == "missing" and not installed:
            install(client, spec, bundle, deadline)
            installed = True
            continue
        raise BootstrapError(f"bootstrapping {spec.name} failed: unexpected status {status!r}")
    raise BootstrapError(f"bootstrapping {spec.name} failed: the installed bundle is not found")


def _try_attach(
    client: paramiko.SSHClient, spec: HostSpec, bundle: WorkerPackage, deadline: float
) -> tuple[str, AgentChannel | None]:
    transport = client.get_transport()
    if transport is None:
        raise BootstrapError(f"the SSH connection to {spec.name} closed")
    timeout = max(0.1, deadline - time.monotonic())
    channel = transport.open_session(timeout=timeout)
    channel.settimeout(timeout)
    channel.exec_command(attach_command(bundle.tag))
    agent = AgentChannel(channel)
    try:
        line = agent.rfile.readline()
    except TimeoutError:
        agent.close()
        raise BootstrapError(f"{spec.name} did not answer the attach command in time")
    if not line.startswith(STATUS_PREFIX):
        error = agent.stderr_text()
        agent.close()
        raise BootstrapError(
            f"unexpected answer from {spec.name} to the attach command: {line[:200]!r} {error}"
        )
    status = line[len(STATUS_PREFIX) :].decode().strip()
    if status != "ready":
        agent.close()
        return status, None
    channel.settimeout(None)
    return status, agent


def install(
    client: paramiko.SSHClient, spec: HostSpec, bundle: WorkerPackage, deadline: float
) -> None:
    """Upload and extract the bundle into ``~/.lithops/standalone/<tag>`` (atomically)."""
    tmp = f"{REMOTE_ROOT}/{bundle.tag}.partial-{uuid.uuid4().hex[:8]}"
    timeout = max(1.0, deadline - time.monotonic())
    # $HOME, not SFTP's starting directory: the attach script and the agent resolve $HOME.
    status, out, err = run(
        client,
        f'cd "$HOME" && mkdir -p {shlex.quote(tmp)} && cd {shlex.quote(tmp)} && pwd',
        timeout,
    )
    if status != 0:
        raise BootstrapError(f"cannot create ~/{tmp} on {spec.name}: {err.strip()}")
    remote_tmp = out.strip().splitlines()[-1]
    try:
        sftp = client.open_sftp()
    except paramiko.SSHException as exc:
        raise BootstrapError(
            f"{spec.name} refused SFTP ({exc}); enable the sftp subsystem in its sshd_config"
        ) from exc
    try:
        sftp.putfo(io.BytesIO(bundle.tar()), f"{remote_tmp}/bundle.tar.gz", confirm=True)
    finally:
        sftp.close()
    final = f"{REMOTE_ROOT}/{bundle.tag}"
    command = " ".join(
        ['cd "$HOME" && python3 -c', shlex.quote(_EXTRACT), shlex.quote(tmp), shlex.quote(final)]
    )
    status, _, err = run(client, command, max(1.0, deadline - time.monotonic()))
    if status != 0:
        raise BootstrapError(f"extracting lithops on {spec.name} failed: {err.strip()[-2000:]}")
