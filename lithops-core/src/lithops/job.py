"""Turning ``map(f, iterdata)`` into a job: the function serialized once, one call per input."""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import cloudpickle

from lithops.errors import ConfigError, SerializationError

__all__ = [
    "CallBinder",
    "InputMismatchError",
    "Job",
    "as_call_args",
    "build_calls",
    "is_user_module",
    "serialize_function",
]

#: Parameters lithops fills in on the worker instead of taking them from the input.
RESERVED = ("id", "storage", "obj")

_register_lock = threading.Lock()
_LIBRARY_PATHS = tuple(
    p
    for p in {
        sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")
    }
    if p
)


@dataclass
class Job:
    """A function and its calls' arguments, ready for the scheduler."""

    executor_id: str
    job_id: str
    function_name: str
    func_key: str
    func_payload: bytes
    arguments: list[tuple[tuple[Any, ...], dict[str, Any]]]
    inject: tuple[str, ...] = ()
    timeout: float | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    runtime_memory: int | None = None
    chunksize: int | None = None
    retries: int = 0
    backups: bool = False
    host_job_create_tstamp: float = 0.0
    host_job_serialize_time: float = 0.0

    @property
    def job_key(self) -> str:
        return f"{self.executor_id}/{self.job_id}"


def is_user_module(module: ModuleType | None) -> bool:
    """Code the user wrote (not stdlib or an installed library): shipped by value, so a worker
    in a container or on another host does not need it installed."""
    if module is None or module.__name__ == "__main__":
        return False  # cloudpickle already ships __main__ by value
    path = getattr(module, "__file__", None)
    if not path or module.__name__.split(".")[0] in ("lithops", "cloudpickle"):
        return False
    return not path.startswith(_LIBRARY_PATHS)


def serialize_function(
    func: Callable[..., Any],
    include_modules: Iterable[str] | None = (),
    exclude_modules: Iterable[str] | None = (),
) -> tuple[str, bytes]:
    """Pickle ``func`` once for the whole job; returns ``(key, payload)``.

    Which of the user's modules travel with it (pickled by value, so a worker that cannot
    import them still runs the function), as Lithops' ``include_modules``/``exclude_modules``:

    * ``include_modules`` empty (the default): every module of the user's own code the function
      needs (its home module and those it reaches through globals, closures and classes),
      except ``exclude_modules`` and their submodules;
    * a list of names: exactly those modules or packages (imported here if need be);
      ``exclude_modules`` is ignored;
    * ``None``: none; the worker imports every module by name.

    ``__main__`` always travels by value (cloudpickle's rule). Installed libraries never do.

    :raises ConfigError: ``include_modules`` names a module that cannot be imported.
    """
    if not callable(func):
        raise TypeError(f"the function to run must be callable, got {type(func).__name__}")
    if include_modules is None:
        payload = _dumps(func, [])
    elif include := [m for m in include_modules if m]:
        payload = _dumps(func, [_import_named(name) for name in include])
    else:
        needed = _user_dependencies(func, tuple(exclude_modules or ()))
        try:
            payload = _dumps(func, needed)
        except SerializationError:
            # A module it reaches holds something that does not pickle (a lock, a client):
            # ship only the function's own module, the others are imported by name.
            home = sys.modules.get(getattr(func, "__module__", "") or "")
            payload = _dumps(func, [m for m in needed if m is home])
    return hashlib.sha1(payload).hexdigest()[:16], payload


def _dumps(func: Callable[..., Any], by_value: list[ModuleType]) -> bytes:
    with _register_lock:
        already = set(cloudpickle.list_registry_pickle_by_value())
        registered = []
        for module in by_value:
            # cloudpickle ships by value only a module whose name sys.modules holds; one that
            # was dropped there (a test's throwaway plugin module) goes by name, as any import.
            if module.__name__ not in sys.modules:
                continue
            if module.__name__ not in already:
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
        try:
            return cloudpickle.dumps(func)
        except Exception as exc:
            raise SerializationError(
                f"the function {_name(func)} could not be pickled: {type(exc).__name__}: {exc}. "
                f"Functions must not capture open files, locks, sockets or clients; create "
                f"those inside the function"
            ) from exc
        finally:
            for module in registered:
                cloudpickle.unregister_pickle_by_value(module)


def _import_named(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConfigError(
            f"include_modules names {name!r}, which cannot be imported here to be shipped "
            f"with the function: {type(exc).__name__}: {exc}. Fix the name, or leave "
            f"include_modules empty to ship the modules the function needs"
        ) from exc


#: Objects looked at when finding the modules a function needs (a bound on huge graphs).
_SCAN_LIMIT = 20_000


def _code_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _code_names(const)
    return names


def _user_dependencies(func: Callable[..., Any], excluded: tuple[str, ...]) -> list[ModuleType]:
    """The user's modules ``func`` needs on a worker: walks functions (their globals,
    closures, defaults), classes, modules and instances reachable from it."""

    def is_excluded(name: str) -> bool:
        return any(name == e or name.startswith(e + ".") for e in excluded)

    found: dict[str, ModuleType] = {}
    seen: set[int] = set()
    pending: list[Any] = [func]
    while pending and len(seen) < _SCAN_LIMIT:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, ModuleType):
            if obj.__name__ in found or is_excluded(obj.__name__) or not is_user_module(obj):
                continue
            found[obj.__name__] = obj
            # Shipped by value, its whole namespace travels: what it defines needs its modules.
            pending.extend(
                v
                for v in vars(obj).values()
                if isinstance(v, ModuleType) or getattr(v, "__module__", None) == obj.__name__
            )
            continue
        if isinstance(obj, FunctionType):
            pending.append(sys.modules.get(obj.__module__ or ""))
            globals_ = obj.__globals__
            pending.extend(globals_[n] for n in _code_names(obj.__code__) if n in globals_)
            pending.extend(c.cell_contents for c in obj.__closure__ or () if _cell_full(c))
            pending.extend(obj.__defaults__ or ())
            pending.extend((obj.__kwdefaults__ or {}).values())
            pending.append(getattr(obj, "__wrapped__", None))
            continue
        if isinstance(obj, MethodType):
            pending.extend((obj.__func__, obj.__self__))
            continue
        if isinstance(obj, type):
            pending.append(sys.modules.get(obj.__module__))
            pending.extend(v for v in vars(obj).values() if isinstance(v, FunctionType))
            continue
        if obj is None or isinstance(obj, int | float | str | bytes | bool):
            continue
        if isinstance(obj, list | tuple | set | frozenset):
            pending.extend(obj)
            continue
        if isinstance(obj, dict):
            pending.extend(obj.values())
            continue
        # An instance (a callable object, functools.partial...): its class and attributes.
        pending.append(type(obj))
        if isinstance(obj, functools.partial):
            pending.extend((obj.func, *obj.args, *obj.keywords.values()))
        pending.extend(getattr(obj, "__dict__", {}).values())
    main = sys.modules.get("__main__")
    return [m for m in found.values() if m is not main]


def _cell_full(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises ValueError
    except ValueError:
        return False
    return True


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def as_call_args(element: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One input element as call arguments: a tuple is positional arguments, a dict keyword
    arguments, anything else the single first argument."""
    if type(element) is tuple:
        return element, {}
    if isinstance(element, Mapping) and type(element) is dict:
        return (), dict(element)
    return (element,), {}


def iterate_inputs(iterdata: Any) -> list[Any]:
    """Every iterable of inputs iterates (a tuple and a generator too); a string, bytes or a
    dict is one input, as in Lithops."""
    if isinstance(iterdata, str | bytes | dict):
        return [iterdata]
    try:
        return list(iterdata)
    except TypeError:
        return [iterdata]


def add_extra_args(
    call: tuple[tuple[Any, ...], dict[str, Any]], extra_args: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args, kwargs = call
    if extra_args is None:
        return call
    if isinstance(extra_args, dict):
        return args, {**kwargs, **extra_args}
    if isinstance(extra_args, list | tuple):
        return (*args, *extra_args), kwargs
    raise TypeError("extra_args must be a tuple/list of positional or a dict of keyword arguments")


def reserved_params(func: Callable[..., Any]) -> tuple[str, ...]:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return ()
    # Filled in by keyword, so a positional-only parameter is never one (``len(obj, /)``).
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p for p in RESERVED if p in params and params[p].kind in by_keyword)


class InputMismatchError(TypeError, ValueError):
    """An input element does not fit the function's parameters (Lithops raises
    ``ValueError`` here, Python's own binding ``TypeError``: both catch it)."""


def check_binding(
    func: Callable[..., Any], call: tuple[tuple[Any, ...], dict[str, Any]], inject: tuple[str, ...]
) -> None:
    """Fail at submit time, not on a worker, when an input cannot bind to the function."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    args, kwargs = call
    try:
        given = sig.bind_partial(*args, **kwargs).arguments
    except TypeError:
        given = {}
    # ``obj`` comes from the input (positional or keyword); ``id`` and ``storage`` are filled
    # on the worker, so stand in for them here unless the input already gives them
    fake = {name: None for name in inject if name != "obj" and name not in given}
    try:
        sig.bind(*args, **kwargs, **fake)
    except TypeError as exc:
        raise InputMismatchError(
            f"input {args or kwargs!r} does not fit {_name(func)}{sig}: {exc}"
        ) from None


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class CallBinder:
    """Fits one input's ``(args, kwargs)`` to the function's visible signature, as Lithops
    binds inputs.

    * Positional inputs skip the parameters lithops fills in (``id``, ``storage``): for
      ``f(id, obj)`` the input ``'bucket/key'`` is ``obj``.
    * A dict key named after the ``*args`` parameter gives the extra positional arguments,
      one named after the ``**kwargs`` parameter more keyword arguments:
      ``{"args": (1, 2), "d": 3}`` calls ``f(d, *args)`` as ``f(3, 1, 2)``. "Visible"
      signature: a decorator without ``functools.wraps`` shows its wrapper's
      ``(*args, **kwargs)``, and the keys bind to those.
    """

    def __init__(self, func: Callable[..., Any], inject: tuple[str, ...]) -> None:
        try:
            self._sig: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self._sig = None
        params = list(self._sig.parameters.values()) if self._sig is not None else []
        self._var_pos = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
        self._var_kw = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)
        self._var_names = {n for n in (self._var_pos, self._var_kw) if n is not None}
        self._positional = [p for p in params if p.kind in _POSITIONAL]
        filled = set(inject) - {"obj"}  # ``obj`` comes from the input; the others do not
        names = [p.name for p in self._positional]
        # a filled parameter in front of an input parameter would capture a positional input
        first = next((i for i, n in enumerate(names) if n in filled), len(names))
        self._shifted = any(n not in filled for n in names[first + 1 :])
        self._visible = (
            self._sig.replace(parameters=[p for p in params if p.name not in filled])
            if self._sig is not None and self._shifted
            else None
        )

    def fit(
        self, call: tuple[tuple[Any, ...], dict[str, Any]]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = call
        if self._visible is not None and args:
            try:
                named = dict(self._visible.bind_partial(*args, **kwargs).arguments)
            except TypeError as exc:
                raise InputMismatchError(
                    f"input {args!r} does not fit {self._visible} (the parameters lithops "
                    f"fills in are left out): {exc}"
                ) from None
            return self.by_name(named)
        if not args and self._var_names and not self._var_names.isdisjoint(kwargs):
            return self.by_name(kwargs)
        return call

    def by_name(self, named: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` for arguments given by parameter name (``*args`` and
        ``**kwargs`` by theirs)."""
        named = dict(named)
        star = tuple(named.pop(self._var_pos) or ()) if self._var_pos in named else ()
        more = dict(named.pop(self._var_kw) or {}) if self._var_kw in named else {}
        # With extra positional arguments, the parameters in front of them must be passed
        # positionally; when the input names none of them, the extra ones come first, as in
        # Lithops (``{"args": (1, 2)}`` for a ``(*args, **kwargs)`` wrapper).
        fill = bool(star) and any(p.name in named for p in self._positional)
        args: list[Any] = []
        for p in self._positional:
            if p.name in named and (fill or p.kind == p.POSITIONAL_ONLY):
                args.append(named.pop(p.name))
            elif fill and p.default is not p.empty:
                args.append(p.default)
            else:
                break
        return (*args, *star), {**more, **named}


def build_calls(
    func: Callable[..., Any], iterdata: Any, extra_args: Any, inject: tuple[str, ...]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    binder = CallBinder(func, inject)
    calls = [
        binder.fit(add_extra_args(as_call_args(e), extra_args)) for e in iterate_inputs(iterdata)
    ]
    if calls:
        # checking every call is cheap next to running it, but the first and last catch
        # nearly every mistake and keep 10,000-call maps fast
        for call in {0: calls[0], len(calls) - 1: calls[-1]}.values():
            check_binding(func, call, inject)
    return calls
