"""``FuturesList``: the futures of a job, with Lithops' chaining methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lithops.executor import FunctionExecutor, _Reducers

__all__ = ["FuturesList"]


class FuturesList(list):  # type: ignore[type-arg]
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

    def map(self, map_function: Any, **kwargs: Any) -> FuturesList:
        """Call ``map_function`` on the result of each future, in order."""
        return self._executor().map(map_function, self, **kwargs)

    def map_reduce(self, map_function: Any, reduce_function: Any, **kwargs: Any) -> FuturesList:
        results = self._executor().get_result(list(self), show_progressbar=False)
        return self._executor().map_reduce(
            map_function, [(r,) for r in results], reduce_function, **kwargs
        )

    def wait(self, **kwargs: Any) -> Any:
        return self._executor().wait(self, **kwargs)

    def get_result(self, **kwargs: Any) -> Any:
        return self._executor().get_result(self, **kwargs)

    def __reduce__(self) -> Any:
        return (FuturesList, (list(self),))
