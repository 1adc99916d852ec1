"""``Storage``: the object storage API of Lithops, over whichever backend is configured."""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Mapping
from typing import IO, Any

from lithops.errors import ConfigError, PluginError
from lithops.storage.backend import Body, StorageBackend
from lithops.storage.files import download_path, upload_key
from lithops.storage.utils import CloudObject, StorageError

__all__ = ["DEFAULT_STORAGE", "Storage"]

DEFAULT_STORAGE = "localhost"
#: Where ``put_cloudobject`` puts objects it names itself (the prefix Lithops uses).
TEMP_PREFIX = "lithops.jobs/tmp"
#: Lithops sets this per executor; cloud objects of one session then share a prefix.
SESSION_ID_ENV = "__LITHOPS_SESSION_ID"

_cloudobject_ids = itertools.count()


def _load_config(config: Mapping[str, Any] | None, backend: str | None) -> dict[str, Any]:
    """The lithops config with its storage backend resolved (the compute one is not needed)."""
    try:
        from lithops.config import default_storage_config
    except ImportError:  # a core without the config module: only explicit dicts work
        data = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in (config or {}).items()}
        data.setdefault("lithops", {})
        if backend:
            data["lithops"]["storage"] = backend
        return data
    given = dict(config) if config is not None else None
    return dict(default_storage_config(config_data=given, backend=backend))


class Storage:
    """Read and write objects of the configured storage backend.

    :param config: a lithops config dict (as for ``FunctionExecutor``); the default config
        (config file, environment) when ``None``.
    :param backend: the storage backend name; ``config['lithops']['storage']`` when ``None``.
    :param storage_config: an already extracted storage config
        (``{'backend': name, name: {...section...}}``, what :meth:`get_storage_config` returns);
        takes precedence over ``config`` and ``backend``.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        backend: str | None = None,
        storage_config: Mapping[str, Any] | None = None,
    ) -> None:
        if storage_config:
            name = str(storage_config["backend"])
            section = dict(storage_config.get(name) or {})
            full: dict[str, Any] = {"lithops": {"storage": name}, name: section}
        else:
            full = _load_config(config, backend)
            name = backend or full.get("lithops", {}).get("storage") or DEFAULT_STORAGE
            section = dict(full.get(name) or {})
        bucket = (
            section.get("storage_bucket")
            or (storage_config or {}).get("bucket")
            or full.get("lithops", {}).get("storage_bucket")
        )
        from lithops.plugins.manager import get_plugin_host  # client side only

        host = get_plugin_host()
        from lithops.plugins.types import BackendKind

        name = host.resolve(name, BackendKind.STORAGE).name
        # Lithops' provider sections (``aws:`` for ``aws_s3``, ``gcp:`` for ``gcp_storage``)
        # hold region and credentials shared by a provider's services: defaults of the section.
        provider = full.get(name.partition("_")[0]) if "_" in name else None
        shared = dict(provider) if isinstance(provider, Mapping) else {}
        handler = host.storage_backend(name, {**shared, **section, "storage_bucket": bucket})
        self._setup(name, handler, bucket, section, full)

    def _setup(
        self,
        name: str,
        handler: StorageBackend,
        bucket: str | None,
        section: Mapping[str, Any],
        full: Mapping[str, Any] | None,
    ) -> None:
        if not bucket:
            default = getattr(handler, "default_bucket", None)
            bucket = default() if default is not None else None
        if not bucket:
            raise ConfigError(
                f"no bucket for storage backend {name!r}: set 'storage_bucket' in the "
                f"'{name}' section of the lithops config"
            )
        self.backend: str = name
        self.bucket: str = bucket
        self.storage_handler: StorageBackend = handler
        self.storage_config: dict[str, Any] = {
            "backend": name,
            name: {**section, "storage_bucket": bucket},
        }
        #: Lithops' name for the same dict
        self.config = self.storage_config
        #: the whole config this storage came from (other backends of it: ``s3://`` partitions)
        self.full_config = full

    # -- worker side: no plugin host ------------------------------------------------------

    def worker_descriptor(self) -> dict[str, Any]:
        """What a worker needs to rebuild this storage, without secrets and without scanning
        entry points: picklable, small, safe to put in a job payload.

        ``{'backend', 'bucket', 'factory': 'module:attr' | None, 'settings': {...}}``.
        """
        handler = self.storage_handler
        own = getattr(handler, "worker_descriptor", None)
        factory: str | None
        if own is not None:
            spec = own()
            factory, settings = spec.get("factory"), dict(spec.get("settings") or {})
        else:
            public = getattr(type(handler), "public_settings", None)
            section = self.storage_config[self.backend]
            if public is not None:
                cls = type(handler)
                factory = f"{cls.__module__}:{cls.__qualname__}"
                settings = {k: section[k] for k in public if k in section}
            else:
                # Unknown which settings are secret: send none; the worker asks the plugin host.
                factory, settings = None, {}
        return {
            "backend": self.backend,
            "bucket": self.bucket,
            "factory": factory,
            "settings": settings,
        }

    @classmethod
    def from_descriptor(cls, desc: Mapping[str, Any] | None) -> Storage:
        """Rebuild a storage from :meth:`worker_descriptor` on a worker.

        Imports the descriptor's factory directly; the plugin host (an entry-point scan) is
        used only for a backend that names no factory. ``None`` means the default filesystem
        storage.
        """
        if desc is None:
            desc = {
                "backend": DEFAULT_STORAGE,
                "bucket": None,
                "factory": "lithops.storage.backends.localhost:from_settings",
                "settings": {},
            }
        name = str(desc["backend"])
        settings = dict(desc.get("settings") or {})
        bucket = desc.get("bucket")
        factory = desc.get("factory")
        if not factory:
            return cls(storage_config={"backend": name, name: settings, "bucket": bucket})
        module_name, _, attr = str(factory).partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"storage backend {name!r}: cannot import its worker factory {factory!r} "
                f"({exc}); install the distribution providing {name!r} in the worker's runtime"
            ) from exc
        handler = target({**settings, "storage_bucket": bucket})
        self = cls.__new__(cls)
        self._setup(name, handler, bucket, settings, None)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # A Storage passed to a function travels as its descriptor: never with credentials.
        return (Storage.from_descriptor, (self.worker_descriptor(),))

    def __repr__(self) -> str:
        return f"<Storage {self.backend} bucket={self.bucket!r}>"

    # -- the Lithops API ------------------------------------------------------------------

    def get_client(self) -> Any:
        """The backend's own client (boto3 client, ...), or the backend when it has none."""
        get = getattr(self.storage_handler, "get_client", None)
        return get() if get is not None else self.storage_handler

    def get_storage_config(self) -> dict[str, Any]:
        return self.storage_config

    def create_bucket(self, bucket: str) -> None:
        create = getattr(self.storage_handler, "create_bucket", None)
        if create is not None:
            create(bucket)

    def put_object(self, bucket: str, key: str, body: Body) -> None:
        """Store ``body`` (bytes, str or a readable file object) under ``key``."""
        self.storage_handler.put_object(bucket, key, body)

    def get_object(
        self,
        bucket: str,
        key: str,
        stream: bool = False,
        extra_get_args: Mapping[str, Any] | None = None,
    ) -> bytes | IO[bytes]:
        """The object's bytes, or a file object when ``stream`` is true.

        :param extra_get_args: e.g. ``{'Range': 'bytes=0-99'}`` for the first 100 bytes.
        :raises StorageNoSuchKeyError: no such bucket or key.
        """
        return self.storage_handler.get_object(bucket, key, stream, dict(extra_get_args or {}))

    def upload_file(
        self,
        file_name: str,
        bucket: str,
        key: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        """Upload a local file (key defaults to its base name). Returns ``True``."""
        upload = getattr(self.storage_handler, "upload_file", None)
        if upload is not None:
            return bool(upload(file_name, bucket, key, dict(extra_args or {}), config))
        with open(file_name, "rb") as src:
            self.storage_handler.put_object(bucket, upload_key(file_name, key), src)
        return True

    def download_file(
        self,
        bucket: str,
        key: str,
        file_name: str | None = None,
        extra_args: Mapping[str, Any] | None = None,
        config: Any = None,
    ) -> bool:
        """Download an object to a local file (default: a path named like the key)."""
        download = getattr(self.storage_handler, "download_file", None)
        if download is not None:
            return bool(download(bucket, key, file_name, dict(extra_args or {}), config))
        dest = download_path(key, file_name)
        src = self.storage_handler.get_object(bucket, key, True, {})
        if isinstance(src, bytes):
            with open(dest, "wb") as out:
                out.write(src)
            return True
        import shutil  # shutil brings bz2 and lzma: not on the cold path

        with src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
        return True

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """Metadata of an object, at least ``content-length``."""
        return self.storage_handler.head_object(bucket, key)

    def delete_object(self, bucket: str, key: str) -> None:
        self.storage_handler.delete_object(bucket, key)

    def delete_objects(self, bucket: str, key_list: list[str]) -> None:
        self.storage_handler.delete_objects(bucket, list(key_list))

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        return self.storage_handler.head_bucket(bucket)

    def list_objects(
        self, bucket: str, prefix: str | None = None, match_pattern: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects under ``prefix`` as dicts with at least ``Key`` and ``Size``."""
        return self.storage_handler.list_objects(bucket, prefix, match_pattern)

    def list_keys(self, bucket: str, prefix: str | None = None) -> list[str]:
        return self.storage_handler.list_keys(bucket, prefix)

    # -- cloud objects --------------------------------------------------------------------

    def _location(self, cloudobject: CloudObject) -> tuple[str, str]:
        if cloudobject.backend != self.backend:
            raise StorageError(
                f"{cloudobject} lives in storage backend {cloudobject.backend!r}, this Storage "
                f"uses {self.backend!r}; use Storage(backend={cloudobject.backend!r})"
            )
        return cloudobject.bucket, cloudobject.key

    def put_cloudobject(
        self, body: Body, bucket: str | None = None, key: str | None = None
    ) -> CloudObject:
        """Store ``body`` and return a :class:`CloudObject` pointing at it.

        Without ``key`` the object gets a unique name under ``lithops.jobs/tmp/``.
        """
        if key is None:
            session = os.environ.get(SESSION_ID_ENV, "")
            name = f"cloudobject_{os.getpid():x}_{next(_cloudobject_ids):x}"
            key = f"{TEMP_PREFIX}/{session}/{name}" if session else f"{TEMP_PREFIX}/{name}"
        bucket = bucket or self.bucket
        self.storage_handler.put_object(bucket, key, body)
        return CloudObject(self.backend, bucket, key)

    def get_cloudobject(self, cloudobject: CloudObject, stream: bool = False) -> bytes | IO[bytes]:
        bucket, key = self._location(cloudobject)
        return self.storage_handler.get_object(bucket, key, stream, {})

    def delete_cloudobject(self, cloudobject: CloudObject) -> None:
        bucket, key = self._location(cloudobject)
        self.storage_handler.delete_object(bucket, key)

    def delete_cloudobjects(self, cloudobjects: list[CloudObject]) -> None:
        by_bucket: dict[str, list[str]] = {}
        # Check them all first, so a foreign object does not leave the list half deleted.
        for co in cloudobjects:
            bucket, key = self._location(co)
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            self.storage_handler.delete_objects(bucket, keys)
