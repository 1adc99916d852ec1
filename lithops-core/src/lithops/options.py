"""``JobOptions``: what a job takes beyond its function and data, gathered once per call.

``FunctionExecutor.map``, ``call_async`` and ``map_reduce`` keep Lithops 3.x's explicit keyword
signatures (users and IDEs rely on them); each builds one :class:`JobOptions` and hands it down,
so the layers below (:meth:`lithops.session.JobSession.new_job`, the reducers of a map_reduce,
``RetryingFunctionExecutor``) take one typed value instead of repeating the option list.

:class:`MapAPI` holds the one ``map`` signature that ``FunctionExecutor`` and
``RetryingFunctionExecutor`` share; each says in :meth:`MapAPI.map_with_options` what a map is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["JobOptions", "MapAPI"]

FuturesT = TypeVar("FuturesT")


@dataclasses.dataclass(frozen=True)
class JobOptions:
    """The options of one job; ``None`` means the config's value (``lithops`` section).

    :param chunksize: at most this many calls travel to a worker in one message
        (default: ``lithops.chunksize``, else the scheduler sizes batches itself).
    :param extra_args: added to every call: a tuple/list of positional arguments, or a dict
        of keyword arguments.
    :param extra_env: environment variables of every call.
    :param runtime_memory: memory (MB) of every call.
    :param obj_chunk_size: split each object of an ``obj`` function into parts of this size.
    :param obj_chunk_number: split each object of an ``obj`` function into this many parts.
    :param obj_newline: a part ends at this character (``None``: at the exact byte).
    :param timeout: seconds each call may run (default: ``lithops.execution_timeout``).
    :param include_modules: modules to ship by value with the function.
    :param exclude_modules: modules never to ship by value.
    :param retries: how many times a failed call runs again (default: ``lithops.retries``).
    :param backups: speculative backups of slow calls (default: ``lithops.backups``).
    """

    chunksize: int | None = None
    extra_args: Any = None
    extra_env: dict[str, str] | None = None
    runtime_memory: int | None = None
    obj_chunk_size: int | None = None
    obj_chunk_number: int | None = None
    obj_newline: str | None = "\n"
    timeout: float | None = None
    include_modules: Sequence[str] | None = ()
    exclude_modules: Sequence[str] | None = ()
    retries: int | None = None
    backups: bool | None = None

    def for_reducer(self, extra_args: Any, runtime_memory: int | None) -> JobOptions:
        """The options of a map_reduce's reducers: the map's environment, timeout and
        modules, their own ``extra_args`` and memory, the config's retries and backups."""
        return JobOptions(
            extra_args=extra_args,
            extra_env=self.extra_env,
            runtime_memory=runtime_memory,
            timeout=self.timeout,
            include_modules=self.include_modules,
            exclude_modules=self.exclude_modules,
        )

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of ``FunctionExecutor.map`` (values not copied)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class MapAPI(Generic[FuturesT]):
    """Lithops 3.x's ``map`` signature, written once for the executors that offer it."""

    def map(
        self,
        map_function: Callable[..., Any],
        map_iterdata: Any,
        chunksize: int | None = None,
        extra_args: Any = None,
        extra_env: dict[str, str] | None = None,
        runtime_memory: int | None = None,
        obj_chunk_size: int | None = None,
        obj_chunk_number: int | None = None,
        obj_newline: str | None = "\n",
        timeout: float | None = None,
        include_modules: Sequence[str] | None = (),
        exclude_modules: Sequence[str] | None = (),
        retries: int | None = None,
        backups: bool | None = None,
    ) -> FuturesT:
        """Run ``map_function`` once per element of ``map_iterdata``; futures in input order.

        An element that is a tuple is positional arguments, a dict keyword arguments (by
        parameter name), anything else the one argument. The other parameters are those of
        :class:`~lithops.options.JobOptions`.
        """
        options = JobOptions(
            chunksize=chunksize,
            extra_args=extra_args,
            extra_env=extra_env,
            runtime_memory=runtime_memory,
            obj_chunk_size=obj_chunk_size,
            obj_chunk_number=obj_chunk_number,
            obj_newline=obj_newline,
            timeout=timeout,
            include_modules=include_modules,
            exclude_modules=exclude_modules,
            retries=retries,
            backups=backups,
        )
        return self.map_with_options(map_function, map_iterdata, options)

    def map_with_options(
        self, map_function: Callable[..., Any], map_iterdata: Any, options: JobOptions
    ) -> FuturesT:
        """``map`` with its options gathered already: what each executor implements."""
        raise NotImplementedError
