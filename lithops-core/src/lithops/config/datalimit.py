"""``lithops.data_limit``: the largest arguments one call may carry, checked before dispatch.

Lithops documents the key as the size limit (MiB, default 4, ``false``: none) of the iterdata
it sends. Here arguments travel with each call's message rather than as one aggregate, so the
limit applies to each call's serialized arguments: a 100,000-call map of small inputs is fine,
one 50 MiB input is refused before anything runs, with a message saying what to do.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import cloudpickle

from lithops.errors import LithopsError

__all__ = ["DataLimitError", "check_data_limit", "serialized_size"]

MIB = 1024**2


class DataLimitError(LithopsError, ValueError):
    """A call's arguments are bigger than ``lithops.data_limit`` allows."""


def serialized_size(value: Any) -> int | None:
    """Bytes ``value`` takes pickled, counting out-of-band buffers (numpy arrays) without
    copying them; ``None`` when it does not pickle (the scheduler reports that per call)."""
    buffers = 0

    def count(buffer: pickle.PickleBuffer) -> bool:
        nonlocal buffers
        buffers += buffer.raw().nbytes
        return False  # not kept in the pickle, and not copied into it either

    for dumps in (pickle.dumps, cloudpickle.dumps):
        buffers = 0
        try:
            return len(dumps(value, protocol=5, buffer_callback=count)) + buffers
        except Exception:  # lambdas and local classes need cloudpickle; else None
            continue
    return None


def check_data_limit(
    calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
    limit_mib: Any,
    function_name: str,
) -> None:
    """Raise :class:`DataLimitError` for the first call whose arguments exceed ``limit_mib``.

    :param calls: ``(args, kwargs)`` of every call of a job.
    :param limit_mib: ``lithops.data_limit`` in MiB; ``False``, ``None`` or ``0``: no limit
        (as in Lithops, where a false-y limit disables the check).
    """
    if not limit_mib:
        return
    limit = float(limit_mib) * MIB
    for index, call in enumerate(calls):
        size = serialized_size(call)
        if size is not None and size > limit:
            raise DataLimitError(
                f"call {index} of {function_name} has {size / MIB:.1f} MiB of arguments, more "
                f"than data_limit allows ({limit_mib} MiB, the 'data_limit' key of the "
                f"'lithops' config section). Put big inputs in storage and pass their keys, "
                f"or raise the limit (lithops: {{data_limit: <MiB>}}), or set it to false to "
                f"disable it. Nothing of this job was run."
            )
