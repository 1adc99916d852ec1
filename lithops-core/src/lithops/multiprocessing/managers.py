"""``multiprocessing.Manager`` over Redis: ``dict``, ``list``, ``Namespace`` and the other
shared objects, all living in Redis so calls on any host see them."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lithops.multiprocessing import state
from lithops.multiprocessing.state import RedisObject

__all__ = ["DictProxy", "ListProxy", "Namespace", "SyncManager"]


class DictProxy(RedisObject):
    """A dict in a Redis hash (keys and values pickled)."""

    _kind = "dict"

    def __init__(self, initial: Mapping[Any, Any] | Iterable[Any] = (), **kwargs: Any) -> None:
        super().__init__("v")
        self.update(initial, **kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._call("hset", self._k(), pickle.dumps(key), pickle.dumps(value))
        self._touch()

    def __getitem__(self, key: Any) -> Any:
        raw = self._call("hget", self._k(), pickle.dumps(key))
        if raw is None:
            raise KeyError(key)
        return pickle.loads(raw)

    def __delitem__(self, key: Any) -> None:
        if not self._call("hdel", self._k(), pickle.dumps(key)):
            raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        return bool(self._call("hexists", self._k(), pickle.dumps(key)))

    def __len__(self) -> int:
        return int(self._call("hlen", self._k()))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def _all(self) -> list[tuple[Any, Any]]:
        raw = self._call("hgetall", self._k())
        return [(pickle.loads(k), pickle.loads(v)) for k, v in raw.items()]

    def keys(self) -> list[Any]:
        return [k for k, _ in self._all()]

    def values(self) -> list[Any]:
        return [v for _, v in self._all()]

    def items(self) -> list[tuple[Any, Any]]:
        return self._all()

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if self._call("hsetnx", self._k(), pickle.dumps(key), pickle.dumps(default)):
            self._touch()
        return self[key]

    def pop(self, key: Any, *default: Any) -> Any:
        try:
            value = self[key]
        except KeyError:
            if default:
                return default[0]
            raise
        self._call("hdel", self._k(), pickle.dumps(key))
        return value

    def update(self, other: Mapping[Any, Any] | Iterable[Any] = (), **kwargs: Any) -> None:
        pairs = dict(other, **kwargs)
        if pairs:
            mapping = {pickle.dumps(k): pickle.dumps(v) for k, v in pairs.items()}
            self._call("hset", self._k(), None, None, mapping)
            self._touch()

    def clear(self) -> None:
        self._call("delete", self._k())

    def copy(self) -> dict[Any, Any]:
        return dict(self._all())

    def __repr__(self) -> str:
        return repr(self.copy())


class ListProxy(RedisObject):
    """A list in a Redis list (items pickled)."""

    _kind = "list"

    def __init__(self, initial: Iterable[Any] = ()) -> None:
        super().__init__("v")
        self.extend(initial)

    def append(self, value: Any) -> None:
        self._call("rpush", self._k(), pickle.dumps(value))
        self._touch()

    def extend(self, values: Iterable[Any]) -> None:
        items = [pickle.dumps(v) for v in values]
        if items:
            self._call("rpush", self._k(), *items)
            self._touch()

    def _all(self) -> list[Any]:
        return [pickle.loads(r) for r in self._call("lrange", self._k(), 0, -1)]

    def __len__(self) -> int:
        return int(self._call("llen", self._k()))

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return self._all()[i]
        raw = self._call("lindex", self._k(), i)
        if raw is None:
            raise IndexError("list index out of range")
        return pickle.loads(raw)

    def __setitem__(self, i: int, value: Any) -> None:
        if not -len(self) <= i < len(self):
            raise IndexError("list assignment index out of range")
        self._call("lset", self._k(), i, pickle.dumps(value))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __contains__(self, value: Any) -> bool:
        return value in self._all()

    def pop(self, i: int = -1) -> Any:
        if i == -1:
            raw = self._call("rpop", self._k())
        elif i == 0:
            raw = self._call("lpop", self._k())
        else:
            raise NotImplementedError("pop() takes only the first (0) or last (-1) item here")
        if raw is None:
            raise IndexError("pop from empty list")
        return pickle.loads(raw)

    def copy(self) -> list[Any]:
        return self._all()

    def __repr__(self) -> str:
        return repr(self._all())


class Namespace(RedisObject):
    """:class:`multiprocessing.managers.Namespace`: attributes in a Redis hash."""

    _kind = "namespace"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("v")
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raw = self._call("hget", self._k(), name)
        if raw is None:
            raise AttributeError(f"'Namespace' object has no attribute {name!r}")
        return pickle.loads(raw)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        self._call("hset", self._k(), name, pickle.dumps(value))
        self._touch()

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
        elif not self._call("hdel", self._k(), name):
            raise AttributeError(name)

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        raw = self._call("hgetall", self._k())
        body = ", ".join(f"{k.decode()}={pickle.loads(v)!r}" for k, v in sorted(raw.items()))
        return f"Namespace({body})"


class SyncManager:
    """:func:`multiprocessing.Manager`: makes shared objects; ``shutdown()`` (or leaving the
    ``with`` block) deletes every object it made from Redis."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._made: list[RedisObject] = []

    def _keep(self, obj: Any) -> Any:
        self._made.append(obj)
        return obj

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to start: the objects live in the configured Redis server."""

    def connect(self) -> None:
        """Nothing to connect to: the objects live in the configured Redis server."""

    def shutdown(self) -> None:
        made, self._made = self._made, []
        for obj in made:
            obj.delete_keys()
            for inner in vars(obj).values():
                if isinstance(inner, RedisObject):
                    inner.delete_keys()

    def __enter__(self) -> SyncManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def dict(self, *args: Any, **kwargs: Any) -> DictProxy:
        return self._keep(DictProxy(*args, **kwargs))

    def list(self, *args: Any) -> ListProxy:
        return self._keep(ListProxy(*args))

    def Namespace(self, **kwargs: Any) -> Namespace:
        return self._keep(Namespace(**kwargs))

    def Queue(self, maxsize: int = 0) -> state.Queue:
        return self._keep(state.Queue(maxsize))

    def JoinableQueue(self, maxsize: int = 0) -> state.JoinableQueue:
        return self._keep(state.JoinableQueue(maxsize))

    def Lock(self) -> state.Lock:
        return self._keep(state.Lock())

    def RLock(self) -> state.RLock:
        return self._keep(state.RLock())

    def Semaphore(self, value: int = 1) -> state.Semaphore:
        return self._keep(state.Semaphore(value))

    def BoundedSemaphore(self, value: int = 1) -> state.BoundedSemaphore:
        return self._keep(state.BoundedSemaphore(value))

    def Event(self) -> state.Event:
        return self._keep(state.Event())

    def Condition(self, lock: Any = None) -> state.Condition:
        return self._keep(state.Condition(lock))

    def Barrier(self, parties: int, action: Any = None, timeout: float | None = None) -> Any:
        return self._keep(state.Barrier(parties, action, timeout))

    def Value(self, typecode: Any, value: Any) -> state.Value:
        return self._keep(state.Value(typecode, value))

    def Array(self, typecode: Any, sequence: Any) -> state.Array:
        return self._keep(state.Array(typecode, sequence))


def Manager() -> SyncManager:
    """:func:`multiprocessing.Manager`."""
    return SyncManager()
