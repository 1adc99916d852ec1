"""A joblib backend running each batch of tasks as one lithops call.

::

    import joblib
    from lithops.util.joblib import register_lithops

    register_lithops()
    with joblib.parallel_backend("lithops"):
        squares = joblib.Parallel()(joblib.delayed(pow)(i, 2) for i in range(100))

Libraries built on joblib (scikit-learn's ``n_jobs``) run on lithops the same way.
``parallel_backend("lithops", **kwargs)`` passes ``kwargs`` to :class:`lithops.FunctionExecutor`
(``config``, ``backend``, ``runtime``...); ``n_jobs=-1`` means the backend's configured
``max_workers`` (``worker_processes`` on localhost), a positive ``n_jobs`` is the most calls
running at once. Arrays and byte strings of at least ``large_object_bytes`` (1 MiB) travel
through the storage, once per ``Parallel`` call, not inside every call's payload.

joblib is an optional dependency: ``pip install 'lithops-core[joblib]'``.
"""

from __future__ import annotations

from typing import Any

from lithops.errors import LithopsError

__all__ = ["JoblibMissingError", "register_lithops"]


class JoblibMissingError(LithopsError, ImportError):
    """joblib is not installed in this environment."""


def register_lithops(make_default: bool = False) -> None:
    """Register the ``lithops`` joblib backend (``joblib.parallel_backend('lithops')``).

    :param make_default: make it joblib's default backend outside any ``parallel_backend``.
    :raises JoblibMissingError: joblib is not installed.
    """
    try:
        import joblib
    except ImportError as exc:
        raise JoblibMissingError(
            "the lithops joblib backend needs joblib: install it with "
            "pip install 'lithops-core[joblib]'"
        ) from exc
    from lithops.util.joblib.backend import LithopsBackend

    joblib.register_parallel_backend("lithops", LithopsBackend, make_default=make_default)


def __getattr__(name: str) -> Any:
    if name == "LithopsBackend":
        from lithops.util.joblib.backend import LithopsBackend

        return LithopsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
