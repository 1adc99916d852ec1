"""The Redis server behind the stateful objects: its settings, one client per process, and
the keys this process created (removed at a clean exit).

The settings come from the ``redis`` section of the configuration (Lithops' keys: ``host``,
``port``, ``password``, ``db``, ``ssl``): ``LITHOPS_CONFIG`` when set (see :mod:`.config`),
else lithops' usual config lookup. Objects carry the settings, never a connection, so they
pickle into calls and reconnect in the worker.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from lithops.config import resolve_executor_config
from lithops.errors import ConfigError, LithopsError
from lithops.multiprocessing import config as mp_config

__all__ = [
    "KEY_PREFIX",
    "MissingRedisClientError",
    "RedisSettings",
    "RedisUnavailableError",
    "call",
    "call_pipeline",
    "call_script",
    "call_with",
    "client",
    "forget_keys",
    "new_key",
    "register_keys",
    "settings",
]

KEY_PREFIX = "lithops-mp"
_SETTING_KEYS = ("host", "port", "password", "db", "ssl")


class MissingRedisClientError(LithopsError, ImportError):
    """The ``redis`` Python client is not installed."""


class RedisUnavailableError(LithopsError, ConnectionError):
    """The configured Redis server cannot be reached (or stopped answering)."""


@dataclass(frozen=True)
class RedisSettings:
    host: str = "127.0.0.1"
    port: int = 6379
    password: str | None = None
    db: int = 0
    ssl: bool = False

    def __repr__(self) -> str:  # never the password
        return f"RedisSettings(host={self.host!r}, port={self.port}, db={self.db}, ssl={self.ssl})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} (db {self.db})"


def settings() -> RedisSettings:
    """The ``redis`` section of the current configuration."""
    config = mp_config.get_parameter(mp_config.LITHOPS_CONFIG) or None
    section = (config or {}).get("redis") if config else None
    if section is None:
        section = resolve_executor_config(None, config, None, None, None).get("redis") or {}
    if not isinstance(section, dict):
        raise ConfigError("the 'redis' config section must be a mapping (host, port, ...)")
    unknown = sorted(set(section) - set(_SETTING_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in the 'redis' config section: {', '.join(unknown)}; "
            f"valid: {', '.join(_SETTING_KEYS)}"
        )
    try:
        return RedisSettings(
            host=str(section.get("host", "127.0.0.1")),
            port=int(section.get("port", 6379)),
            password=None if section.get("password") is None else str(section["password"]),
            db=int(section.get("db", 0)),
            ssl=bool(section.get("ssl", False)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid 'redis' config section: {exc}") from None


_clients: dict[tuple[int, RedisSettings], Any] = {}
_clients_lock = threading.Lock()


def client(where: RedisSettings) -> Any:
    """This process's client for ``where`` (created at first use)."""
    pid = os.getpid()
    with _clients_lock:
        found = _clients.get((pid, where))
        if found is not None:
            return found
        try:
            import redis
        except ImportError:
            raise MissingRedisClientError(
                "lithops.multiprocessing's Queue, Lock, Value, Manager... need the redis "
                "client: pip install 'lithops-core[multiprocessing]'"
            ) from None
        made = redis.Redis(
            host=where.host,
            port=where.port,
            password=where.password,
            db=where.db,
            ssl=where.ssl,
            socket_connect_timeout=5,
            socket_timeout=30,  # blocking commands wait at most 1 s per round trip
            health_check_interval=30,
        )
        _clients[(pid, where)] = made
        return made


def call(where: RedisSettings, method: str, *args: Any) -> Any:
    """``client(where).method(*args)``, a connection failure as :class:`RedisUnavailableError`."""
    return _translated(where, lambda: getattr(client(where), method)(*args))


def call_pipeline(where: RedisSettings, pipe: Any) -> Any:
    """``pipe.execute()``, a connection failure as :class:`RedisUnavailableError`."""
    return _translated(where, pipe.execute)


_scripts: dict[tuple[int, RedisSettings, str], Any] = {}


def call_script(where: RedisSettings, source: str, keys: list[str], args: list[Any]) -> Any:
    """Run the Lua ``source`` atomically on the server (EVALSHA, loaded on first use), a
    connection failure as :class:`RedisUnavailableError`."""
    cache_key = (os.getpid(), where, source)
    script = _scripts.get(cache_key)
    if script is None:
        script = _scripts[cache_key] = client(where).register_script(source)
    return _translated(where, lambda: script(keys=keys, args=args))


def call_with(where: RedisSettings, run: Any) -> Any:
    """``run()`` (which talks to ``where``), a connection failure as
    :class:`RedisUnavailableError`."""
    return _translated(where, run)


def _translated(where: RedisSettings, run: Any) -> Any:
    client(where)  # the missing-extra error first
    import redis

    try:
        return run()
    except redis.AuthenticationError as exc:
        raise RedisUnavailableError(
            f"the Redis server at {where.where} refused the credentials ({exc}): check "
            f"'password' in the 'redis' config section"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise RedisUnavailableError(
            f"the Redis server at {where.where} does not answer ({exc}); start it, or point "
            f"the 'redis' config section (host, port, password, db, ssl) at a running one"
        ) from None


def new_key(kind: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{uuid.uuid4().hex}"


#: Keys this process created, per server: deleted at a clean exit.
_owned: dict[RedisSettings, set[str]] = {}
_owner_pid = os.getpid()


def register_keys(where: RedisSettings, *keys: str) -> None:
    global _owner_pid
    with _clients_lock:
        if _owner_pid != os.getpid():  # a forked child owns only what it creates itself
            _owned.clear()
            _owner_pid = os.getpid()
        _owned.setdefault(where, set()).update(keys)


def forget_keys(where: RedisSettings, *keys: str) -> None:
    """Delete ``keys`` now and drop them from the exit cleanup."""
    with _clients_lock:
        _owned.get(where, set()).difference_update(keys)
    if keys:
        call(where, "delete", *keys)


def expiry() -> int:
    return int(mp_config.get_parameter(mp_config.REDIS_EXPIRY_TIME))


@atexit.register
def _delete_owned() -> None:
    if _owner_pid != os.getpid():
        return
    for where, keys in list(_owned.items()):
        if keys:
            try:
                call(where, "delete", *keys)
            except LithopsError:
                pass  # the server is gone: the keys expire on their own
    _owned.clear()
