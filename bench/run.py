"""Benchmark: our lithops vs a warm ProcessPoolExecutor vs Lithops 3.8, side by side.

    python3 bench/run.py                       # every default scenario, every peer
    python3 bench/run.py --only ppe,lithops38  # peers to run
    python3 bench/run.py --scenarios a,c --quick
    python3 bench/run.py --write               # also write bench/RESULTS.md

Scenarios live in ``bench/scenarios_*.py`` and register with ``registry.scenario``; this file
imports every such module, so a new section is a new file (see README.md).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from machine import describe_machine, load_average  # noqa: E402 (needs the path above)
from peers import PEER_LABELS, PEERS, PeerSet, compile_sources, ensure_lithops38  # noqa: E402
from registry import SCENARIOS, BenchContext, ScenarioReport  # noqa: E402
from report import render_markdown, render_table  # noqa: E402


def load_scenario_modules() -> list[str]:
    """Import every bench/scenarios_*.py; one that fails to import is reported and skipped."""
    problems = []
    for path in sorted(BENCH_DIR.glob("scenarios_*.py")):
        try:
            importlib.import_module(path.stem)
        except Exception as exc:  # a broken section must not stop the others
            problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
    return problems


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", default=",".join(PEERS), help=f"comma-separated peers from {', '.join(PEERS)}"
    )
    parser.add_argument("--scenarios", default="", help="comma-separated keys (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller slow runs")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    import_problems = load_scenario_modules()
    for problem in import_problems:
        log(f"scenario module skipped: {problem}")
    if args.list:
        for key, sc in SCENARIOS.items():
            print(f"{key:6} {'' if sc.default else '(not default) '}{sc.title}")
        return 0

    peers = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        print(f"unknown peer(s) {unknown}; choose from {', '.join(PEERS)}", file=sys.stderr)
        return 2
    if args.scenarios:
        keys = [k.strip() for k in args.scenarios.split(",") if k.strip()]
    else:
        # By key, not by import order: sections come from several modules.
        keys = sorted(k for k, sc in SCENARIOS.items() if sc.default)
    missing = [k for k in keys if k not in SCENARIOS]
    if missing:
        print(f"unknown scenario(s) {missing}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2

    if "lithops38" in peers:
        ensure_lithops38(log)

    compile_sources(log)
    machine = describe_machine()
    ctx = BenchContext(peers=PeerSet(peers), quick=args.quick, log=log)
    results: list[tuple[str, ScenarioReport]] = []
    started = time.perf_counter()
    for key in keys:
        sc = SCENARIOS[key]
        log(f"scenario {key}: {sc.title}")
        try:
            report = sc.func(ctx)
        except Exception as exc:  # one broken scenario must not lose the others' numbers
            report = ScenarioReport(notes=[f"scenario crashed: {type(exc).__name__}: {exc}"])
        report.notes.append(f"load average at the end (1/5/15 min): {load_average()}")
        results.append((sc.title, report))
        print(render_table(sc.title, report), flush=True)
        print(flush=True)
    machine["load average at end (1/5/15 min)"] = load_average()
    machine["bench wall time"] = f"{time.perf_counter() - started:.0f} s"

    checks = [c for _, r in results for c in r.checks]
    print("== bars")
    for check in checks:
        print(f"  {check.render()}")
    print("== machine")
    for name, value in machine.items():
        print(f"  {name}: {value}")

    if args.write:
        write_results(argv, peers, machine, results)
    return 0


def write_results(
    argv: list[str],
    peers: tuple[str, ...],
    machine: dict[str, str],
    results: list[tuple[str, ScenarioReport]],
) -> None:
    command = shlex.join(["python3", "bench/run.py", *argv])
    lines = [
        "# Benchmark results",
        "",
        f"Reproduce from the repository root: `{command}`",
        "",
        "Peers: " + ", ".join(PEER_LABELS[p] for p in peers) + ". Times are seconds, "
        "median of the repeats; `~` = extrapolated, `>` = lower bound (time cap hit). "
        "See bench/README.md for what each scenario measures.",
        "",
        "## Machine",
        "",
        *(f"- {name}: {value}" for name, value in machine.items()),
        "",
        "## Results",
        "",
    ]
    for title, report in results:
        lines.append(render_markdown(title, report))
    lines.append("## Bars")
    lines.append("")
    for _, report in results:
        lines.extend(f"- {check.render()}" for check in report.checks)
    lines.append("")
    out = BENCH_DIR / "RESULTS.md"
    out.write_text("\n".join(lines))
    log(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
