"""The scenario table: what a scenario is, what it reports, and how one registers.

A scenario module (any ``bench/scenarios_*.py``) registers functions with ``@scenario``::

    from registry import BenchContext, Case, Check, ScenarioReport, scenario

    @scenario("s1", "standalone: bootstrap time of a fresh SSH host")
    def bootstrap(ctx: BenchContext) -> ScenarioReport:
        report = ScenarioReport()
        ...
        return report

``run.py`` imports every ``scenarios_*.py`` next to it, so a new section is a new file.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peers import PeerSet

__all__ = [
    "SCENARIOS",
    "BenchContext",
    "Case",
    "Check",
    "Measurement",
    "Scenario",
    "ScenarioReport",
    "ratio",
    "scenario",
]


@dataclass
class Measurement:
    """One cell of the table: the samples of a peer for a case, or why there are none."""

    samples: list[float] = field(default_factory=list)
    error: str | None = None
    note: str = ""
    # Set when the value is not a median of samples (extrapolated, or a lower bound).
    override: float | None = None
    prefix: str = ""  # "~" for extrapolated values, ">" for lower bounds

    @property
    def value(self) -> float | None:
        if self.error is not None:
            return None
        if self.override is not None:
            return self.override
        if not self.samples:
            return None
        return statistics.median(self.samples)

    def render(self) -> str:
        if self.error is not None:
            return "ERROR"
        value = self.value
        if value is None:
            return "-"
        return f"{self.prefix}{value:.3f}"


def ratio(top: Measurement | None, bottom: Measurement | None) -> float | None:
    """``top / bottom`` when both were measured, else None."""
    if top is None or bottom is None:
        return None
    a, b = top.value, bottom.value
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass
class Case:
    """One row: the same workload measured on several peers, plus derived ratios."""

    title: str
    cells: dict[str, Measurement] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    """A bar the project must hit; the bench only reports PASS/FAIL against it."""

    text: str
    value: float | None
    limit: float
    op: str = "<="  # "<=" or ">="

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def render(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "N/A "}[self.passed]
        shown = "not measured" if self.value is None else f"{self.value:.3g}"
        return f"{verdict}  {self.text}: {shown} (bar {self.op} {self.limit:g})"


@dataclass
class ScenarioReport:
    cases: list[Case] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class BenchContext:
    """What a scenario gets: the selected peers, repeat counts, and a log function."""

    peers: PeerSet
    quick: bool
    log: Callable[[str], None]

    def wants(self, peer: str) -> bool:
        return peer in self.peers.selected

    def repeats(self, peer: str) -> int:
        """Repeat count: fewer for slow peers and in --quick mode."""
        slow = peer == "lithops38"
        if self.quick:
            return 1 if slow else 3
        return 3 if slow else 5


@dataclass
class Scenario:
    key: str
    title: str
    func: Callable[[BenchContext], ScenarioReport]
    default: bool = True  # False for sections that need extra setup (e.g. SSH hosts)


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    key: str, title: str, *, default: bool = True
) -> Callable[[Callable[[BenchContext], ScenarioReport]], Callable[[BenchContext], ScenarioReport]]:
    """Register a scenario function under ``key`` (used by ``--scenarios``)."""

    def register(
        func: Callable[[BenchContext], ScenarioReport],
    ) -> Callable[[BenchContext], ScenarioReport]:
        if key in SCENARIOS:
            other = SCENARIOS[key].func
            raise ValueError(
                f"scenario key {key!r} registered twice: {other.__module__}.{other.__name__} "
                f"and {func.__module__}.{func.__name__}; pick another key"
            )
        SCENARIOS[key] = Scenario(key, title, func, default)
        return func

    return register
