"""``RetryingFunctionExecutor``: Lithops 3.x's retrying wrapper, on the scheduler's own retries.

Lithops resubmits a failed call as a new one-call job from inside ``wait``, so retries happen
only while somebody waits. Here the wrapper hands ``retries=`` to the native ``map``: the
scheduler re-runs a failed call as soon as it fails, the retried result lands in the
original future (same position, same call id), and code written for Lithops runs unchanged::

    with RetryingFunctionExecutor(fexec) as rexec:
        fs = rexec.map(f, xs, retries=2)
        done, pending = rexec.wait(fs, throw_except=False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lithops.job import iterate_inputs
from lithops.options import JobOptions, MapAPI
from lithops.wait import WaitAPI, WaitOptions

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor
    from lithops.future import ResponseFuture

__all__ = ["RetryingFunctionExecutor", "RetryingFuture"]


class RetryingFuture:
    """One input of a retrying map: its current call and how many times it failed.

    :param response_future: the call's :class:`~lithops.future.ResponseFuture`.
    :param map_function: the mapped function.
    :param input: the input element this call runs on.
    :param retries: how many times a failed call is run again.
    """

    def __init__(
        self,
        response_future: ResponseFuture,
        map_function: Callable[..., Any],
        input: Any,
        retries: int | None = None,
        **map_kwargs: Any,
    ) -> None:
        self.response_future = response_future
        self.map_function = map_function
        self.input = input
        self.retries = retries or 0
        self.map_kwargs = map_kwargs

    def __repr__(self) -> str:
        return f"<RetryingFuture {self.response_future!r} failures={self.failure_count}>"

    @property
    def failure_count(self) -> int:
        """Failed attempts so far (the last one included once the call has failed for good)."""
        f = self.response_future
        return f.attempts + (1 if f.error else 0)

    @property
    def cancelled(self) -> bool:
        return self.response_future.cancelled()

    def cancel(self) -> bool:
        """Give up on this input: no more retries, and a running attempt is stopped."""
        return self.response_future.cancel()

    @property
    def done(self) -> bool:
        """True once the call succeeded, failed with no retries left, or was cancelled."""
        return bool(self.response_future.done)

    @property
    def error(self) -> bool:
        """True if the call failed for good (every retry used up)."""
        return self.response_future.error

    @property
    def success(self) -> bool:
        return self.response_future.success

    @property
    def _exception(self) -> tuple[type[BaseException], BaseException, Any] | None:
        """Lithops' ``(type, value, traceback)`` of the final failure, or ``None``."""
        f = self.response_future
        error = f.exception(0) if f.done and not f.cancelled() else None
        return None if error is None else (type(error), error, error.__traceback__)

    @property
    def stats(self) -> dict[str, Any]:
        """The last attempt's stats (``retries`` counts the attempts before it)."""
        return self.response_future.stats

    def status(
        self, throw_except: bool = True, internal_storage: Any = None, check_only: bool = False
    ) -> dict[str, Any]:
        """The call's status record, waiting for it; raises its error when ``throw_except``."""
        return self.response_future.status(throw_except=throw_except)

    def result(self, throw_except: bool = True, internal_storage: Any = None) -> Any:
        """The call's result, waiting for it; raises its error when ``throw_except``."""
        return self.response_future.result(throw_except=throw_except)


class RetryingFunctionExecutor(MapAPI[list[RetryingFuture]], WaitAPI[list[RetryingFuture]]):
    """Wraps a :class:`~lithops.FunctionExecutor` so that ``map`` retries failed calls.

    ``map`` takes ``FunctionExecutor.map``'s arguments; each failed call runs again up to
    ``retries`` times (default: config ``lithops.retries``), and it returns one
    :class:`RetryingFuture` per input. ``wait`` takes those futures.

    :param executor: the executor to run on; entering this wrapper enters it.
    """

    def __init__(self, executor: FunctionExecutor) -> None:
        self.executor = executor
        self.config = executor.config

    def __enter__(self) -> RetryingFunctionExecutor:
        self.executor.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.executor.__exit__(exc_type, exc, tb)

    def _retries(self, retries: int | None) -> int:
        if retries is not None:
            return retries
        return int((self.config.get("lithops") or {}).get("retries") or 0)

    def map_with_options(
        self, map_function: Callable[..., Any], map_iterdata: Any, options: JobOptions
    ) -> list[RetryingFuture]:
        """``map`` with its options gathered already: the executor's map, with ``retries``."""
        inputs = iterate_inputs(map_iterdata)
        count = self._retries(options.retries)
        options = dataclasses.replace(options, retries=count)
        futures = self.executor.map_with_options(map_function, inputs, options)
        map_kwargs = options.keywords()
        del map_kwargs["retries"]  # a RetryingFuture holds it on its own
        if len(futures) != len(inputs):
            # Object partitioning turns one input into several calls: each call keeps the
            # input it came from only when the counts match.
            return [RetryingFuture(f, map_function, None, count, **map_kwargs) for f in futures]
        return [
            RetryingFuture(f, map_function, item, count, **map_kwargs)
            for f, item in zip(futures, inputs, strict=True)
        ]

    def wait_with_options(
        self, fs: list[RetryingFuture] | None, options: WaitOptions
    ) -> tuple[list[RetryingFuture], list[RetryingFuture]]:
        """``wait`` for retrying futures; ``(done, pending)``. A call counts as done once it
        succeeded or used up its retries; ``return_when`` as in :func:`lithops.wait`."""
        if fs is None:
            raise TypeError("RetryingFunctionExecutor.wait needs fs: the futures of its map")
        by_call = {id(f.response_future): f for f in fs}
        done, pending = self.executor.wait_with_options([f.response_future for f in fs], options)
        return [by_call[id(f)] for f in done], [by_call[id(f)] for f in pending]

    def get_result(
        self,
        fs: list[RetryingFuture],
        throw_except: bool = True,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Results of ``fs`` in order, once every call succeeded or used up its retries."""
        return self.executor.get_result(
            [f.response_future for f in fs], throw_except=throw_except, timeout=timeout, **kwargs
        )

    def clean(
        self,
        fs: Any = None,
        cs: Any = None,
        clean_cloudobjects: bool = True,
        clean_fn: bool = False,
        force: bool = False,
    ) -> None:
        self.executor.clean(fs, cs, clean_cloudobjects, clean_fn, force)
