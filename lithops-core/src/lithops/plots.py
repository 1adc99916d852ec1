"""``fexec.plot()``: a timeline and a histogram of calls, drawn from their ``stats``.

Needs matplotlib, an optional extra: ``pip install 'lithops-core[plot]'``. Drawing uses
matplotlib's object API on an Agg canvas, so it never touches pyplot's global state or
the user's chosen backend.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lithops.future import CallState

if TYPE_CHECKING:
    from lithops.future import ResponseFuture

__all__ = ["MissingPlotExtraError", "plot_futures", "plot_paths"]

logger = logging.getLogger(__name__)

#: Bar colours by outcome: finished calls stand out from failed and cancelled ones.
_COLOURS = {
    CallState.SUCCESS: "tab:blue",
    CallState.FAILED: "tab:red",
    CallState.LOST: "tab:purple",
    CallState.CANCELLED: "tab:gray",
}
_WAIT_COLOUR = "#d9d9d9"


class MissingPlotExtraError(ImportError):
    """matplotlib is not installed; the message says how to install the extra."""


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingPlotExtraError(
            "fexec.plot() needs matplotlib, which is an optional extra: "
            "pip install 'lithops-core[plot]'"
        ) from exc
    return Figure, FigureCanvasAgg


def plot_paths(dst: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    """Where the two PNGs go: ``<dst>_timeline.png`` and ``<dst>_histogram.png`` (Lithops'
    naming); a directory ``dst`` (or ``None``: ``./plots``) gets timestamped names inside."""
    if dst is None or Path(dst).is_dir() or str(dst).endswith(os.sep):
        folder = Path(dst) if dst is not None else Path.cwd() / "plots"
        folder.mkdir(parents=True, exist_ok=True)
        prefix = folder / time.strftime("%Y%m%d-%H%M%S")
    else:
        prefix = Path(dst).expanduser().resolve()
        prefix.parent.mkdir(parents=True, exist_ok=True)
    return Path(f"{prefix}_timeline.png"), Path(f"{prefix}_histogram.png")


def plot_futures(
    futures: Sequence[ResponseFuture],
    dst: str | os.PathLike[str] | None = None,
    figsize: tuple[float, float] = (10, 6),
) -> list[str]:
    """Write the timeline and histogram PNGs of ``futures``; returns their paths.

    Every call appears, failed and cancelled ones included: the timeline draws, per call,
    the wait from submission to start (grey) and the run (coloured by outcome); a call
    that never reached a worker is drawn as one outcome-coloured bar from submission to end.
    The histogram shows how long the calls' functions ran, by outcome.
    """
    figure_cls, canvas_cls = _matplotlib()
    calls = [f for f in futures if f.stats.get("host_submit_tstamp")]
    if not calls:
        logger.warning("plot: none of the %d futures was submitted; nothing to draw", len(futures))
        return []
    timeline, histogram = plot_paths(dst)
    _draw_timeline(figure_cls, canvas_cls, calls, timeline, figsize)
    _draw_histogram(figure_cls, canvas_cls, calls, histogram, figsize)
    return [str(timeline), str(histogram)]


def _draw_timeline(
    figure_cls: Any, canvas_cls: Any, calls: list[ResponseFuture], path: Path, figsize: Any
) -> None:
    origin = min(f.stats["host_submit_tstamp"] for f in calls)
    # One line collection per colour (not an artist per call): 10,000 calls draw in a second.
    segments: dict[str, tuple[list[int], list[float], list[float]]] = {}

    def add(colour: str, row: int, x0: float, x1: float) -> None:
        rows, starts, ends = segments.setdefault(colour, ([], [], []))
        rows.append(row)
        starts.append(x0 - origin)
        ends.append(max(x1, x0) - origin)

    for row, f in enumerate(calls):
        stats = f.stats
        submitted = stats["host_submit_tstamp"]
        colour = _COLOURS.get(f.call_state, "black")
        start = stats.get("worker_func_start_tstamp")
        end = stats.get("worker_func_end_tstamp")
        if start is None or end is None:  # never ran on a worker (lost, cancelled, unpicklable)
            add(colour, row, submitted, stats.get("host_status_done_tstamp", submitted))
            continue
        add(_WAIT_COLOUR, row, submitted, start)
        add(colour, row, start, end)
    fig = figure_cls(figsize=figsize)
    canvas_cls(fig)
    ax = fig.add_subplot()
    width = max(0.5, min(6.0, 300 / len(calls)))
    # An instant outcome (an error raised at once) still shows: at least 0.4% of the axis.
    shortest = 0.004 * max((e for _, _, ends in segments.values() for e in ends), default=1)
    for colour, (rows, starts, ends) in segments.items():
        if colour != _WAIT_COLOUR:
            ends = [max(e, s + shortest) for s, e in zip(starts, ends, strict=True)]
        ax.hlines(rows, starts, ends, colors=colour, linewidth=width)
    ax.set_xlabel("seconds since the first submission")
    ax.set_ylabel("call")
    ax.set_title(f"{len(calls)} calls: wait (grey) and run (coloured by outcome)")
    _legend(ax, {f.call_state for f in calls})
    fig.tight_layout()
    fig.savefig(path, format="png")


def _draw_histogram(
    figure_cls: Any, canvas_cls: Any, calls: list[ResponseFuture], path: Path, figsize: Any
) -> None:
    fig = figure_cls(figsize=figsize)
    canvas_cls(fig)
    ax = fig.add_subplot()
    by_state: dict[CallState, list[float]] = {}
    for f in calls:
        duration = f.stats.get("worker_func_exec_time")
        if duration is None:  # never ran on a worker: time from submission to the outcome
            duration = f.stats.get("host_status_done_tstamp", 0) - f.stats["host_submit_tstamp"]
        by_state.setdefault(f.call_state, []).append(max(float(duration), 0.0))
    states = sorted(by_state, key=lambda s: list(_COLOURS).index(s) if s in _COLOURS else 99)
    ax.hist(
        [by_state[s] for s in states],
        bins=min(50, max(5, len(calls) // 4)),
        stacked=True,
        color=[_COLOURS.get(s, "black") for s in states],
        label=[s.value for s in states],
    )
    ax.set_xlabel("function run time (s)")
    ax.set_ylabel("calls")
    ax.set_title(f"run time of {len(calls)} calls")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


def _legend(ax: Any, states: set[CallState]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_WAIT_COLOUR, label="waiting")]
    handles += [Patch(color=c, label=s.value) for s, c in _COLOURS.items() if s in states]
    ax.legend(handles=handles, loc="lower right")
