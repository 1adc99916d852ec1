"""Building the final config: user config + overrides + defaults, mode and backend derived.

Mode and backend, as in Lithops 3.x, with one fix (an explicit ``mode`` is honoured):

* ``backend`` given: it is used, and its registration says the mode. A ``mode`` given with it
  that disagrees is an error.
* only ``mode`` given: the configured ``lithops.backend`` if it belongs to that mode, else the
  mode section's ``backend`` (``standalone: {backend: ...}``), else the mode's default
  (localhost -> ``localhost``, serverless -> ``aws_lambda``, standalone -> ``ssh``).
* neither given: ``lithops.backend``/``lithops.mode`` from the config the same way; with none
  of them, ``localhost``.

Arguments (``FunctionExecutor(mode=, backend=, storage=)``, ``config_overwrite['lithops']``)
count as "given"; values read from the config file come after them.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lithops.config.files import LoadedConfig, load_user_config
from lithops.config.keys import (
    DEFAULT_BACKEND_OF_MODE,
    LITHOPS_KEYS,
    LOCALHOST,
    MODE_SECTIONS,
    MODES,
    STANDALONE,
    STANDALONE_KEYS,
)
from lithops.config.logconfig import DEFAULT_LOG_FORMAT, DEFAULT_LOG_STREAM
from lithops.config.validation import (
    check_backend_values,
    did_you_mean,
    resolve_backend,
    validate_backend_sections,
    validate_core_sections,
)
from lithops.errors import ConfigError
from lithops.plugins.types import BackendInfo, BackendKind
from lithops.version import __version__

if TYPE_CHECKING:
    from lithops.plugins.manager import PluginHost

__all__ = [
    "default_config",
    "default_storage_config",
    "extract_storage_config",
    "get_log_info",
    "resolve_executor_config",
]

logger = logging.getLogger(__name__)

DEFAULT_STORAGE = "localhost"
DEFAULT_LOG_LEVEL = "WARNING"
_USER_AGENT = f"lithops/{__version__}"


def _host() -> PluginHost:
    # Imported lazily: reading a config must not load plugins until a backend is looked up.
    from lithops.plugins.manager import get_plugin_host

    return get_plugin_host()


def _sections(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Turn empty sections (``localhost:`` with nothing under it) into dicts; reject non-dicts."""
    for name, values in list(data.items()):
        if values is None:
            data[name] = {}
        elif not isinstance(values, dict):
            raise ConfigError(
                f"section {name!r} of {source} must be a mapping of keys, "
                f"not {type(values).__name__} ({values!r})"
            )
    data.setdefault("lithops", {})
    return data


def _merge_sections(data: dict[str, Any], overwrite: Mapping[str, Any]) -> None:
    for name, values in overwrite.items():
        if not values:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"config_overwrite[{name!r}] must be a dict of keys")
        data.setdefault(name, {}).update(copy.deepcopy(dict(values)))


def _find(host: PluginHost, name: str | None) -> BackendInfo | None:
    if not name:
        return None
    canonical = host.aliases.get((BackendKind.COMPUTE, name), name)
    return host.backends.get((BackendKind.COMPUTE, canonical))


def _derive_backend(
    data: dict[str, Any],
    host: PluginHost,
    mode: str | None,
    backend: str | None,
) -> BackendInfo:
    """Pick the compute backend from explicit arguments first, then the config."""
    lithops = data["lithops"]
    if mode is not None and mode not in MODES:
        raise ConfigError(
            f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}.{did_you_mean(mode, MODES)}"
        )
    if backend:
        info = resolve_backend(host, backend, BackendKind.COMPUTE)
        if mode and info.mode and info.mode != mode:
            same_mode = sorted(b.name for b in host.of_kind(BackendKind.COMPUTE) if b.mode == mode)
            raise ConfigError(
                f"backend {backend!r} runs in {info.mode} mode, but mode={mode!r} was asked for; "
                f"drop one of the two, or pick a {mode} backend "
                f"(installed: {', '.join(same_mode) or 'none'})"
            )
        return info
    if mode is None:
        configured = lithops.get("backend")
        if configured:
            info = resolve_backend(host, configured, BackendKind.COMPUTE)
            cfg_mode = lithops.get("mode")
            if cfg_mode and info.mode and cfg_mode != info.mode:
                # Lithops lets the backend win here; say so, since the user wrote both.
                logger.warning(
                    "config sets mode %r but backend %r, which runs in %s mode; using %s mode",
                    cfg_mode,
                    configured,
                    info.mode,
                    info.mode,
                )
            return info
        mode = lithops.get("mode") or LOCALHOST
    assert mode is not None
    configured_info = _find(host, lithops.get("backend"))
    if configured_info is not None and configured_info.mode == mode:
        return configured_info
    name = (data.get(mode) or {}).get("backend") if mode in MODE_SECTIONS else None
    return resolve_backend(host, name or DEFAULT_BACKEND_OF_MODE[mode], BackendKind.COMPUTE)


def _adopt_alias_section(data: dict[str, Any], info: BackendInfo) -> None:
    """A section written under an alias (``vm:`` for ``ssh``) is read as the backend's own."""
    merged: dict[str, Any] = {}
    for alias in info.aliases:
        merged.update(data.get(alias) or {})
    merged.update(data.get(info.name) or {})
    data[info.name] = merged


def _apply_standalone(data: dict[str, Any], info: BackendInfo) -> None:
    """Fill the ``standalone:`` section; settings in the backend's section win, as in Lithops.

    Defaults are left to the standalone plugin: they differ between ``ssh`` and VM providers.
    """
    section = data.setdefault("standalone", {})
    own = data[info.name]
    for key in STANDALONE_KEYS:
        if key != "backend" and key in own:
            section[key] = copy.deepcopy(own[key])
    section["backend"] = info.name


def _apply_storage(
    data: dict[str, Any], host: PluginHost, storage: str | None, resolve: bool
) -> None:
    lithops = data["lithops"]
    name = storage or lithops.get("storage") or DEFAULT_STORAGE
    if resolve:
        info = resolve_backend(host, name, BackendKind.STORAGE)
        name = info.name
        _adopt_alias_section(data, info)
    section = data.setdefault(name, {})
    # Lithops 2.x kept the bucket in the lithops section; 3.x in the storage backend's section.
    if lithops.get("storage_bucket") and "storage_bucket" not in section:
        section["storage_bucket"] = lithops["storage_bucket"]
    lithops["storage"] = name


def _apply_lithops_defaults(lithops: dict[str, Any]) -> None:
    for key, spec in LITHOPS_KEYS.items():
        if spec.default is not None:
            lithops.setdefault(key, copy.deepcopy(spec.default))


def _build(
    loaded: LoadedConfig,
    *,
    host: PluginHost,
    mode: str | None,
    backend: str | None,
    storage: str | None,
    lithops_overrides: Mapping[str, Any],
    backend_overrides: Mapping[str, Any],
    section_overrides: Mapping[str, Any],
    backend_overrides_source: str,
    load_storage_config: bool,
) -> dict[str, Any]:
    data = _sections(copy.deepcopy(loaded.data), loaded.source)
    lithops = data["lithops"]
    lithops.update(copy.deepcopy(dict(lithops_overrides)))
    _merge_sections(data, section_overrides)
    validate_core_sections(data, loaded.source)

    info = _derive_backend(data, host, mode, backend)
    lithops["backend"] = info.name
    lithops["mode"] = info.mode or mode or lithops.get("mode") or LOCALHOST
    _check_backend_type(lithops, loaded.source)
    _adopt_alias_section(data, info)

    extra = {k: v for k, v in backend_overrides.items() if v is not None}
    if extra:
        check_backend_values(info.name, extra, [info], backend_overrides_source)
        data[info.name].update(copy.deepcopy(extra))
    if lithops["mode"] == STANDALONE:
        _apply_standalone(data, info)

    _apply_storage(data, host, storage, load_storage_config)
    validate_backend_sections(data, host, loaded.source)
    _apply_lithops_defaults(lithops)
    return data


def _check_backend_type(lithops: dict[str, Any], source: str) -> None:
    """``backend_type`` (which Lithops fills in itself) can only say what the backend is: its
    mode."""
    given = lithops.get("backend_type")
    if given is not None and str(given).lower() != lithops["mode"]:
        raise ConfigError(
            f"'backend_type' in the 'lithops' section of {source} is {given!r}, but the "
            f"backend {lithops['backend']!r} is a {lithops['mode']} backend: backend_type "
            f"cannot choose how calls run here (mode and backend do). Remove the key."
        )


def _split_overwrite(
    config_overwrite: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``{'lithops': {...}, 'backend': {...}, <section>: {...}}`` as Lithops' config_overwrite."""
    overwrite = dict(config_overwrite or {})
    lithops = dict(overwrite.pop("lithops", None) or {})
    backend_section = dict(overwrite.pop("backend", None) or {})
    return lithops, backend_section, overwrite


def default_config(
    config_file: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    config_data: Mapping[str, Any] | None = None,
    config_overwrite: Mapping[str, Any] | None = None,
    load_storage_config: bool = True,
) -> dict[str, Any]:
    """The complete, validated config, as Lithops' ``lithops.config.default_config``.

    :param config_file: a YAML config file to read instead of the default lookup. A dict
        passed here is taken as ``config_data`` (the first argument of older Lithops).
    :param config_data: the config itself; when given (and not empty) no file is read.
    :param config_overwrite: merged over the config per section. ``'lithops'`` goes into the
        ``lithops:`` section (its ``mode``/``backend``/``storage`` count as given explicitly),
        ``'backend'`` into the selected compute backend's section, any other key into the
        section of that name.
    :param load_storage_config: also resolve and check the storage backend.
    :returns: the config with ``lithops.backend``, ``lithops.mode`` and ``lithops.storage`` set.
    :raises ConfigError: an unknown key, a bad value, or a mode and backend that disagree.
    :raises UnknownBackendError: the selected backend is not installed.
    """
    if isinstance(config_file, Mapping):
        config_data, config_file = config_file, None
    loaded = load_user_config(config_file, config_data)
    lithops_ow, backend_ow, sections_ow = _split_overwrite(config_overwrite)
    mode = lithops_ow.pop("mode", None)
    backend = lithops_ow.pop("backend", None)
    storage = lithops_ow.pop("storage", None)
    return _build(
        loaded,
        host=_host(),
        mode=mode,
        backend=backend,
        storage=storage,
        lithops_overrides=lithops_ow,
        backend_overrides=backend_ow,
        section_overrides=sections_ow,
        backend_overrides_source="config_overwrite['backend']",
        load_storage_config=load_storage_config,
    )


def resolve_executor_config(
    mode: str | None = None,
    config: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    backend: str | None = None,
    storage: str | None = None,
    *,
    monitoring: str | None = None,
    **backend_kwargs: Any,
) -> dict[str, Any]:
    """The config ``FunctionExecutor(mode, config, config_file, backend, storage, **kw)`` uses.

    As in Lithops, ``config`` replaces the config file (it is not merged over it), and every
    extra keyword argument goes into the selected compute backend's section
    (``FunctionExecutor(runtime='img', worker_processes=4)``); ``None`` values are dropped.

    :returns: the validated config; ``config['lithops']`` has ``backend``, ``mode`` and
        ``storage`` set, and ``config[backend]`` is the backend's section.
    :raises ConfigError: an unknown keyword argument or config key (naming the valid ones), a
        bad value, or a mode and backend that disagree.
    :raises UnknownBackendError: the backend or storage selected is not installed.
    """
    loaded = load_user_config(config_file, config)
    lithops_ow = {"monitoring": monitoring} if monitoring is not None else {}
    return _build(
        loaded,
        host=_host(),
        mode=mode,
        backend=backend,
        storage=storage,
        lithops_overrides=lithops_ow,
        backend_overrides=backend_kwargs,
        section_overrides={},
        backend_overrides_source="the keyword arguments of FunctionExecutor",
        load_storage_config=True,
    )


def default_storage_config(
    config_file: str | os.PathLike[str] | None = None,
    config_data: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """A config whose storage backend is resolved, without touching the compute backend.

    What ``lithops.Storage(config=..., backend=...)`` needs: the compute sections are kept
    as written, only the storage backend is looked up and checked.
    """
    loaded = load_user_config(config_file, config_data)
    data = _sections(copy.deepcopy(loaded.data), loaded.source)
    validate_core_sections(data, loaded.source)
    host = _host()
    _apply_storage(data, host, backend, resolve=True)
    validate_backend_sections(data, host, loaded.source)
    _apply_lithops_defaults(data["lithops"])
    return data


def extract_storage_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a storage backend needs from a full config, in Lithops' shape.

    :returns: ``{'backend': name, 'bucket': bucket or None, 'monitoring_interval': s,
        name: {section...}}``; the section also carries ``user_agent``.
    """
    lithops = config.get("lithops") or {}
    name = lithops.get("storage") or DEFAULT_STORAGE
    section = copy.deepcopy(dict(config.get(name) or {}))
    section["user_agent"] = _USER_AGENT
    return {
        "backend": name,
        "bucket": section.get("storage_bucket") or lithops.get("storage_bucket"),
        "monitoring_interval": lithops.get(
            "monitoring_interval", LITHOPS_KEYS["monitoring_interval"].default
        ),
        name: section,
    }


def get_log_info(
    config_file: str | os.PathLike[str] | None = None,
    config_data: Mapping[str, Any] | None = None,
) -> tuple[str, str, str, str | None]:
    """``(log_level, log_format, log_stream, log_filename)`` of a config, defaults filled in.

    Unlike Lithops (INFO), the default level is WARNING: lithops is quiet unless asked.
    A ``log_level`` of ``false``/``null`` reads as WARNING too.
    """
    lithops = load_user_config(config_file, config_data).data.get("lithops") or {}
    level = lithops.get("log_level") or DEFAULT_LOG_LEVEL
    return (
        str(level).upper(),
        lithops.get("log_format") or DEFAULT_LOG_FORMAT,
        lithops.get("log_stream") or DEFAULT_LOG_STREAM,
        lithops.get("log_filename"),
    )
