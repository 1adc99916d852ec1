"""Checking a config: unknown keys and bad values become errors that say how to fix them.

Sections the core owns (``lithops:``, ``standalone:``, ``serverless:``) are checked key by key
and value by value. A backend's section is checked against the keys its plugin registered;
the section of a backend that is not installed here is left alone, so one config file can be
shared by machines with different backends installed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lithops.config.keys import (
    COMMON_COMPUTE_KEYS,
    COMMON_STORAGE_KEYS,
    LITHOPS_KEYS,
    MODE_SECTIONS,
    STANDALONE,
    STANDALONE_KEYS,
    KeySpec,
    as_key_spec,
)
from lithops.errors import ConfigError, UnknownBackendError
from lithops.plugins.types import BackendInfo, BackendKind

if TYPE_CHECKING:
    from lithops.plugins.manager import PluginHost

__all__ = [
    "allowed_backend_keys",
    "backend_key_specs",
    "check_backend_values",
    "check_keys",
    "check_section",
    "check_value",
    "did_you_mean",
    "installed_backends_named",
    "resolve_backend",
    "validate_backend_sections",
    "validate_core_sections",
]

logger = logging.getLogger(__name__)

_TYPE_NAMES = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    list: "a list",
    tuple: "a list",
    type(None): "null",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest choice to ``word``, or ``""`` when none is close."""
    import difflib  # only for an error message: not on the cold path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _where(section: str, source: str) -> str:
    return f"the {section!r} section of {source}"


def check_keys(
    section: str, values: Mapping[str, Any], allowed: Iterable[str], source: str
) -> None:
    """Raise :class:`ConfigError` for the first key of ``values`` not in ``allowed``."""
    valid = sorted(set(allowed))
    for key in values:
        if key not in valid:
            raise ConfigError(
                f"unknown key {key!r} in {_where(section, source)}.{did_you_mean(str(key), valid)}"
                f" Valid keys: {', '.join(valid) or '(none)'}."
            )


def _describe_types(types: tuple[type, ...]) -> str:
    names: list[str] = []
    for t in types:
        name = _TYPE_NAMES.get(t, t.__name__)
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _allowed(spec: KeySpec) -> str:
    """What a key accepts, in words: ``a whole number or 'AUTO'``."""
    other = tuple(t for t in spec.types if t is not str) if spec.choices else spec.types
    parts = [_describe_types(other)] if other else []
    if spec.choices:
        parts.append("one of: " + ", ".join(str(c) for c in spec.choices))
    return " or ".join(parts)


def check_value(section: str, key: str, value: Any, spec: KeySpec, source: str) -> None:
    """Raise :class:`ConfigError` naming the key, the value and what is allowed, when ``value``
    does not fit ``spec`` (type, choices, range) or the key is not supported here."""
    where = _where(section, source)
    # bool is an int subclass: `execution_timeout: yes` must not pass as 1.
    type_ok = any(
        isinstance(value, t) and not (isinstance(value, bool) and t in (int, float))
        for t in spec.types
    )
    if not type_ok:
        raise ConfigError(
            f"{key!r} in {where} must be {_allowed(spec)}, "
            f"not {type(value).__name__} ({value!r}). {key}: {spec.help}."
        )
    if spec.choices and isinstance(value, str):
        folded = value.upper() if spec.fold_case else value
        choices = [str(c) for c in spec.choices]
        if folded not in choices:
            raise ConfigError(
                f"{key!r} in {where} is {value!r}, which is not allowed: it must be "
                f"{_allowed(spec)}.{did_you_mean(folded, choices)} {key}: {spec.help}."
            )
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{key!r} in {where} {problem}, not {value!r}. {key}: {spec.help}.")
    if spec.unsupported and value is not None and value != spec.default:
        keep = f" (or set it to {spec.default!r})" if spec.default is not None else ""
        raise ConfigError(
            f"{key!r} in {where} is {value!r}, which is not supported: {spec.unsupported}. "
            f"Remove the key{keep}."
        )


def check_section(
    section: str, values: Mapping[str, Any], specs: Mapping[str, KeySpec], source: str
) -> None:
    """Check the keys and values of a section the core owns."""
    check_keys(section, values, specs, source)
    for key, value in values.items():
        check_value(section, key, value, specs[key], source)


def validate_core_sections(config: Mapping[str, Any], source: str) -> None:
    """Check ``lithops:``, ``standalone:`` and ``serverless:`` (whatever is installed)."""
    check_section("lithops", config.get("lithops") or {}, LITHOPS_KEYS, source)
    for name, specs in MODE_SECTIONS.items():
        check_section(name, config.get(name) or {}, specs, source)


# --------------------------------------------------------------------------------------------
# backend sections
# --------------------------------------------------------------------------------------------


def installed_backends_named(host: PluginHost, name: str) -> list[BackendInfo]:
    """Every installed backend (of any kind) registered as ``name`` or with ``name`` as an alias."""
    found = []
    for kind in BackendKind:
        canonical = host.aliases.get((kind, name), name)
        info = host.backends.get((kind, canonical))
        if info is not None:
            found.append(info)
    return found


def backend_key_specs(infos: Iterable[BackendInfo]) -> dict[str, KeySpec | None]:
    """Every key a section shared by these backends accepts (compute and storage
    ``localhost``), with its spec, or ``None`` when the plugin gave only a description."""
    infos = list(infos)
    specs: dict[str, KeySpec | None] = {}

    def add(declared: Mapping[str, KeySpec | str]) -> None:
        for key, value in declared.items():
            spec = as_key_spec(value)
            # A typed declaration wins over a description of the same key.
            if spec is not None or key not in specs:
                specs[key] = spec

    for info in infos:
        if info.kind == BackendKind.COMPUTE:
            add(COMMON_COMPUTE_KEYS)
            if info.mode == STANDALONE:
                # Lithops reads standalone settings from the backend's own section as well.
                add({k: v for k, v in STANDALONE_KEYS.items() if k != "backend"})
        elif info.kind == BackendKind.STORAGE:
            add(COMMON_STORAGE_KEYS)
    for info in infos:
        # The plugin's own typed declarations come last: they replace the common specs.
        add(info.config_keys)
    return specs


def allowed_backend_keys(infos: Iterable[BackendInfo]) -> set[str]:
    """The keys a section shared by these backends accepts (compute and storage ``localhost``)."""
    return set(backend_key_specs(infos))


def check_backend_values(
    section: str, values: Mapping[str, Any], infos: Iterable[BackendInfo], source: str
) -> None:
    """Check the keys of a backend section, and the values of the keys declared with a spec."""
    specs = backend_key_specs(list(infos))
    check_keys(section, values, specs, source)
    for key, value in values.items():
        spec = specs[key]
        if spec is not None:
            check_value(section, key, value, spec, source)


def validate_backend_sections(config: Mapping[str, Any], host: PluginHost, source: str) -> None:
    """Check every section named after an installed backend against its registered keys."""
    for section, values in config.items():
        if section == "lithops" or section in MODE_SECTIONS:
            continue
        infos = installed_backends_named(host, section)
        if not infos:
            logger.debug(
                "config section %r is not checked: no installed backend is named so", section
            )
            continue
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{_where(section, source)} must be a mapping of keys, "
                f"not {type(values).__name__} ({values!r})"
            )
        check_backend_values(section, values, infos, source)


def resolve_backend(host: PluginHost, name: str, kind: BackendKind) -> BackendInfo:
    """``host.resolve`` with a did-you-mean added to its "unknown backend" error."""
    try:
        return host.resolve(name, kind)
    except UnknownBackendError as exc:
        names = {b.name for b in host.of_kind(kind)}
        names.update(alias for (k, alias) in host.aliases if k == kind)
        hint = did_you_mean(name, sorted(names))
        if hint:
            raise UnknownBackendError(f"{exc}.{hint}") from None
        raise
