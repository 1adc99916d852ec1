"""Module attributes that load on first use (PEP 562), for packages whose names pull in more
than an importer of one submodule should pay for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, names: Mapping[str, str], namespace: dict[str, Any] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` and returns its ``name``.

    :param package: the module's own name, for the error on an unknown attribute.
    :param names: attribute -> the module that defines it.
    :param namespace: the module's ``globals()``: each value is kept there once loaded, so
        later lookups skip this function. Leave it out for names that must stay lazy.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        if namespace is not None:
            namespace[name] = value
        return value

    return __getattr__
