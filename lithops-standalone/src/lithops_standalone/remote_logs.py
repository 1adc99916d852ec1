"""``lithops logs poll|get`` for standalone: this machine's records merged with the hosts' own.

Executors on this machine record every line they receive (:mod:`lithops.logs`); agents keep the
same lines on their hosts (:mod:`lithops_standalone.logtail`). Reading both means ``lithops logs``
also shows jobs run from another machine, or whose local records were cleaned. A line seen from
both sources is shown once (same job, call, timestamp and text). An unreachable host costs a
warning, never the local lines.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from lithops.plugins.types import LogLine, LogRequest
from lithops_standalone.config import HostSpec, parse_hosts

__all__ = ["stream_logs"]

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 10.0
_DEDUP_WINDOW = 100_000
_DONE = object()


def stream_logs(request: LogRequest) -> Iterator[LogLine]:
    """Lines of ``request.job_key`` (or every job) from this machine and every host."""
    try:
        specs = parse_hosts(request.config)
    except Exception as exc:
        logger.warning("no standalone hosts to read logs from (%s); local records only", exc)
        specs = []
    stop = request.stop if request.stop is not None else threading.Event()
    lines: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sources = [threading.Thread(target=_local, args=(request, stop, lines), daemon=True)]
    sources += [
        threading.Thread(target=_remote, args=(spec, request, stop, lines), daemon=True)
        for spec in specs
    ]
    for thread in sources:
        thread.start()
    return _merge(lines, len(sources), request.follow, stop)


def _merge(
    lines: queue.SimpleQueue[Any], sources: int, follow: bool, stop: Any
) -> Iterator[LogLine]:
    seen: set[tuple[str, str, str, str]] = set()
    order: collections.deque[tuple[str, str, str, str]] = collections.deque()
    collected: list[LogLine] = []
    running = sources
    try:
        while running:
            try:
                item = lines.get(timeout=0.2)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is _DONE:
                running -= 1
                continue
            key = (item.job_key, item.call_id, f"{item.tstamp:.6f}", item.text)
            if key in seen:
                continue
            seen.add(key)
            order.append(key)
            if len(order) > _DEDUP_WINDOW:
                seen.discard(order.popleft())
            if follow:
                yield item
            else:
                collected.append(item)
        # `get`: every source read to its end; show the job in time order.
        yield from sorted(collected, key=lambda line: line.tstamp)
    finally:
        stop.set()


def _local(request: LogRequest, stop: Any, out: queue.SimpleQueue[Any]) -> None:
    from lithops.logs import read_logs

    try:
        for line in read_logs(request.job_key, follow=request.follow, stop=stop):
            out.put(line)
    finally:
        out.put(_DONE)


def _remote(spec: HostSpec, request: LogRequest, stop: Any, out: queue.SimpleQueue[Any]) -> None:
    from lithops_standalone.bootstrap import REMOTE_ROOT
    from lithops_standalone.ssh import connect

    client = None
    try:
        client = connect(spec, time.monotonic() + _CONNECT_TIMEOUT)
        args = (" --follow" if request.follow else "") + (
            f" --job {_quote(request.job_key)}" if request.job_key else ""
        )
        script = (
            f'lib=$(ls -d "$HOME/{REMOTE_ROOT}"/*/lib 2>/dev/null | tail -n 1); '
            f'[ -n "$lib" ] || exit 0; '
            f'PYTHONPATH="$lib" exec python3 -S -s -m lithops_standalone.logtail{args}'
        )
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=_CONNECT_TIMEOUT)
        channel.exec_command("sh -c " + _quote(script))
        channel.settimeout(0.5)
        buffer = b""
        while not stop.is_set():
            try:
                data = channel.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                break
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                tstamp, job_key, call_id, text = json.loads(raw)
                out.put(LogLine(float(tstamp), job_key, call_id, text, where=spec.name))
    except Exception as exc:
        logger.warning("cannot read the logs kept on %s: %s", spec.name, exc)
    finally:
        if client is not None:
            client.close()
        out.put(_DONE)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
