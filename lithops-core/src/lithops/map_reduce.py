"""The reduce half of ``map_reduce``: grouping map calls, starting reducers when they finish.

No worker waits for map results here (Lithops' ``spawn_reducer``): a reducer is submitted
from the callback of the last map call of its group, with the results in input order.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lithops.future import CallState, ResponseFuture

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor

__all__ = ["Reducers", "reduce_groups", "start_reducer", "when_all"]


class Reducers:
    """The reduce futures of a map_reduce, which exist only once the map is done."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self._slots: list[ResponseFuture | None] = [None] * expected
        self._lock = threading.Lock()
        self._started = threading.Event()
        if expected == 0:
            self._started.set()

    def add(self, index: int, future: ResponseFuture) -> None:
        # Slots keep the reducers in group (object) order, whatever order they start in.
        with self._lock:
            self._slots[index] = future
            if all(f is not None for f in self._slots):
                self._started.set()

    def started(self) -> list[ResponseFuture]:
        with self._lock:
            return [f for f in self._slots if f is not None]

    def wait_started(self, timeout: float | None = None) -> list[ResponseFuture]:
        """The reducers, once each has a future (a reducer that could not start has a failed
        one). The map is done when this is called; the reducers start from its last callback,
        so this is short; ``timeout`` bounds it anyway."""
        if not self._started.wait(timeout):
            raise concurrent.futures.TimeoutError(
                f"map_reduce: {self.expected - len(self.started())} of {self.expected} reducers "
                f"had not started {timeout} s after the map finished; wait again"
            )
        return self.started()


def reduce_groups(
    arguments: list[tuple[tuple[Any, ...], dict[str, Any]]],
    futures: list[ResponseFuture],
    by_key: bool,
) -> list[list[ResponseFuture]]:
    """One group for the whole map, or one per object with ``obj_reduce_by_key``.

    :param arguments: the map calls' ``(args, kwargs)``, read before the job is submitted.
    """
    if not by_key:
        return [list(futures)]
    from lithops.storage.partition import group_key

    groups: dict[Any, list[ResponseFuture]] = {}
    for f, (_, kwargs) in zip(futures, arguments, strict=True):
        groups.setdefault(group_key(kwargs["obj"]), []).append(f)
    return list(groups.values())


def start_reducer(
    executor: FunctionExecutor,
    members: list[ResponseFuture],
    reduce_function: Callable[..., Any],
    options: dict[str, Any],
    reducers: Reducers,
    index: int,
) -> None:
    """Runs once every map call of the group is done: reduce their results, or pass the
    first map failure (or the error that stopped the reducer from starting) on to the
    reducer's future. Every reducer slot gets a future, so no wait is left hanging."""
    failed = next((f for f in members if not f.success), None)
    if failed is None:
        try:
            job, futures = executor._new_job(
                "R", reduce_function, [([f.result() for f in members],)], **options
            )
        except Exception as exc:  # the reducer cannot start: its future says why
            _failed_reducer(executor, members[0] if members else None, reducers, index, exc)
            return
        try:
            executor._run(job, futures)
        except Exception:
            pass  # the scheduler failed the reducer's future with this error
        reducers.add(index, futures[0])
        return
    error = (
        failed.exception()
        if not failed.cancelled()
        else concurrent.futures.CancelledError("a map call of this reduce was cancelled")
    ) or RuntimeError(f"map call {failed.job_key}/{failed.call_id} did not succeed")
    _failed_reducer(executor, failed, reducers, index, error)


def _failed_reducer(
    executor: FunctionExecutor,
    member: ResponseFuture | None,
    reducers: Reducers,
    index: int,
    error: BaseException,
) -> None:
    job_id = f"R{member.job_id}" if member is not None else "R"
    future = ResponseFuture(executor.executor_id, job_id, member.call_id if member else "00000")
    executor.futures.append(future)
    future._finish(CallState.FAILED, None, error)
    reducers.add(index, future)


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
