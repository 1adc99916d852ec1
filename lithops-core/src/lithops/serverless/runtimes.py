"""``lithops runtime ...`` and ``lithops clean`` for a serverless backend, written once.

A serverless deployment is one function per (runtime, memory, lithops version), labelled so
that listing finds ours and nothing else. :class:`ServerlessRuntimeManager` implements the
:class:`~lithops.plugins.types.RuntimeManager` methods on top of five platform operations a
backend writes (find, deploy, replace the code, delete, and what the current version is):

* ``list`` shows the deployments (of this namespace);
* ``update`` replaces the code of the current version's function for every memory deployed
  (deploying it when only older versions exist), then deletes the older versions' functions
  of that runtime: after it, each memory runs exactly this client's code;
* ``delete`` removes the deployments of a runtime (of one memory / version when given);
* ``clean`` removes every deployment of the namespace (``--all``: of every namespace) and the
  transport objects invocations left in storage (``lithops.jobs/*/batches/`` and
  ``*/spill/``, see :class:`~lithops.serverless.ServerlessHandle`).
"""

from __future__ import annotations

import builtins
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lithops.errors import BackendUnavailableError
from lithops.plugins.types import RuntimeInfo

__all__ = ["DEFAULT_RUNTIME", "TRANSPORT_PARTS", "Deployment", "ServerlessRuntimeManager"]

logger = logging.getLogger(__name__)

#: How the CLI and ``runtime list`` name the default runtime (the client's own code).
DEFAULT_RUNTIME = "default"
#: Where invocations put what did not fit in an event or a response.
TRANSPORT_PARTS = ("/batches/", "/spill/")


@dataclass(frozen=True)
class Deployment:
    """One deployed function of ours, as the platform lists it."""

    #: the platform's name for it (what to delete)
    name: str
    #: the runtime as users name it (``default``, an image URI)
    runtime: str
    memory: int
    #: the lithops version and code digest (``WorkerPackage.tag``) it runs
    version: str
    namespace: str = ""
    timeout: int = 0
    #: more columns of ``runtime list``
    details: Mapping[str, str] = field(default_factory=dict)

    def info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name=self.runtime,
            memory=self.memory,
            version=self.version,
            deployed_as=self.name,
            details={"timeout": f"{self.timeout} s", **self.details},
        )


class ServerlessRuntimeManager:
    """The runtimes of one serverless backend; subclass it and write the platform operations.

    :param config: the lithops config (the backend's section in it).
    """

    backend: str = ""
    #: names a deployment in ``clean``'s lines ("Lambda function")
    kind: str = "function"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)

    # -- what a backend writes ------------------------------------------------------------

    def current_version(self) -> str:
        """The version a deployment of this client has (its worker package's ``tag``)."""
        raise NotImplementedError

    def runtime_of(self, name: str | None) -> str:
        """The runtime ``name`` stands for (``None``: the configured one)."""
        return name or DEFAULT_RUNTIME

    def find(self, everywhere: bool = False) -> builtins.list[Deployment]:
        """Our deployments of this namespace (``everywhere``: of every namespace)."""
        raise NotImplementedError

    def deploy(self, name: str | None, memory: int | None, timeout: int | None) -> RuntimeInfo:
        """Deploy the runtime as the first executor would, and check it."""
        raise NotImplementedError

    def replace_code(self, deployment: Deployment, name: str | None) -> None:
        """Put this client's code into ``deployment`` and check that it answers."""
        raise NotImplementedError

    def remove(self, deployment: Deployment) -> None:
        """Delete ``deployment`` (already gone is fine)."""
        raise NotImplementedError

    def build(self, name: str, file: str | None, extra_args: Sequence[str]) -> str:
        """``lithops runtime build``: a backend that builds runtimes overrides this."""
        raise BackendUnavailableError(
            f"{self.backend} cannot build runtimes: it deploys this client's own code; "
            f"remove 'runtime' from the {self.backend} section to use it"
        )

    # -- the RuntimeManager methods -------------------------------------------------------

    def list(self, name: str | None) -> Sequence[RuntimeInfo]:
        wanted = self.runtime_of(name) if name is not None else None
        return [d.info() for d in self._sorted() if wanted in (None, d.runtime)]

    def update(self, name: str | None) -> Sequence[RuntimeInfo]:
        runtime = self.runtime_of(name)
        current = self.current_version()
        mine = [d for d in self._sorted() if d.runtime == runtime]
        for memory in sorted({d.memory for d in mine}):
            same = [d for d in mine if d.memory == memory]
            now = next((d for d in same if d.version == current), None)
            if now is not None:
                self.replace_code(now, name)
            else:
                self.deploy(name, memory, None)
            for old in same:
                if old.version != current:
                    self._delete(old)
        return [d.info() for d in self._sorted() if d.runtime == runtime and d.version == current]

    def delete(
        self, name: str | None, memory: int | None, version: str | None
    ) -> Sequence[RuntimeInfo]:
        runtime = self.runtime_of(name)
        deleted = []
        for deployment in self._sorted():
            if deployment.runtime != runtime:
                continue
            if memory is not None and deployment.memory != memory:
                continue
            if version is not None and not deployment.version.startswith(version):
                continue
            self._delete(deployment)
            deleted.append(deployment.info())
        return deleted

    def clean(self, everything: bool) -> Sequence[str]:
        removed: builtins.list[str] = []
        for deployment in self._sorted(everywhere=everything):
            self._delete(deployment)
            removed.append(f"{self.kind} {deployment.name}")
        removed.extend(self._clean_storage())
        return removed

    # -- helpers --------------------------------------------------------------------------

    def config_for(self, name: str | None, timeout: int | None = None) -> dict[str, Any]:
        """A copy of the config whose backend section names runtime ``name`` (``None``: the
        configured one; :data:`DEFAULT_RUNTIME`: none) and, when given, ``runtime_timeout``:
        what a command's NAME and ``--timeout`` mean for the settings a backend reads."""
        config = copy.deepcopy(self.config)
        section = config.setdefault(self.backend, {})
        if name is not None:
            section["runtime"] = "" if name == DEFAULT_RUNTIME else name
        if timeout:
            section["runtime_timeout"] = timeout
        return config

    def _sorted(self, everywhere: bool = False) -> builtins.list[Deployment]:
        return sorted(self.find(everywhere), key=lambda d: (d.runtime, d.memory, d.version))

    def _delete(self, deployment: Deployment) -> None:
        logger.info("deleting %s %s", self.kind, deployment.name)
        self.remove(deployment)

    def _clean_storage(self) -> Sequence[str]:
        from lithops.storage import Storage

        try:
            storage = Storage(config=self.config)
            keys = storage.list_keys(storage.bucket, "lithops.jobs/")
        except Exception as exc:  # no storage configured, or no bucket yet: nothing was put
            logger.debug("no storage to clean: %s", exc)
            return []
        transport = [k for k in keys if any(part in k for part in TRANSPORT_PARTS)]
        if not transport:
            return []
        storage.delete_objects(storage.bucket, transport)
        return [f"{storage.bucket}/lithops.jobs/ ({len(transport)} invocation transport objects)"]
