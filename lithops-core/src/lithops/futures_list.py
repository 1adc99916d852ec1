"""``FuturesList``: the futures of a job, with Lithops' chaining methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor
    from lithops.map_reduce import Reducers

__all__ = ["FuturesList"]


class FuturesList(list):
    """A list of futures that can start the next step: ``fexec.map(f, xs).map(g).get_result()``."""

    def __init__(self, iterable: Any = (), executor: FunctionExecutor | None = None) -> None:
        super().__init__(iterable)
        self.executor = executor
        #: set by map_reduce: its reducers (also at the end of the list)
        self.reducers: Reducers | None = None

    def _executor(self) -> FunctionExecutor:
        if self.executor is None:
            from lithops.executor import FunctionExecutor

            self.executor = FunctionExecutor()
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
