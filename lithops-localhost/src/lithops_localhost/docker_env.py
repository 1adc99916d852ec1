"""The Docker environment of the localhost engine: worker processes inside one container.

A :class:`DockerLauncher` starts one long-lived container of the user's image (its main process
only sleeps and reaps orphans) and runs each worker as a ``docker exec`` in it, talking the wire
protocol over the exec's attached stdin/stdout. The lithops code the worker runs is copied into
the container through the engine API, never bind-mounted, so a remote engine works as well.

Which runtimes are images (:func:`is_docker_image`): a runtime naming a Python interpreter runs in
the default environment; anything else is a Docker image.

* a path (``/usr/bin/python3``, ``./venv/bin/python``, ``~/venv/bin/python``), or any name of an
  existing file: an interpreter;
* a bare name that looks like an interpreter (``python3``, ``python3.11``, ``pypy3``), with no
  ``/`` and no ``:``: an interpreter, looked up on ``PATH``;
* anything else (``python:3.11-slim``, ``myorg/runtime``, ``lithops-py311``): a Docker image.
  An image whose name looks like an interpreter is written with its tag: ``python:latest``.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lithops.errors import BackendUnavailableError
from lithops.packaging import WORKER_PACKAGES, worker_package
from lithops_localhost.docker_scripts import BOOT, KEEPER, LEASE, TOKEN_VAR
from lithops_localhost.docker_stream import ExecStream
from lithops_localhost.docker_worker import DockerWorkerProcess

if TYPE_CHECKING:
    import docker

__all__ = ["CODE_DIR", "DockerLauncher", "DockerWorkerProcess", "is_docker_image"]

#: Where the client's lithops code lands in the container (on the workers' ``PYTHONPATH``).
CODE_DIR = "/opt/lithops-code"

_INTERPRETER_NAME = re.compile(r"^(python|pypy)[0-9.]*[a-z]*$")

# Env keys that describe the client machine's filesystem layout; inside the image they would
# point nowhere (or at the wrong interpreter), so they never cross into the container.
_HOST_ONLY_ENV = frozenset(
    {
        "HOME",
        "HOSTNAME",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "OLDPWD",
        "PATH",
        "PWD",
        "PYTHONHOME",
        "PYTHONPATH",
        "SHELL",
        "TMPDIR",
        "VIRTUAL_ENV",
    }
)

log = logging.getLogger(__name__)


def is_docker_image(runtime: str, check_files: bool = True) -> bool:
    """Whether a ``runtime`` setting names a Docker image (see the module docs).

    :param check_files: also count names of existing files here as interpreters; ``False``
        when the runtime is for another machine (a standalone host), where only the syntax
        decides.
    """
    # Image references never start with these, so a path typo is reported as a missing
    # interpreter rather than as a missing image.
    if runtime.startswith(("/", "./", "../", "~")):
        return False
    if check_files and os.path.exists(runtime):
        return False
    return not ("/" not in runtime and ":" not in runtime and _INTERPRETER_NAME.match(runtime))


class DockerLauncher:
    """Starts worker processes inside one container of ``image`` (the ``Launcher`` protocol).

    :param image: an image on the engine; it needs only ``python`` with the client's
        Python major.minor.
    :param client: a docker SDK client; default ``docker.from_env()`` (honours ``DOCKER_HOST``).
    :param python: the interpreter in the image that runs the workers.
    :param network_mode: ``"host"`` lets functions reach the engine host's 127.0.0.1 services;
        ``None`` keeps the engine's default network. Host mode falls back to the default when the
        engine refuses it.
    :param pull: pull ``image`` when the engine lacks it (Lithops' ``pull_runtime``); off by
        default, so a typo never downloads an unexpected image.
    :param packages: what to ship into the container for ``python -m lithops.worker``.
    :param worker_argv: the worker command (default ``[python, "-m", "lithops.worker"]``).
    """

    def __init__(
        self,
        image: str,
        client: docker.DockerClient | None = None,
        python: str = "python3",
        *,
        network_mode: str | None = "host",
        pull: bool = False,
        packages: Sequence[str] = WORKER_PACKAGES,
        worker_argv: Sequence[str] | None = None,
    ) -> None:
        self.image = image
        self.python = python
        self.network_mode = network_mode
        self.pull = pull
        self.packages = tuple(packages)
        self.worker_argv = list(worker_argv or [python, "-m", "lithops.worker"])
        self._client = client
        self._container: Any = None
        self._container_name = ""
        self._lock = threading.Lock()
        self._closed = False
        self._lease: ExecStream | None = None
        #: Seconds spent on the engine by the first start(): container up, code in, Python checked.
        self.container_start_seconds: float | None = None

    @property
    def container_id(self) -> str | None:
        """The container's id while it exists (after the first ``start``, until ``close``)."""
        return self._container.id if self._container is not None else None

    @property
    def container_name(self) -> str:
        """``lithops-rt-<pid>-<random>`` once the first ``start`` created the container."""
        return self._container_name

    def start(self, env: Mapping[str, str]) -> DockerWorkerProcess:
        """One new worker process, as an exec in this launcher's container.

        Returns once the engine accepted the exec; the worker's ``hello`` follows on stdout.
        A container that vanished (removed by hand, its keeper killed) is replaced once.
        """
        import docker.errors

        for attempt in (1, 2):
            client, container = self._ensure_container()
            try:
                return self._exec_worker(client, container, env)
            except docker.errors.APIError as error:
                # 404: no such container; 409: it is not running. Anything else is the engine.
                if attempt == 2 or error.status_code not in (404, 409):
                    raise self._engine_error(f"cannot start a worker in {self._where}", error)
                log.warning("container %s is gone (%s); starting a new one", self._where, error)
                self._forget(container)
            except Exception as error:
                raise self._engine_error(f"cannot start a worker in {self._where}", error)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _exec_worker(
        self, client: docker.DockerClient, container: Any, env: Mapping[str, str]
    ) -> DockerWorkerProcess:
        token = secrets.token_hex(8)
        environment = {k: v for k, v in env.items() if k not in _HOST_ONLY_ENV}
        environment["PYTHONPATH"] = CODE_DIR
        environment[TOKEN_VAR] = token
        exec_id = client.api.exec_create(
            container.id,
            [self.python, "-S", "-c", BOOT, *self.worker_argv],
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            environment=environment,
        )["Id"]
        attached = client.api.exec_start(exec_id, socket=True)
        sock = getattr(attached, "_sock", attached)
        return DockerWorkerProcess(self, client, container.id, exec_id, sock, token)

    def _forget(self, container: Any) -> None:
        """Drop a dead container so the next ``start`` creates a new one."""
        with self._lock:
            if self._container is not container:
                return  # another thread replaced it already
            self._remove_quietly(container)

    def close(self) -> None:
        """Remove the container (and every worker in it); idempotent."""
        with self._lock:
            self._closed = True
            container, self._container = self._container, None
            lease, self._lease = self._lease, None
        atexit.unregister(self.close)
        if container is not None:
            try:
                container.remove(force=True)
            except Exception as error:
                # Already gone (removed by someone, or auto-removed) or the engine is down.
                log.debug("removing container %s failed: %s", self._container_name, error)
        if lease is not None:
            lease.close()

    # -- the container -----------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return self._container_name or f"<{self.image}>"

    def _ensure_container(self) -> tuple[docker.DockerClient, Any]:
        with self._lock:
            if self._closed:
                raise BackendUnavailableError(
                    f"the Docker launcher for {self.image!r} is closed; create a new executor"
                )
            if self._container is None:
                began = time.monotonic()
                client = self._connect()
                self._container = self._create_container(client)
                self.container_start_seconds = time.monotonic() - began
            assert self._client is not None
            return self._client, self._container

    def _connect(self) -> docker.DockerClient:
        if self._client is None:
            try:
                import docker
            except ImportError:
                raise BackendUnavailableError(
                    f"runtime {self.image!r} is a Docker image, but the docker SDK is not "
                    "installed; `pip install 'lithops-localhost[docker]'` (or `pip install docker`)"
                )
            try:
                self._client = docker.from_env()
            except Exception as error:
                raise self._engine_error("cannot connect to the Docker engine", error)
        try:
            self._client.ping()
        except Exception as error:
            raise self._engine_error("the Docker engine does not answer", error)
        return self._client

    def _engine_error(self, what: str, error: BaseException) -> BackendUnavailableError:
        host = os.environ.get("DOCKER_HOST", "the default socket unix:///var/run/docker.sock")
        return BackendUnavailableError(
            f"{what} ({host}): {error}. Start Docker (e.g. `systemctl start docker`), or set "
            f"DOCKER_HOST to a running engine; runtime {self.image!r} needs one"
        )

    def _create_container(self, client: docker.DockerClient) -> Any:
        import docker.errors

        try:
            client.images.get(self.image)
            present = True
        except docker.errors.ImageNotFound:
            present = False
        except Exception as error:
            raise self._engine_error(f"cannot inspect image {self.image!r}", error)
        if not present and not self.pull:
            raise BackendUnavailableError(
                f"Docker image {self.image!r} is not on the engine; lithops pulls only when "
                f"asked (localhost `pull_runtime: true`): `docker pull {self.image}` or build "
                f"it (`docker build -t {self.image} .`), or set the runtime to another image"
            )
        if not present:
            self._pull(client)
        self._container_name = f"lithops-rt-{os.getpid()}-{secrets.token_hex(4)}"
        options: dict[str, Any] = {
            "entrypoint": [self.python, "-c", KEEPER],
            "command": [],
            "name": self._container_name,
            "labels": {
                "lithops.runtime": self.image,
                "lithops.client_pid": str(os.getpid()),
                "lithops.client_host": socket.gethostname(),
            },
            "detach": True,
            # With the lease (see _take_lease), a client that dies leaves nothing behind.
            "auto_remove": True,
            "tty": False,
        }
        container = self._run(client, options)
        atexit.register(self.close)
        try:
            self._check_python(container)
            code = worker_package(extra=self.packages).tar(CODE_DIR.strip("/"), compress=False)
            if not container.put_archive("/", code):
                raise BackendUnavailableError(
                    f"could not copy the lithops code into container {self._container_name}"
                )
            self._lease = self._take_lease(client, container)
        except docker.errors.APIError as error:
            self._remove_quietly(container)
            raise BackendUnavailableError(
                f"the container of image {self.image!r} stopped or refused work: {error}; the "
                f"image needs `{self.python}` on its PATH (or set the python option)"
            )
        except BaseException:
            self._remove_quietly(container)
            raise
        log.debug("container %s of %s is up", self._container_name, self.image)
        return container

    def _run(self, client: docker.DockerClient, options: dict[str, Any]) -> Any:
        import docker.errors

        try:
            if self.network_mode:
                try:
                    return client.containers.run(
                        self.image, **options, network_mode=self.network_mode
                    )
                except docker.errors.APIError as error:
                    if "network" not in str(error).lower():
                        raise
                    # Some engines refuse host networking (rootless setups): use their default.
                    log.info(
                        "network mode %s refused (%s); using the default network",
                        self.network_mode,
                        error,
                    )
                    self._remove_by_name(client)
            return client.containers.run(self.image, **options)
        except docker.errors.APIError as error:
            self._remove_by_name(client)
            hint = (
                f"the image needs `{self.python}` on its PATH (or set the python option)"
                if "not found" in str(error) or "no such file" in str(error).lower()
                else "see the engine's message above"
            )
            raise BackendUnavailableError(
                f"cannot start a container of image {self.image!r}: {error}; {hint}"
            )

    def _pull(self, client: docker.DockerClient) -> None:
        began = time.monotonic()
        try:
            client.images.pull(self.image)
        except Exception as error:
            raise BackendUnavailableError(
                f"Docker image {self.image!r} is not on the engine and pulling it failed: "
                f"{error}; check the image name and the engine's access to its registry "
                f"(`docker login`), or build it (`docker build -t {self.image} .`)"
            )
        log.info("pulled %s in %.1fs", self.image, time.monotonic() - began)

    def _take_lease(self, client: docker.DockerClient, container: Any) -> ExecStream:
        """Tie the container's life to this process, however it ends (even SIGKILL).

        An exec whose stdin is this process's connection: the engine closes that stdin when
        the connection drops, the exec then stops the keeper, and ``auto_remove`` deletes the
        container. ``close()`` removes it directly.
        """
        exec_id = client.api.exec_create(
            container.id, [self.python, "-c", LEASE], stdin=True, stdout=True, stderr=True
        )["Id"]
        attached = client.api.exec_start(exec_id, socket=True)
        return ExecStream(getattr(attached, "_sock", attached), name=f"{self._where} lease")

    def _check_python(self, container: Any) -> None:
        mine = "{}.{}".format(*sys.version_info[:2])
        result = container.exec_run(
            [self.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        )
        output = result.output.decode("utf-8", "replace").strip()
        if result.exit_code != 0:
            raise BackendUnavailableError(
                f"image {self.image!r} has no working `{self.python}` ({output}); use an image "
                f"with Python {mine} installed"
            )
        if output != mine:
            raise BackendUnavailableError(
                f"image {self.image!r} runs Python {output}, this client runs Python {mine}; "
                f"functions only travel between the same Python minor version: use an image "
                f"with Python {mine} (e.g. `python:{mine}-slim`)"
            )

    def _remove_by_name(self, client: docker.DockerClient) -> None:
        try:
            client.containers.get(self._container_name).remove(force=True)
        except Exception:
            pass  # it was never created

    def _remove_quietly(self, container: Any) -> None:
        self._container = None
        atexit.unregister(self.close)
        try:
            container.remove(force=True)
        except Exception as error:
            log.debug("removing container %s failed: %s", self._container_name, error)
        if self._lease is not None:
            self._lease.close()
            self._lease = None
