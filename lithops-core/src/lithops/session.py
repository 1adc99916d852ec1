"""The job layer under ``FunctionExecutor``: one executor's backend handle, scheduler and jobs.

``FunctionExecutor`` is the Lithops 3.x API; everything it (and ``map_reduce``, ``clean``,
``job_summary``) needs to build and run jobs lives here, behind a small public API:

* :meth:`JobSession.new_job` turns a function and its inputs into a :class:`~lithops.job.Job`
  and one future per call (serialization, ``obj`` partitioning, ``data_limit``, job ids);
* :meth:`JobSession.submit` hands a job to the scheduler;
* :meth:`JobSession.reserve` makes futures before their job exists (a map_reduce's reducers);
* ``futures``, ``job_stats``, ``log_recorder``, ``storage``, ``compute_handle``: what the jobs
  left, for waits, summaries and clean-up.

Nothing here imports the executor: the layers above pass down what they decide.
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lithops.config.datalimit import check_data_limit
from lithops.config.files import CONFIG_ENV
from lithops.config.modules import modules_to_ship
from lithops.future import ResponseFuture
from lithops.job import Job, build_calls, reserved_params, serialize_function
from lithops.logs import LogRecorder
from lithops.options import JobOptions
from lithops.plugins.manager import PluginHost
from lithops.plugins.types import BackendInfo, CallBatch, CallKey, ProvisionRequest
from lithops.scheduler import Scheduler
from lithops.storage.storage import SESSION_ID_ENV

__all__ = ["ClosedSessionError", "JobSession", "max_inflight"]

logger = logging.getLogger("lithops")

Calls = list[tuple[tuple[Any, ...], dict[str, Any]]]


class ClosedSessionError(RuntimeError):
    """A job was submitted to an executor that was closed."""


class JobSession:
    """The jobs of one executor, from building to results.

    :param executor_id: names the executor's jobs (``<executor_id>/<job_id>``).
    :param config: the executor's validated config.
    :param host: the plugin host that answers for the compute backend.
    :param backend_info: the compute backend, as registered.
    """

    def __init__(
        self,
        executor_id: str,
        config: dict[str, Any],
        host: PluginHost,
        backend_info: BackendInfo,
    ) -> None:
        self.executor_id = executor_id
        self.config = config
        self.host = host
        self.backend_info = backend_info
        self.backend: str = config["lithops"]["backend"]
        self.mode: str = config["lithops"]["mode"]
        #: every future of every job, in submission order (reducers included)
        self.futures: list[ResponseFuture] = []
        #: one entry per job: ``job_key``, ``function``, ``calls``, ``futures``, ``runtime_memory``
        self.job_stats: list[dict[str, Any]] = []
        self.log_recorder = LogRecorder(executor_id)
        self.closed = False
        self._dismantled = False
        self._job_counter = itertools.count()
        self._handle: Any = None
        self._provision_lock = threading.Lock()
        self._storage: Any = None
        self._worker_config_env: dict[str, str] | None = None
        self._reserved: set[int] = set()
        self.scheduler = Scheduler(
            invoke=self._invoke,
            cancel=self._cancel,
            capacity=lambda: int(getattr(self.ensure_handle(), "capacity", 1) or 1),
            storage_descriptor=lambda: self.storage.worker_descriptor(),
            on_log=self.log_recorder.write,
            ack_timeout=backend_info.ack_timeout,
            reports_running="running" in backend_info.capabilities,
            backend=f"backend {self.backend!r}",
            max_inflight=max_inflight(config, self.backend, self.mode),
            function_once="function_once" in backend_info.capabilities,
        )

    # -- backend -----------------------------------------------------------------------------

    @property
    def compute_handle(self) -> Any:
        """The backend's handle, or ``None`` before the first call needed it."""
        return self._handle

    def ensure_handle(self) -> Any:
        """The backend's handle, provisioned on first use."""
        if self._handle is None:
            with self._provision_lock:
                if self._handle is None:
                    section = self.config.get(self.backend) or {}
                    request = ProvisionRequest(
                        backend=self.backend,
                        config=self.config,
                        runtime=section.get("runtime"),
                        runtime_memory=section.get("runtime_memory"),
                        events=self.scheduler,
                    )
                    self._handle = self.host.provision(request)
        return self._handle

    def _invoke(self, batch: CallBatch) -> None:
        self.host.invoke(self.ensure_handle(), batch)

    def _cancel(self, keys: list[CallKey]) -> None:
        if self._handle is not None:
            self.host.cancel(self._handle, keys)

    @property
    def storage(self) -> Any:
        """The :class:`lithops.Storage` of the config, created on first use."""
        if self._storage is None:
            from lithops.storage import Storage

            self._storage = Storage(config=self.config)
        return self._storage

    def worker_env(self) -> dict[str, str]:
        """The config a function's own ``lithops.Storage()`` reads on the worker, as Lithops
        gives it (``LITHOPS_CONFIG``): this session's storage, by its secret-free descriptor,
        never the whole config. Empty when the storage cannot be set up: a job that does not
        use storage must not fail for it."""
        if self._worker_config_env is None:
            try:
                desc = self.storage.worker_descriptor()
            except Exception as exc:
                logger.debug("no storage config for the workers: %s", exc)
                self._worker_config_env = {}
            else:
                name = desc["backend"]
                section = {**desc["settings"], "storage_bucket": desc["bucket"]}
                config = {"lithops": {"storage": name}, name: section}
                self._worker_config_env = {CONFIG_ENV: json.dumps(config)}
        return self._worker_config_env

    def close(self, dismantle: bool = False) -> None:
        """Cancel what still runs and release the backend's handle; with ``data_cleaner``
        (the default), delete lithops' own temporary objects of the jobs. Idempotent, except
        that a ``dismantle`` after a plain close still dismantles.

        :raises Exception: the backend's error when a ``dismantle`` fails (the user asked for
            the teardown: say it did not happen); a plain release only logs it.
        """
        if self.closed and not (dismantle and not self._dismantled):
            return
        first = not self.closed
        self.closed = True
        self._dismantled = self._dismantled or dismantle
        if first:
            pending = [f for f in self.futures if not f.done]
            if pending:
                self.scheduler.cancel(pending)
        if self._handle is not None:
            try:
                self.host.release(self._handle, dismantle=dismantle)
            except Exception as exc:
                if dismantle:
                    raise
                logger.warning("backend %r could not release its handle: %s", self.backend, exc)
        if first:
            if self.config["lithops"].get("data_cleaner", True) and self.job_stats:
                self._clean_staged()
            self.log_recorder.close()

    def _clean_staged(self) -> None:
        """Delete what lithops staged in storage for this session's jobs (the ``functions/``
        of each job's temporary prefix); the functions' own cloud objects stay."""
        if self._storage is None:
            return  # nothing here made a storage: nothing was staged through it
        from lithops.storage.storage import TEMP_PREFIX

        prefix = f"{TEMP_PREFIX}/{self.executor_id}/"
        try:
            storage = self._storage
            keys = [
                k
                for k in storage.list_keys(storage.bucket, prefix)
                if k[len(prefix) :].split("/")[1:2] == ["functions"]
            ]
            if keys:
                storage.delete_objects(storage.bucket, keys)
        except Exception as exc:  # clean-up must not fail a close
            logger.debug("temporary objects of %s not deleted: %s", self.executor_id, exc)

    # -- jobs ----------------------------------------------------------------------------------

    def next_job_id(self, prefix: str) -> str:
        """A new job id: ``prefix`` (``A`` call_async, ``M`` map, ``R`` reduce) and a counter."""
        return f"{prefix}{next(self._job_counter):03d}"

    def new_job(
        self,
        prefix: str,
        func: Callable[..., Any],
        iterdata: Any,
        options: JobOptions | None = None,
        *,
        reserved: list[ResponseFuture] | None = None,
        check_data: bool = True,
    ) -> tuple[Job, list[ResponseFuture]]:
        """Build a job (not submitted yet) and its futures, one per call, in input order.

        :param options: the caller's options (default: none); ``None`` fields take the
            config's values.
        :param reserved: futures handed out before the job could be built (from
            :meth:`reserve`), one per call; the job takes their job id and resolves them.
        :param check_data: apply ``data_limit`` (off for inputs that are results already).
        """
        if self.closed:
            raise ClosedSessionError("this executor is closed; create a new FunctionExecutor")
        created = time.time()
        options = options or JobOptions()
        inject = reserved_params(func)
        calls = build_calls(func, iterdata, options.extra_args, inject)
        if "obj" in inject:
            calls = self._partition(func, calls, options)
        cfg = self.config["lithops"]
        if check_data and prefix != "R":  # reducers and chained maps get results, not iterdata
            check_data_limit(calls, cfg.get("data_limit"), getattr(func, "__name__", "f"))
        func_key, payload = serialize_function(
            func, *modules_to_ship(cfg, options.include_modules, options.exclude_modules)
        )
        job_id = reserved[0].job_id if reserved else self.next_job_id(prefix)
        job = Job(
            executor_id=self.executor_id,
            job_id=job_id,
            function_name=getattr(func, "__name__", type(func).__name__),
            func_key=func_key,
            func_payload=payload,
            arguments=calls,
            inject=inject,
            timeout=cfg.get("execution_timeout") if options.timeout is None else options.timeout,
            # cloud objects the function puts without a key go under its job's prefix,
            # which clean() deletes
            extra_env={
                SESSION_ID_ENV: f"{self.executor_id}/{job_id}",
                **self.worker_env(),
                **(options.extra_env or {}),
            },
            runtime_memory=options.runtime_memory,
            chunksize=cfg.get("chunksize") if options.chunksize is None else options.chunksize,
            retries=int(cfg.get("retries") or 0) if options.retries is None else options.retries,
            backups=bool(cfg.get("backups")) if options.backups is None else options.backups,
            host_job_create_tstamp=created,
            host_job_serialize_time=time.time() - created,
        )
        futures = reserved or [
            ResponseFuture(self.executor_id, job_id, f"{i:05d}", job.function_name)
            for i in range(len(calls))
        ]
        self.job_stats.append(
            {
                "job_key": job.job_key,
                "function": job.function_name,
                "calls": len(calls),
                "futures": futures,
                "runtime_memory": options.runtime_memory,
            }
        )
        return job, futures

    def reserve(self, function_name: str, count: int) -> list[ResponseFuture]:
        """``count`` futures of one-call jobs to come (each its own job id), listed with the
        session's futures at once: ``cancel()`` and waits work before their job is built."""
        futures = [
            ResponseFuture(self.executor_id, self.next_job_id("R"), "00000", function_name)
            for _ in range(count)
        ]
        for f in futures:
            f.scheduler = self.scheduler
            self._reserved.add(id(f))
        self.futures.extend(futures)
        return futures

    def submit(self, job: Job, futures: list[ResponseFuture]) -> None:
        """Hand ``job`` to the scheduler; its futures join :attr:`futures` unless reserved."""
        if futures and id(futures[0]) in self._reserved:
            self._reserved.difference_update(id(f) for f in futures)
        else:
            self.futures.extend(futures)
        self.scheduler.submit(job, futures)

    def _partition(self, func: Callable[..., Any], calls: Calls, options: JobOptions) -> Calls:
        from lithops.storage.partition import expand_obj_calls

        sig = inspect.signature(func)
        fill = {p: None for p in ("id", "storage") if p in sig.parameters}
        items = []
        for args, kwargs in calls:
            bound = sig.bind_partial(*args, **kwargs).arguments
            items.append({k: v for k, v in bound.items() if k not in fill})
        expanded = expand_obj_calls(
            items,
            self.storage,
            options.obj_chunk_size,
            options.obj_chunk_number,
            options.obj_newline,
        )
        return [((), item) for item in expanded]


def max_inflight(config: dict[str, Any], backend: str, mode: str) -> int | None:
    """How many batches of an executor may be with the backend at once: ``max_workers`` of
    the backend's section, else Lithops 2.x's ``lithops.workers``; ``None``: no limit.

    In standalone mode ``max_workers`` is, as in Lithops, the number of VMs (each runs many
    batches at once): it is the VM provider's, not an in-flight limit."""
    if mode == "standalone":
        return None
    section = config.get(backend) or {}
    value = section.get("max_workers") or (config.get("lithops") or {}).get("workers")
    return int(value) if value else None
