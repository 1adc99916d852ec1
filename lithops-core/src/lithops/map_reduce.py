"""The reduce half of ``map_reduce``: grouping map calls, starting reducers when they finish.

No worker waits for map results here (Lithops' ``spawn_reducer``): a reducer is submitted
from the callback of the last map call of its group, with the results in input order.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from lithops.future import CallState, ResponseFuture
from lithops.futures_list import Reducers
from lithops.options import JobOptions
from lithops.session import JobSession

__all__ = ["Reducers", "reduce_groups", "start_reducer", "when_all"]


def reduce_groups(
    arguments: list[tuple[tuple[Any, ...], dict[str, Any]]],
    futures: list[ResponseFuture],
    by_key: bool,
) -> list[list[ResponseFuture]]:
    """One group for the whole map, or one per object with ``obj_reduce_by_key``.

    :param arguments: the map calls' ``(args, kwargs)``, read before the job is submitted
        (a call drops its arguments once it ends).
    """
    if not by_key:
        return [list(futures)]
    from lithops.storage.partition import group_key

    groups: dict[Any, list[ResponseFuture]] = {}
    for f, (_, kwargs) in zip(futures, arguments, strict=True):
        groups.setdefault(group_key(kwargs["obj"]), []).append(f)
    return list(groups.values())


def start_reducer(
    session: JobSession,
    members: list[ResponseFuture],
    reduce_function: Callable[..., Any],
    options: JobOptions,
    reducers: Reducers,
    index: int,
) -> None:
    """Runs once every map call of the group is done: reduce their results, or pass the
    first map failure (or the reducer's own submit error) on to the reducer's future."""
    future = reducers.futures[index]
    if future.done:
        return  # cancelled while its map ran
    failed = next((f for f in members if not f.success), None)
    if failed is None:
        try:
            results = [f.result() for f in members]
            job, futures = session.new_job(
                "R", reduce_function, [(results,)], options, reserved=[future]
            )
            session.submit(job, futures)
        except Exception as exc:  # e.g. the reducer does not take one argument
            future.resolve(CallState.FAILED, None, exc)
        return
    error = (
        failed.exception()
        if not failed.cancelled()
        else concurrent.futures.CancelledError("a map call of this reduce was cancelled")
    ) or RuntimeError(f"map call {failed.job_key}/{failed.call_id} did not succeed")
    future.resolve(CallState.FAILED, None, error)


def when_all(futures: list[ResponseFuture], callback: Callable[[], None]) -> None:
    """Run ``callback`` in its own thread once every future is done."""
    remaining = {"n": len(futures)}
    lock = threading.Lock()

    def one_done(_: Any) -> None:
        with lock:
            remaining["n"] -= 1
            fire = remaining["n"] == 0
        if fire:
            threading.Thread(target=callback, name="lithops-reducer", daemon=True).start()

    if not futures:
        threading.Thread(target=callback, daemon=True).start()
    for f in futures:
        f.add_done_callback(one_done)
