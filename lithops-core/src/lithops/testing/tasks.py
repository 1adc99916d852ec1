"""Functions the contract suite runs on a backend's workers.

Kept apart from the suite (no pytest import) so a worker in a container, on a VM or in a
serverless function can unpickle them with nothing but lithops installed.
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = [
    "die",
    "echo_env",
    "fail_with",
    "grow",
    "identity",
    "none_for_odd",
    "pid_then_sleep",
    "print_lines",
    "sleep_then",
    "with_id",
]


def identity(x: Any) -> Any:
    return x


def grow(data: bytes, extra: int) -> bytes:
    return data + b"x" * extra


def none_for_odd(x: int) -> int | None:
    return None if x % 2 else x


def fail_with(message: str) -> None:
    raise ValueError(message)


def print_lines(n: int) -> int:
    for i in range(n):
        print(f"contract line {i}")
    return n


def echo_env(name: str) -> str | None:
    return os.environ.get(name)


def with_id(x: Any, id: int) -> tuple[Any, int]:  # lithops' reserved name
    return x, id


def sleep_then(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value


def die(code: int) -> None:
    os._exit(code)


def pid_then_sleep(path: str, seconds: float) -> None:
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(seconds)
