"""The future of one call: a ``concurrent.futures.Future`` that also speaks Lithops' dialect."""

from __future__ import annotations

import concurrent.futures
import enum
import pickle
import threading
import time
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from lithops.errors import RemoteTraceback
from lithops.futures_list import FuturesList

__all__ = [
    "CallOwner",
    "CallState",
    "Handoff",
    "ResponseFuture",
    "call_outputs",
    "returned_futures",
]


class CallState(str, enum.Enum):
    """Where a call is in its life. Exactly one terminal state is ever reached."""

    PENDING = "pending"  # created, waiting for a dependency or dispatch
    DISPATCHED = "dispatched"  # handed to the backend
    RUNNING = "running"  # a worker reported it started
    SUCCESS = "success"
    FAILED = "failed"  # the user's function raised, or its data could not travel
    LOST = "lost"  # the worker died, or the call timed out
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {CallState.SUCCESS, CallState.FAILED, CallState.LOST, CallState.CANCELLED}


class CallOwner(Protocol):
    """What runs a future's call (the scheduler): futures and waits talk to it through this."""

    #: notified whenever one of its calls reaches a terminal state
    progress: threading.Condition

    def cancel(self, futures: Sequence[ResponseFuture]) -> bool:
        """Cancel these calls; ``True`` if they are cancelled."""
        ...

    def outstanding(self, job_keys: Collection[str]) -> list[ResponseFuture]:
        """The unfinished calls of these jobs."""
        ...

    def export(self, future: ResponseFuture) -> Handoff:
        """``future`` is pickled while pending: where its copy will find the outcome."""
        ...


class Handoff(Protocol):
    """Travels with a pickled pending future: makes the copy resolve when the call ends."""

    def follow(self, future: ResponseFuture) -> None: ...


class _Flag(int):
    """A boolean that can also be called: Lithops reads ``future.done`` as a property,
    ``concurrent.futures`` calls ``future.done()``; both work."""

    def __call__(self) -> bool:
        return bool(self)

    def __repr__(self) -> str:
        return repr(bool(self))


_TRUE, _FALSE = _Flag(1), _Flag(0)


class ResponseFuture(concurrent.futures.Future):
    """The result of one call of a job.

    Works with ``concurrent.futures.wait``/``as_completed`` and with Lithops 3.x code
    (``done``/``running``/``error``/``ready``/``success`` as properties, ``result(throw_except=)``,
    ``status()``, ``stats``, ``logs``). Pickles: a finished future carries its outcome.
    """

    def __init__(
        self, executor_id: str, job_id: str, call_id: str, function_name: str = ""
    ) -> None:
        super().__init__()
        self.executor_id = executor_id
        self.job_id = job_id
        self.job_key = f"{executor_id}/{job_id}"
        self.call_id = call_id
        self.function_name = function_name
        self.stats: dict[str, Any] = {}
        self.logs: str | None = None
        self.call_state = CallState.PENDING
        self.attempts = 0
        self.activation_id: str | None = None
        self.scheduler: CallOwner | None = None
        self.produce_output = True
        self.delivered = False
        #: the futures the call returned (see :func:`returned_futures`), else ``None``
        self.returned: list[ResponseFuture] | None = None
        self.remote_traceback: str | None = None

    # -- identity -----------------------------------------------------------------------------

    @property
    def key(self) -> tuple[str, str]:
        return (self.job_key, self.call_id)

    def __repr__(self) -> str:
        return f"<ResponseFuture {self.job_key}/{self.call_id} {self.call_state.value}>"

    # -- Lithops' state properties (callable too) ---------------------------------------------

    @property
    def done(self) -> _Flag:
        return _TRUE if self.call_state.terminal else _FALSE

    @property
    def running(self) -> _Flag:
        return _TRUE if self.call_state == CallState.RUNNING else _FALSE

    @property
    def ready(self) -> bool:
        return self.call_state.terminal

    @property
    def success(self) -> bool:
        return self.call_state == CallState.SUCCESS

    @property
    def error(self) -> bool:
        return self.call_state in (CallState.FAILED, CallState.LOST)

    @property
    def new(self) -> bool:
        return self.call_state == CallState.PENDING

    @property
    def invoked(self) -> bool:
        return self.call_state == CallState.DISPATCHED

    @property
    def futures(self) -> bool:
        """The call returned futures (of an executor it opened): its ``result()`` is their
        list, and ``get_result`` gives their results in its place, as in Lithops."""
        return self.returned is not None

    # -- outcome ------------------------------------------------------------------------------

    def result(
        self,
        timeout: float | None = None,
        throw_except: bool = True,
        internal_storage: Any = None,
        **_: Any,
    ) -> Any:
        """The call's return value; raises its exception (with the remote traceback attached).

        :param timeout: seconds to wait (``concurrent.futures.TimeoutError`` when exceeded).
        :param throw_except: ``False`` returns ``None`` for a failed call instead of raising.
        """
        if isinstance(timeout, bool):  # Lithops' positional ``result(throw_except)``
            timeout, throw_except = None, timeout
        try:
            return super().result(timeout)
        except concurrent.futures.CancelledError:
            if throw_except:
                raise
            return None
        except BaseException:
            if not self.done:  # the wait itself timed out
                raise
            if throw_except:
                raise
            return None

    def status(self, throw_except: bool = True, internal_storage: Any = None, **_: Any) -> dict:
        """The call's status record (Lithops' ``call_status``), waiting until it is done."""
        self.result(throw_except=throw_except)
        return {
            "type": "__end__",
            "exception": self.error,
            "executor_id": self.executor_id,
            "job_id": self.job_id,
            "call_id": self.call_id,
            "activation_id": self.activation_id,
            **self.stats,
        }

    def cancel(self) -> bool:
        """Cancel the call: dropped if not started, its worker stopped if running."""
        if self.call_state.terminal:
            return self.call_state == CallState.CANCELLED
        if self.scheduler is not None:
            return self.scheduler.cancel([self])
        return super().cancel()

    def cancelled(self) -> bool:
        return self.call_state == CallState.CANCELLED

    # -- resolving: the public way to end a future ------------------------------------------
    #
    # ``resolve`` ends a future once (a second outcome is ignored). The scheduler splits it
    # in two: ``claim`` under its lock (which call wins), ``publish`` outside it (user
    # callbacks run there).

    def claim(self, state: CallState) -> bool:
        """Take the terminal ``state`` unless one was taken already; ``True`` if taken."""
        if self.call_state.terminal:
            return False
        self.call_state = state
        return True

    def resolve(
        self, state: CallState, value: Any = None, error: BaseException | None = None
    ) -> bool:
        """End the future with ``value`` (``SUCCESS``) or ``error`` unless it ended already.

        :returns: whether this outcome was the one taken.
        """
        if not self.claim(state):
            return False
        self.publish(state, value, error)
        return True

    def publish(self, state: CallState, value: Any, error: BaseException | None) -> None:
        """Wake waiters with the outcome of a ``claim`` that returned ``True``."""
        self.stats.setdefault("host_status_done_tstamp", time.time())
        if state == CallState.SUCCESS:
            returned = returned_futures(value)
            if returned is not None:
                self.returned = value = returned
            self.set_result(value)
        elif state == CallState.CANCELLED:
            super().cancel()
            self.set_running_or_notify_cancel()
        else:
            assert error is not None
            self.set_exception(error)

    # -- pickling -----------------------------------------------------------------------------

    def __reduce_ex__(self, protocol: Any) -> Any:
        state = {
            k: v
            for k, v in self.__dict__.items()
            if k not in _UNPICKLED and not k.startswith("_Future")
        }
        if self.call_state.terminal:
            state["_outcome"] = self.portable_outcome()
        elif self.scheduler is not None:
            # Travelling while pending: the scheduler publishes the outcome to storage so
            # the copy can wait for it in another process.
            state["_remote"] = self.scheduler.export(self)
        return (_new_future, (type(self),), state)

    def portable_outcome(self) -> tuple[Any, BaseException | None]:
        """``(result, exception)`` of a finished future, ready to pickle: an exception that
        does not pickle travels as a ``RuntimeError`` naming its type and message."""
        error = self._exception
        if error is not None:
            try:
                pickle.dumps(error)
            except Exception:
                error = RuntimeError(f"{type(error).__name__}: {error}")
        return self._result, error

    def __setstate__(self, state: dict[str, Any]) -> None:
        concurrent.futures.Future.__init__(self)
        outcome = state.pop("_outcome", None)
        remote = state.pop("_remote", None)
        self.__dict__.update(state)
        self.scheduler = None
        if outcome is not None:
            final, self.call_state = self.call_state, CallState.PENDING
            self.resolve(final, outcome[0], outcome[1])
        elif remote is not None:
            remote.follow(self)


_UNPICKLED = {
    "_condition",
    "_waiters",
    "_done_callbacks",
    "scheduler",
    "_state",
    "_result",
    "_exception",
}


def returned_futures(value: Any) -> list[ResponseFuture] | None:
    """The futures in a call's return value, by Lithops' rule: a future, a ``FuturesList``, or
    a list whose first item is a future (its other items that are futures too); else ``None``."""
    if isinstance(value, ResponseFuture):
        return [value]
    if isinstance(value, FuturesList) or (
        type(value) is list and value and isinstance(value[0], ResponseFuture)
    ):
        return [f for f in value if isinstance(f, ResponseFuture)]
    return None


def call_outputs(futures: list[ResponseFuture], throw_except: bool = True) -> list[Any]:
    """What ``get_result`` gives for finished ``futures``, in order: each one's result, except
    futures whose output was consumed (chained into another job, a map_reduce's map calls);
    for a call that returned futures, their outputs in its place."""
    out: list[Any] = []
    for f in futures:
        if not f.produce_output:
            continue
        value = f.result(throw_except=throw_except)
        if f.returned is not None:
            out.extend(call_outputs(f.returned, throw_except))
        else:
            out.append(value)
    return out


def _new_future(cls: type[ResponseFuture]) -> ResponseFuture:
    return cls.__new__(cls)


def attach_remote_traceback(error: BaseException, tb: str) -> BaseException:
    """Chain the worker's traceback to the re-raised exception, as its cause."""
    if tb:
        try:
            error.__cause__ = RemoteTraceback(tb)
        except Exception:
            pass
    return error
