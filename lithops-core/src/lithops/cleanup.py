"""Removing what jobs leave behind: ``FunctionExecutor.clean`` and ``lithops clean``."""

from __future__ import annotations

from typing import Any

from lithops.future import ResponseFuture
from lithops.session import JobSession
from lithops.storage.storage import TEMP_PREFIX

__all__ = ["clean_all", "clean_executor"]


def clean_executor(
    session: JobSession,
    fs: list[ResponseFuture] | None,
    cs: Any,
    clean_cloudobjects: bool,
    force: bool,
) -> None:
    """What :meth:`FunctionExecutor.clean` does (see there); ``fs``: the futures whose jobs
    to clean, ``None`` for every job of the session."""
    from lithops.storage.utils import StorageNoSuchKeyError

    if cs:
        for co in cs:
            try:
                session.storage.delete_cloudobject(co)
            except StorageNoSuchKeyError:
                pass
        if fs is None:
            return
    if clean_cloudobjects:
        wanted = {f.job_key for f in (fs if fs is not None else session.futures)}
        running = {f.job_key for f in session.futures if not f.done}
        jobs = wanted if force else wanted - running
        storage = session.storage
        prefix = f"{TEMP_PREFIX}/{session.executor_id}/"
        try:
            # one listing for the whole executor, however many jobs it ran
            keys = [
                k
                for k in storage.list_keys(storage.bucket, prefix)
                if f"{session.executor_id}/{k[len(prefix) :].split('/', 1)[0]}" in jobs
            ]
            if keys:
                storage.delete_objects(storage.bucket, keys)
        except StorageNoSuchKeyError:
            pass
    if force:
        session.log_recorder.remove()


def clean_all(config: dict[str, Any] | None = None) -> list[str]:
    """``lithops clean``: remove what executors left behind: the recorded logs on this machine
    and the cloud objects functions put without a key (under ``lithops.jobs/tmp/``) in the
    configured storage. Results never go through storage, so nothing else is there; backends
    add their own clean-up commands through the CLI hook.

    :returns: what was removed (paths and ``bucket/prefix`` of storage).
    """
    import shutil

    from lithops.logs import logs_dir
    from lithops.storage import Storage

    removed = []
    root = logs_dir()
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
        removed.append(str(root))
    from lithops.storage.utils import StorageNoSuchKeyError

    storage = Storage(config=config)
    try:
        keys = storage.list_keys(storage.bucket, f"{TEMP_PREFIX}/")
    except StorageNoSuchKeyError:
        keys = []  # no bucket yet: nothing was ever put
    if keys:
        storage.delete_objects(storage.bucket, keys)
        removed.append(f"{storage.bucket}/{TEMP_PREFIX}/ ({len(keys)} objects)")
    return removed
