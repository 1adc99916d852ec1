"""``FuturesList``: the futures of a job, with Lithops' chaining methods.

This module sits below the executor: a list talks to the executor that made it through the
:class:`Chaining` protocol, and the executor layer registers how to make a default one
(:func:`set_default_executor`) for a list that travelled without its executor.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Chaining", "FuturesList", "Reducers", "set_default_executor"]


class Chaining(Protocol):
    """What a :class:`FuturesList` asks of its executor (``FunctionExecutor`` is one):
    ``map(function, iterdata, **options)``, ``map_reduce(map_function, iterdata,
    reduce_function, **options)``, ``wait(fs, **options)``, ``get_result(fs, **options)`` and
    ``expand_futures(fs)``, with the executor's signatures."""

    @property
    def map(self) -> Callable[..., FuturesList]: ...

    @property
    def map_reduce(self) -> Callable[..., FuturesList]: ...

    @property
    def wait(self) -> Callable[..., Any]: ...

    @property
    def get_result(self) -> Callable[..., Any]: ...

    @property
    def expand_futures(self) -> Callable[..., list[Any]]: ...


_default_executor: Callable[[], Chaining] | None = None


def set_default_executor(factory: Callable[[], Chaining]) -> None:
    """The executor layer says how to open an executor with the user's config."""
    global _default_executor
    _default_executor = factory


class Reducers:
    """The reduce futures of a map_reduce, in group (object) order. They exist from the
    start; each one's call is submitted once the map calls of its group are done."""

    def __init__(self, futures: list[Any]) -> None:
        self.futures = list(futures)
        self.expected = len(self.futures)

    def started(self) -> list[Any]:
        return list(self.futures)


class FuturesList(list):
    """A list of futures that can start the next step: ``fexec.map(f, xs).map(g).get_result()``."""

    def __init__(self, iterable: Any = (), executor: Chaining | None = None) -> None:
        super().__init__(iterable)
        self.executor = executor
        #: set by map_reduce: its reducers (also at the end of the list)
        self.reducers: Reducers | None = None

    def _executor(self) -> Chaining:
        if self.executor is None:
            if _default_executor is None:
                # Unpickled where no executor was opened yet: load the public API layer,
                # which registers itself (the same late binding as ``lithops.FunctionExecutor``).
                importlib.import_module("lithops.executor")
            assert _default_executor is not None
            self.executor = _default_executor()
        return self.executor

    def map(self, map_function: Any, sync: bool = False, **kwargs: Any) -> FuturesList:
        """Call ``map_function`` on the result of each future, in order.

        As in Lithops, this list then holds the futures of the new job (and is returned), and
        only the last job of a chain produces ``get_result`` output. ``sync`` is accepted for
        compatibility: a chained job always starts from its inputs' finished results here.
        """
        parents = self._outputs()
        return self._continue_with(parents, self._executor().map(map_function, parents, **kwargs))

    def map_reduce(
        self, map_function: Any, reduce_function: Any, sync: bool = False, **kwargs: Any
    ) -> FuturesList:
        """Chain a ``map_reduce`` over the results of these futures (see :meth:`map`)."""
        executor = self._executor()
        parents = self._outputs()
        results = executor.get_result(parents, show_progressbar=False)
        # results bind like input elements, as in map() over futures
        new = executor.map_reduce(map_function, results, reduce_function, **kwargs)
        return self._continue_with(parents, new)

    def _outputs(self) -> list[Any]:
        """The futures whose results feed the next job: after a map_reduce, its reducers."""
        return [f for f in self._executor().expand_futures(self) if f.produce_output]

    def _continue_with(self, parents: list[Any], new: FuturesList) -> FuturesList:
        for future in parents:
            future.produce_output = False
        self[:] = new
        self.reducers = new.reducers
        return self

    def wait(self, **kwargs: Any) -> Any:
        return self._executor().wait(self, **kwargs)

    def get_result(self, **kwargs: Any) -> Any:
        return self._executor().get_result(self, **kwargs)

    def __reduce__(self) -> Any:
        # The executor stays behind; a map_reduce's reducers travel in the list, so the copy
        # still yields the reduce result.
        return (FuturesList, (list(self),))
