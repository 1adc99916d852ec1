"""``FunctionExecutor`` and its mode-specific names: the public API of Lithops 3.x."""

from __future__ import annotations

# First: backends' warm-ups (the localhost worker template) start before the imports below.
import lithops.plugins.prestart  # noqa: F401

# isort: split
import dataclasses
import functools
import itertools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from lithops import futures_list
from lithops.config.logconfig import logging_from_config
from lithops.future import ResponseFuture
from lithops.futures_list import FuturesList, Reducers
from lithops.job import Job
from lithops.logs import LogRecorder
from lithops.map_reduce import reduce_groups, start_reducer, when_all
from lithops.options import JobOptions, MapAPI
from lithops.plugins.types import BackendKind
from lithops.session import JobSession
from lithops.wait import ALL_COMPLETED, WaitAPI, WaitOptions, get_result, wait_with_options

__all__ = [
    "FunctionExecutor",
    "LocalhostExecutor",
    "ServerlessExecutor",
    "StandaloneExecutor",
    "clean_all",
]

from lithops.cleanup import clean_all

logger = logging.getLogger("lithops")

_session = os.urandom(3).hex()
_executor_counter = itertools.count()


def _new_session() -> None:
    """A forked process (a worker opening its own executor) names its executors afresh, so
    their ids (and the storage keys under them) never repeat its parent's or a sibling's."""
    global _session, _executor_counter
    _session = os.urandom(3).hex()
    _executor_counter = itertools.count()


if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
    os.register_at_fork(after_in_child=_new_session)


class FunctionExecutor(MapAPI[FuturesList], WaitAPI[FuturesList]):
    """Runs functions on the configured compute backend.

    :param mode: ``localhost``, ``serverless`` or ``standalone``.
    :param config: a config dict (replaces the config file).
    :param config_file: a YAML config file.
    :param backend: the compute backend (``localhost``, ``ssh``, ``aws_lambda``...).
    :param storage: the storage backend (``localhost``, ``aws_s3``...).
    :param log_level: lithops' own log level (``'INFO'``, ``'DEBUG'``); ``False`` keeps it quiet.
    :param kwargs: settings of the backend's config section (``runtime=``, ``worker_processes=``).
    """

    def __init__(
        self,
        mode: str | None = None,
        config: dict[str, Any] | None = None,
        config_file: str | None = None,
        backend: str | None = None,
        storage: str | None = None,
        monitoring: str | None = None,
        log_level: str | bool | None = False,
        **kwargs: Any,
    ) -> None:
        from lithops.config import resolve_executor_config
        from lithops.plugins.manager import get_plugin_host

        self.config = resolve_executor_config(
            mode, config, config_file, backend, storage, monitoring=monitoring, **kwargs
        )
        logging_from_config(log_level, self.config["lithops"])
        self._host = get_plugin_host()
        self.backend = self.config["lithops"]["backend"]
        self.mode = self.config["lithops"]["mode"]
        self.executor_id = f"{_session}-{next(_executor_counter)}"
        #: the job layer: backend handle, scheduler, jobs, futures, stats, logs
        self.session = JobSession(
            self.executor_id,
            self.config,
            self._host,
            self._host.resolve(self.backend, BackendKind.COMPUTE),
        )
        self.last_call: str | None = None

    @property
    def futures(self) -> list[ResponseFuture]:
        """Every future of this executor, in submission order."""
        return self.session.futures

    @futures.setter
    def futures(self, value: list[ResponseFuture]) -> None:
        self.session.futures[:] = list(value)  # Lithops code may reset the list

    @property
    def job_stats(self) -> list[dict[str, Any]]:
        return self.session.job_stats

    @property
    def log_recorder(self) -> LogRecorder:
        return self.session.log_recorder

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> FunctionExecutor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def close(self) -> None:
        """Cancel what is still running and free the backend (warm pools stay warm)."""
        self.session.close()

    def dismantle(self) -> None:
        """Close, and remove what the backend set up for this executor (Lithops 3.x).

        Standalone on a VM provider: create-mode VMs are deleted (or stopped, per the
        provider's ``delete_on_dismantle``), reuse-mode VMs stopped. Also after ``close()``.
        """
        self.session.close(dismantle=True)

    # -- backend -----------------------------------------------------------------------------

    @property
    def compute_handle(self) -> Any:
        """The backend's handle for this executor, or ``None`` before its first call."""
        return self.session.compute_handle

    @property
    def storage(self) -> Any:
        """The :class:`lithops.Storage` of this executor's config."""
        return self.session.storage

    # -- submitting ----------------------------------------------------------------------------

    def call_async(
        self,
        func: Callable[..., Any],
        data: Any = (),
        extra_env: dict[str, str] | None = None,
        runtime_memory: int | None = None,
        timeout: float | None = None,
        include_modules: Sequence[str] | None = (),
        exclude_modules: Sequence[str] | None = (),
        retries: int | None = None,
    ) -> ResponseFuture:
        """Run ``func`` once with ``data`` (a tuple: positional args; a dict: keyword args)."""
        options = JobOptions(
            extra_env=extra_env,
            runtime_memory=runtime_memory,
            timeout=timeout,
            include_modules=include_modules,
            exclude_modules=exclude_modules,
            retries=retries,
        )
        job, futures = self.session.new_job("A", func, [data], options)
        self.last_call = "call_async"
        self.session.submit(job, futures)
        return futures[0]

    def map_with_options(
        self, map_function: Callable[..., Any], map_iterdata: Any, options: JobOptions
    ) -> FuturesList:
        """``map`` with its options gathered already (see :class:`~lithops.options.JobOptions`)."""
        job, futures = self._map_job(map_function, map_iterdata, options)
        self.last_call = "map"
        self.session.submit(job, futures)
        return futures

    def _map_job(
        self, map_function: Callable[..., Any], map_iterdata: Any, options: JobOptions
    ) -> tuple[Job, FuturesList]:
        """The job of a ``map``, built but not submitted yet."""
        chained = False
        if isinstance(map_iterdata, FuturesList) or _all_futures(map_iterdata):
            # Chaining: one call per parent future (after a map_reduce, per reducer), its
            # result bound like an input element, as Lithops documents it: a tuple result is
            # positional arguments (``return x, 5`` feeds ``g(x, y)``), a dict keywords.
            parents = [f for f in self.expand_futures(map_iterdata) if f.produce_output]
            map_iterdata = get_result(parents, show_progressbar=False)
            chained = True
            # consumed, as in Lithops: get_result() gives the new job's results, not theirs
            for f in parents:
                f.produce_output = False
        job, futures = self.session.new_job(
            "M", map_function, map_iterdata, options, check_data=not chained
        )
        return job, FuturesList(futures, executor=self)

    def map_reduce(
        self,
        map_function: Callable[..., Any],
        map_iterdata: Any,
        reduce_function: Callable[..., Any],
        chunksize: int | None = None,
        extra_args: Any = None,
        extra_args_reduce: Any = None,
        extra_env: dict[str, str] | None = None,
        map_runtime_memory: int | None = None,
        reduce_runtime_memory: int | None = None,
        timeout: float | None = None,
        obj_chunk_size: int | None = None,
        obj_chunk_number: int | None = None,
        obj_newline: str | None = "\n",
        obj_reduce_by_key: bool = False,
        spawn_reducer: int = 20,
        include_modules: Sequence[str] | None = (),
        exclude_modules: Sequence[str] | None = (),
    ) -> FuturesList:
        """Map, then reduce the list of map results with ``reduce_function(results)``.

        The reducer starts as soon as the last map result arrives (``spawn_reducer`` is
        accepted for compatibility: no worker sits waiting for map results here). With
        ``obj_reduce_by_key`` there is one reducer per object, fed that object's partitions.
        """
        options = JobOptions(
            chunksize=chunksize,
            extra_args=extra_args,
            extra_env=extra_env,
            runtime_memory=map_runtime_memory,
            obj_chunk_size=obj_chunk_size,
            obj_chunk_number=obj_chunk_number,
            obj_newline=obj_newline,
            timeout=timeout,
            include_modules=include_modules,
            exclude_modules=exclude_modules,
        )
        job, map_futures = self._map_job(map_function, map_iterdata, options)
        # grouped before submitting: a call's arguments are gone once it ends
        groups = reduce_groups(job.arguments, list(map_futures), obj_reduce_by_key)
        for f in map_futures:
            f.produce_output = False  # get_result returns the reducers' results only
        self.session.submit(job, map_futures)
        # As in Lithops, the reducers' futures exist at once, after the map's; each one's call
        # starts when the map calls of its group are done.
        name = getattr(reduce_function, "__name__", type(reduce_function).__name__)
        reducers = Reducers(self.session.reserve(name, len(groups)))
        result = FuturesList([*map_futures, *reducers.futures], executor=self)
        result.reducers = reducers
        reduce_options = options.for_reducer(extra_args_reduce, reduce_runtime_memory)
        for index, members in enumerate(groups):
            when_all(
                members,
                functools.partial(
                    start_reducer,
                    self.session,
                    members,
                    reduce_function,
                    reduce_options,
                    reducers,
                    index,
                ),
            )
        self.last_call = "map_reduce"
        return result

    # -- waiting -------------------------------------------------------------------------------

    def wait_with_options(self, fs: Any, options: WaitOptions) -> tuple[FuturesList, FuturesList]:
        """``wait`` with its options gathered already; ``fs=None``: every future."""
        timeout = options.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        futures = self.expand_futures(
            fs if fs is not None else self.futures, options.return_when, timeout
        )
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, not_done = wait_with_options(futures, dataclasses.replace(options, timeout=left))
        return FuturesList(done, executor=self), FuturesList(not_done, executor=self)

    def get_result(
        self,
        fs: Any = None,
        throw_except: bool = True,
        timeout: float | None = None,
        threadpool_size: int = 64,
        wait_dur_sec: float | None = None,
        show_progressbar: bool = True,
        **_: Any,
    ) -> Any:
        """Results of ``fs`` (default: every future not read yet), one per call, in order.

        A single result of a ``call_async`` or ``map_reduce`` comes back as the value itself.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if fs is None:
            futures = [
                f for f in self.expand_futures(self.futures, timeout=timeout) if not f.delivered
            ]
        else:
            futures = self.expand_futures(fs, timeout=timeout)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        results = get_result(
            futures, throw_except=throw_except, timeout=left, show_progressbar=show_progressbar
        )
        if fs is None:
            for f in futures:
                f.delivered = True
        single = (
            isinstance(fs, ResponseFuture)
            or (fs is None and self.last_call != "map")
            or (isinstance(fs, FuturesList) and fs.reducers is not None)
        )
        if single and len(results) == 1:
            return results[0]
        return results

    def expand_futures(
        self, fs: Any, return_when: int = ALL_COMPLETED, timeout: float | None = None
    ) -> list[ResponseFuture]:
        """Futures to wait for (a map_reduce's list holds its reducers from the start)."""
        if isinstance(fs, ResponseFuture):
            return [fs]
        return list(fs)

    # -- housekeeping --------------------------------------------------------------------------

    def clean(
        self,
        fs: Any = None,
        cs: Any = None,
        clean_cloudobjects: bool = True,
        clean_fn: bool = False,
        force: bool = False,
        **_: Any,
    ) -> None:
        """Delete temporary data, as Lithops does.

        :param fs: futures whose jobs to clean (default: every job of this executor).
        :param cs: cloud objects to delete; with ``cs`` and no ``fs`` nothing else is cleaned.
        :param clean_cloudobjects: delete the cloud objects the functions of finished jobs put
            without a key (``storage.put_cloudobject(body)``).
        :param force: clean jobs that are still running too, and the local log files.

        Results never go through storage here, so there is nothing else to delete.
        """
        from lithops.cleanup import clean_executor

        clean_executor(
            self.session,
            self.expand_futures(fs) if fs is not None else None,
            cs,
            clean_cloudobjects,
            force,
        )

    def job_summary(self, cloud_objects_n: int = 0) -> str:
        from lithops.summary import write_job_summary

        return write_job_summary(self.session)

    def plot(self, fs: Any = None, dst: str | None = None, figsize: tuple = (10, 6)) -> list[str]:
        from lithops.plots import plot_futures

        return plot_futures(
            self.expand_futures(fs if fs is not None else self.futures), dst, figsize
        )


def _all_futures(iterdata: Any) -> bool:
    return (
        isinstance(iterdata, list | tuple)
        and len(iterdata) > 0
        and all(isinstance(f, ResponseFuture) for f in iterdata)
    )


class _ModeExecutor(FunctionExecutor):
    """A ``FunctionExecutor`` whose mode is fixed by the class (Lithops' named executors)."""

    MODE = ""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        config_file: str | None = None,
        backend: str | None = None,
        storage: str | None = None,
        log_level: str | bool | None = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            mode=self.MODE,
            config=config,
            config_file=config_file,
            backend=backend,
            storage=storage,
            log_level=log_level,
            **kwargs,
        )


class LocalhostExecutor(_ModeExecutor):
    """``FunctionExecutor(mode='localhost')``."""

    MODE = "localhost"


class ServerlessExecutor(_ModeExecutor):
    """``FunctionExecutor(mode='serverless')``: needs a serverless backend distribution."""

    MODE = "serverless"


class StandaloneExecutor(_ModeExecutor):
    """``FunctionExecutor(mode='standalone')``: needs ``pip install lithops-standalone``."""

    MODE = "standalone"


# A FuturesList whose executor stayed in another process chains on a default one.
futures_list.set_default_executor(FunctionExecutor)
