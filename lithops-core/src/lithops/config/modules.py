"""``include_modules``/``exclude_modules``: a call's arguments merged with the config's keys.

As Lithops documents them: both lists add up (config and argument); ``include_modules=None``
(argument or config, with no modules named in the other) ships no module by value; an empty
include list ships what the function needs, minus the excluded modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["modules_to_ship"]


def modules_to_ship(
    lithops_section: Mapping[str, Any],
    include_modules: Iterable[str] | None,
    exclude_modules: Iterable[str] | None,
) -> tuple[list[str] | None, list[str]]:
    """``(include, exclude)`` for :func:`lithops.job.serialize_function`.

    :param lithops_section: the validated ``lithops:`` section.
    :param include_modules: the call's argument (``()`` when not given, ``None``: none).
    :param exclude_modules: the call's argument.
    """
    exclude = [*(lithops_section.get("exclude_modules") or ()), *(exclude_modules or ())]
    configured = lithops_section.get("include_modules", [])
    if include_modules is None:
        return None, exclude
    named = list(include_modules)
    if configured is None:
        return (named or None), exclude
    return [*configured, *named], exclude
