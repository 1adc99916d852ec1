"""Waiting for futures: ``wait`` and ``get_result``, as in Lithops, without polling storage.

Completion is pushed by the scheduler; a wait sleeps on its condition until enough futures are
done or the timeout passes. Works from any thread (no SIGALRM). Ctrl-C cancels the calls being
waited for and returns control at once.

The options travel as one :class:`WaitOptions`; :class:`WaitAPI` is the ``wait`` method of the
executors (``FunctionExecutor``, ``RetryingFunctionExecutor``), each implementing
``wait_with_options``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import sys
import time
import types
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from lithops.future import ResponseFuture, call_outputs

__all__ = [
    "ALL_COMPLETED",
    "ALWAYS",
    "ANY_COMPLETED",
    "WaitAPI",
    "WaitOptions",
    "get_result",
    "wait",
    "wait_with_options",
]

ALWAYS = 0
ANY_COMPLETED = -1
ALL_COMPLETED = 100

FuturesT = TypeVar("FuturesT")

#: Longest single sleep: bounds how late a wait notices futures of foreign processes.
_SLICE = 0.25


def _target(return_when: int, total: int) -> int:
    """How many futures must be done: as in Lithops, ``return_when`` is a percentage of the
    calls (``ALL_COMPLETED`` = 100, ``ALWAYS`` = 0), except ``ANY_COMPLETED`` (one)."""
    if return_when == ANY_COMPLETED:
        return min(1, total)
    share = min(max(return_when, 0), 100)
    return -(-total * share // 100)


def _map_reduce_owner(fs: Any) -> Any:
    """The executor of a map_reduce's futures list, whose reducers are not in the list yet."""
    if getattr(fs, "reducers", None) is not None:
        return getattr(fs, "executor", None)
    return None


def _as_list(fs: Any) -> list[ResponseFuture]:
    if fs is None:
        return []
    if isinstance(fs, concurrent.futures.Future):
        return [fs]  # type: ignore[list-item]
    return list(fs)


def _interactive() -> bool:
    """A person is watching: a terminal, or a Jupyter kernel (tqdm.auto draws a widget)."""
    if sys.stderr.isatty():
        return True
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return type(get_ipython()).__name__ == "ZMQInteractiveShell" if get_ipython else False


def _progressbar(show: bool, total: int, initial: int) -> Any:
    # Never tied to the log level: only whether someone can see it (CI and pipes cannot).
    if not show or total < 2 or not _interactive():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="call", leave=False, file=sys.stderr)


def _raise_first_error(futures: Iterable[ResponseFuture]) -> None:
    for f in futures:
        if f.done and f.error:
            f.result()  # raises the call's exception with its remote traceback


@dataclasses.dataclass(frozen=True)
class WaitOptions:
    """How a wait waits: the options of :func:`wait` (and of the executors' ``wait``),
    gathered once and handed down. ``download_results`` and ``wait_dur_sec`` are accepted
    for compatibility: results arrive with completion, and nothing polls here."""

    throw_except: bool = True
    return_when: int = ALL_COMPLETED
    download_results: bool = False
    timeout: float | None = None
    wait_dur_sec: float | None = None
    show_progressbar: bool = True


def wait(
    fs: Any,
    throw_except: bool = True,
    return_when: int = ALL_COMPLETED,
    download_results: bool = False,
    timeout: float | None = None,
    threadpool_size: int = 64,
    wait_dur_sec: float | None = None,
    show_progressbar: bool = True,
    **_: Any,
) -> tuple[list[ResponseFuture], list[ResponseFuture]]:
    """Wait for futures; returns ``(done, not_done)`` in input order.

    :param return_when: ``ALL_COMPLETED`` (default), ``ANY_COMPLETED``, ``ALWAYS`` (no wait),
        or a percentage of the calls.
    :param throw_except: re-raise the first failed call's exception.
    :param timeout: seconds; on expiry return what is done so far.
    """
    options = WaitOptions(
        throw_except=throw_except,
        return_when=return_when,
        download_results=download_results,
        timeout=timeout,
        wait_dur_sec=wait_dur_sec,
        show_progressbar=show_progressbar,
    )
    return wait_with_options(fs, options)


def wait_with_options(
    fs: Any, options: WaitOptions
) -> tuple[list[ResponseFuture], list[ResponseFuture]]:
    """:func:`wait` with its options gathered already."""
    owner = _map_reduce_owner(fs)
    if owner is not None:  # its reducers start late: the executor knows how to wait for them
        return owner.wait_with_options(fs, options)
    throw_except, return_when, timeout = options.throw_except, options.return_when, options.timeout
    futures = _as_list(fs)
    deadline = None if timeout is None else time.monotonic() + timeout
    target = _target(return_when, len(futures))
    schedulers = {id(f.scheduler): f.scheduler for f in futures if f.scheduler is not None}
    condition = next(iter(schedulers.values())).progress if len(schedulers) == 1 else None
    # Results arrive roughly in input order: a cursor over the futures skips finished ones
    # once, so a 10,000-call wait costs O(n), not O(n) per wake-up.
    cursor = 0
    done_count = 0
    bar = None
    try:
        while True:
            while cursor < len(futures) and futures[cursor].done:
                if throw_except and futures[cursor].error:
                    futures[cursor].result()  # raises the call's exception
                cursor += 1
            done_count = (
                cursor + sum(1 for f in futures[cursor:] if f.done)
                if return_when != ALL_COMPLETED
                else cursor
            )
            if bar is None and done_count < target:
                bar = _progressbar(options.show_progressbar, len(futures), done_count)
            if bar is not None:
                bar.update(done_count - bar.n)
            if done_count >= target:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            pause = _SLICE if remaining is None else min(_SLICE, remaining)
            blocker = futures[cursor] if return_when == ALL_COMPLETED else None
            if condition is not None:
                with condition:
                    if blocker is None or not blocker.done:
                        condition.wait(pause)
            else:
                pending = [f for f in futures[cursor:] if not f.done]
                concurrent.futures.wait(pending, pause, concurrent.futures.FIRST_COMPLETED)
    except KeyboardInterrupt:
        _cancel_pending(futures)
        raise
    finally:
        if bar is not None:
            bar.close()
    if throw_except:
        _raise_first_error(futures)
    done = [f for f in futures if f.done]
    not_done = [f for f in futures if not f.done]
    return done, not_done


class WaitAPI(Generic[FuturesT]):
    """Lithops 3.x's ``wait`` method, written once for the executors that offer it."""

    def wait(
        self,
        fs: Any = None,
        throw_except: bool = True,
        return_when: int = ALL_COMPLETED,
        download_results: bool = False,
        timeout: float | None = None,
        threadpool_size: int = 64,
        wait_dur_sec: float | None = None,
        show_progressbar: bool = True,
        **_: Any,
    ) -> tuple[FuturesT, FuturesT]:
        """Wait for ``fs`` (a ``FunctionExecutor``'s default: every future it made).

        :returns: ``(done, not_done)`` in input order; a ``FunctionExecutor`` gives two
            :class:`~lithops.futures_list.FuturesList` (so ``done.get_result()`` works, as
            in Lithops). The options are those of :class:`WaitOptions`; ``threadpool_size``
            is accepted for compatibility (nothing polls storage here).
        """
        options = WaitOptions(
            throw_except=throw_except,
            return_when=return_when,
            download_results=download_results,
            timeout=timeout,
            wait_dur_sec=wait_dur_sec,
            show_progressbar=show_progressbar,
        )
        return self.wait_with_options(fs, options)

    def wait_with_options(self, fs: Any, options: WaitOptions) -> tuple[FuturesT, FuturesT]:
        """``wait`` with its options gathered already: what each executor implements."""
        raise NotImplementedError


def _cancel_pending(futures: list[ResponseFuture]) -> None:
    """Ctrl-C: cancel every unfinished call of the jobs being waited for."""
    by_scheduler: dict[int, tuple[Any, list[ResponseFuture]]] = {}
    for f in futures:
        if not f.done and f.scheduler is not None:
            by_scheduler.setdefault(id(f.scheduler), (f.scheduler, []))[1].append(f)
    for scheduler, pending in by_scheduler.values():
        scheduler.cancel([*pending, *scheduler.outstanding({f.job_key for f in pending})])


def get_result(
    fs: Any,
    throw_except: bool = True,
    timeout: float | None = None,
    threadpool_size: int = 64,
    wait_dur_sec: float | None = None,
    show_progressbar: bool = True,
    **_: Any,
) -> Any:
    """Wait for every future and return their results, one per future, in input order.

    Calls that returned ``None`` keep their place. A failed call raises (``throw_except``) or
    gives ``None``. Raises ``TimeoutError`` if ``timeout`` passes first, naming what is pending.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    owner = _map_reduce_owner(fs)
    # a map_reduce's reducers start late; its executor adds them (still a plain list here)
    futures = (
        owner.expand_futures(fs, ALL_COMPLETED, timeout) if owner is not None else _as_list(fs)
    )
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    options = WaitOptions(
        throw_except, download_results=True, timeout=left, show_progressbar=show_progressbar
    )
    _done, not_done = wait_with_options(futures, options)
    if not_done:
        raise concurrent.futures.TimeoutError(
            f"{len(not_done)} of {len(futures)} calls were not done after {timeout} s "
            f"(first pending: {not_done[0].job_key}/{not_done[0].call_id}); their results are "
            f"not lost: wait again or call get_result with a longer timeout"
        )
    return call_outputs(futures, throw_except)


class _CallableModule(types.ModuleType):
    """``lithops.wait`` is both this module and the function (Lithops exposes both)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return wait(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
