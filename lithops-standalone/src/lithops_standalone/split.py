"""Spreading one batch over several hosts: how many calls each takes, and the sub-messages."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import cloudpickle

from lithops import wire

__all__ = ["plan", "split_message"]


def plan(count: int, slots: Sequence[int], busy: Sequence[int]) -> list[int]:
    """How many of ``count`` calls each host takes: free slots first, the rest by capacity.

    :param slots: worker slots per host.
    :param busy: calls already outstanding per host.
    """
    taken = [0] * len(slots)
    free = [max(0, s - b) for s, b in zip(slots, busy, strict=True)]
    remaining = count
    for i in sorted(range(len(slots)), key=lambda i: -free[i]):
        take = min(free[i], remaining)
        taken[i] += take
        remaining -= take
    if remaining:
        # Everyone is busy: queue on the agents in proportion to what each host runs at once,
        # so hosts finish their queues at about the same time.
        total = sum(slots) or len(slots)
        shares = [remaining * (s or 1) // total for s in slots]
        for i in range(remaining - sum(shares)):
            shares[i % len(slots)] += 1
        taken = [t + s for t, s in zip(taken, shares, strict=True)]
    return taken


def split_message(message: dict[str, Any], counts: Sequence[int]) -> list[dict[str, Any] | None]:
    """The decoded ``batch`` message cut into consecutive parts of ``counts`` calls.

    Lists with one entry per call (``calls``, ``args`` once unpickled, ``chunks``) are sliced;
    everything else (the function, timeout, environment) is shared. ``None`` for empty parts.
    """
    calls: list[Any] = message["calls"]
    n = len(calls)
    arguments = message.get("args")
    unpickled = pickle.loads(arguments) if isinstance(arguments, bytes | bytearray) else arguments
    per_call = {
        key: value
        for key, value in message.items()
        if key not in ("calls", "args") and isinstance(value, list) and len(value) == n
    }
    parts: list[dict[str, Any] | None] = []
    start = 0
    for count in counts:
        if count == 0:
            parts.append(None)
            continue
        end = start + count
        part = dict(message)
        part["calls"] = calls[start:end]
        if unpickled is not None:
            chunk = unpickled[start:end]
            part["args"] = (
                cloudpickle.dumps(chunk) if isinstance(arguments, bytes | bytearray) else chunk
            )
        for key, value in per_call.items():
            part[key] = value[start:end]
        parts.append(part)
        start = end
    return parts


def encode(message: dict[str, Any]) -> bytes:
    return wire.encode(message)
