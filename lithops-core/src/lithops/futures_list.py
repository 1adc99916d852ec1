"""``FuturesList``: the futures of a job, with Lithops' chaining methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor, _Reducers

__all__ = ["FuturesList"]


class FuturesList(list):
    """A list of futures that can start the next step: ``fexec.map(f, xs).map(g).get_result()``."""

    def __init__(self, iterable: Any = (), executor: FunctionExecutor | None = None) -> None:
        super().__init__(iterable)
        self.executor = executor
        #: set by map_reduce: its reducers, which start once the map is done
        self.reducers: _Reducers | None = None

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
        new = self._executor().map(map_function, list(self), **kwargs)
        return self._continue_with(new)

    def map_reduce(
        self, map_function: Any, reduce_function: Any, sync: bool = False, **kwargs: Any
    ) -> FuturesList:
        """Chain a ``map_reduce`` over the results of these futures (see :meth:`map`)."""
        results = self._executor().get_result(list(self), show_progressbar=False)
        new = self._executor().map_reduce(
            map_function, [(r,) for r in results], reduce_function, **kwargs
        )
        return self._continue_with(new)

    def _continue_with(self, new: FuturesList) -> FuturesList:
        for future in self:
            future._produce_output = False
        self[:] = new
        self.reducers = new.reducers
        return self

    def wait(self, **kwargs: Any) -> Any:
        return self._executor().wait(self, **kwargs)

    def get_result(self, **kwargs: Any) -> Any:
        return self._executor().get_result(self, **kwargs)

    def __reduce__(self) -> Any:
        return (FuturesList, (list(self),))
