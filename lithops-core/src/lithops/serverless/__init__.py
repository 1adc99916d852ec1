"""What a serverless backend reuses from the core, so that it writes only what its platform
does differently.

A backend's handle subclasses :class:`ServerlessHandle` and writes one method: invoke the
function once and return its answer (or the error a failure means), raising :class:`Retry`
for what the platform refuses for now::

    from lithops.serverless import Retry, ServerlessHandle

    class MyHandle(ServerlessHandle):
        backend = "my_functions"
        storage_backend = "my_storage"
        retry_advice = "raise the function's concurrency quota or lower max_workers"

        def invoke_once(self, body, batch):
            response = self.session.post(self.url, data=body)
            if response.status_code == 429:
                raise Retry("HTTP 429")
            if response.status_code != 200:
                return WorkerLostError(f"the function failed: {response.text}")
            return response.json()

The bounded pool, retries with backoff, large payloads through storage, re-running a failed
batch call by call, log lines and records to the sink, cancel and release are the base's.
Its ``invoke``/``cancel``/``release`` are dispatched by the core, so the plugin module needs
only ``lithops_register_backends`` and ``lithops_provision``. :mod:`lithops.serverless.deploy`
has the deploy steps every platform repeats (the process's deploy cache, waiting for a
function to be ready, the metadata check), :mod:`lithops.serverless.retry` the retry loop on
its own (for a deploy's or metadata call's requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lithops.lazy import lazy_getattr

if TYPE_CHECKING:
    from lithops.serverless.handle import (
        EVENT_OVERHEAD,
        ServerlessHandle,
        split_batch,
        storage_of,
    )
    from lithops.serverless.retry import RETRY_WINDOW_S, Retry, retry_with_backoff

__all__ = [
    "EVENT_OVERHEAD",
    "RETRY_WINDOW_S",
    "Retry",
    "ServerlessHandle",
    "retry_with_backoff",
    "split_batch",
    "storage_of",
]

# Loaded on first use (PEP 562): the core's serverless hooks load with every client, and a
# client on localhost or standalone should not pay for the serverless machinery.
_LAZY = {
    "EVENT_OVERHEAD": "lithops.serverless.handle",
    "ServerlessHandle": "lithops.serverless.handle",
    "split_batch": "lithops.serverless.handle",
    "storage_of": "lithops.serverless.handle",
    "RETRY_WINDOW_S": "lithops.serverless.retry",
    "Retry": "lithops.serverless.retry",
    "retry_with_backoff": "lithops.serverless.retry",
}


__getattr__ = lazy_getattr("lithops.serverless", _LAZY, globals())
