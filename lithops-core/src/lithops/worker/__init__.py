"""The worker runtime every backend runs: see :mod:`lithops.worker.runtime` and :mod:`.serve`."""

from __future__ import annotations

from lithops.worker.runtime import FunctionCache, OutputCapture, run_batch

__all__ = ["FunctionCache", "OutputCapture", "handle_payload", "run_batch"]


def handle_payload(payload: bytes) -> bytes:
    """Run one encoded ``batch`` message and return the encoded ``results`` message.

    What a serverless function handler calls: the invocation payload in, the response out.
    """
    from lithops import wire

    records: list[dict] = []
    run_batch(wire.decode(payload), records.append, _FUNCTIONS, OutputCapture(None))
    return wire.encode(
        {"t": "results", "wire": wire.WIRE_VERSION, "records": records, "running": None}
    )


_FUNCTIONS = FunctionCache()
