"""Futures sent to another process while their call is still running.

Results normally reach only the process that submitted the calls (pushed on the backend's
channel). When a *pending* future is pickled, its scheduler promises to publish that one call's
outcome to storage when it ends; the copy in the other process reads it from there, checking
with a growing pause, until the deadline the scheduler wrote in the location (the call's
acknowledge and execution deadlines from the moment it was pickled); past it the copy fails with
``WorkerLostError``. Only such handed-off futures ever touch storage.
"""

from __future__ import annotations

import pickle
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import cloudpickle

from lithops.errors import WorkerLostError

if TYPE_CHECKING:
    from lithops.future import ResponseFuture

__all__ = ["OutcomeHandoff", "follow", "outcome_location", "publish", "settle_returned"]

PREFIX = "lithops.jobs"
#: Longest pause between two looks at storage for a handed-off outcome.
MAX_PAUSE = 1.0


def outcome_location(storage_descriptor: dict[str, Any], future: ResponseFuture) -> dict[str, Any]:
    return {
        "storage": storage_descriptor,
        "bucket": storage_descriptor.get("bucket"),
        "key": f"{PREFIX}/{future.job_key}/{future.call_id}.outcome",
    }


class OutcomeHandoff:
    """What a pending future carries when pickled (:class:`lithops.future.Handoff`): where
    its outcome will be published, and until when."""

    def __init__(self, location: dict[str, Any]) -> None:
        self.location = location

    def follow(self, future: ResponseFuture) -> None:
        follow(future, self.location)


def publish(location: dict[str, Any], future: ResponseFuture) -> None:
    """Write a finished future's outcome where its handed-off copies look for it."""
    from lithops.storage import Storage

    result, error = future.portable_outcome()
    payload = cloudpickle.dumps((future.call_state, result, error, future.stats))
    storage = Storage.from_descriptor(location["storage"])
    storage.put_object(location["bucket"], location["key"], payload)


def follow(future: ResponseFuture, location: dict[str, Any]) -> None:
    """Resolve ``future`` (a copy in another process) once its outcome is published."""

    def watch() -> None:
        # Not at the top: the worker runtime imports this module and must not load futures.
        from lithops.future import CallState
        from lithops.storage import Storage
        from lithops.storage.utils import StorageNoSuchKeyError

        storage = Storage.from_descriptor(location["storage"])
        deadline = location.get("deadline")
        pause = 0.02
        while True:
            try:
                data = storage.get_object(location["bucket"], location["key"])
            except StorageNoSuchKeyError:
                if deadline is not None and time.time() > deadline:
                    future.resolve(CallState.LOST, None, _no_outcome(future, location))
                    return
                time.sleep(pause)
                pause = min(MAX_PAUSE, pause * 1.5)
                continue
            assert isinstance(data, bytes)
            state, value, error, stats = pickle.loads(data)
            future.stats.update(stats)
            future.resolve(state, value, error)
            return

    threading.Thread(target=watch, name="lithops-handoff", daemon=True).start()


def _no_outcome(future: ResponseFuture, location: dict[str, Any]) -> WorkerLostError:
    return WorkerLostError(
        f"call {future.job_key}/{future.call_id} was handed over while running, and its outcome "
        f"was not published to {location['bucket']}/{location['key']} by its deadline: the "
        f"process that submitted it exited (or its call was still queued). Wait for the call "
        f"in the submitting process before pickling its future, or keep that process alive",
        future.job_key,
        future.call_id,
    )


def settle_returned(value: Any) -> Any:
    """On a worker: a call that returns futures of an executor it opened waits for them, so
    they travel finished, with their outcomes, and nothing keeps running for them once the
    call is over. The call's own timeout bounds the wait."""
    if "lithops.future" not in sys.modules:
        return value  # nothing in this process made a future: the worker's fast path
    from lithops.future import returned_futures
    from lithops.wait import wait

    futures = returned_futures(value)
    if futures:
        wait(futures, throw_except=False, show_progressbar=False)
    return value
