"""Render scenario reports as text tables (stdout) and Markdown (RESULTS.md)."""

from __future__ import annotations

from peers import PEER_LABELS
from registry import Case, ScenarioReport

__all__ = ["render_markdown", "render_table"]


def _columns(cases: list[Case]) -> tuple[list[str], list[str]]:
    cells: list[str] = []
    ratios: list[str] = []
    for case in cases:
        for key in case.cells:
            if key not in cells:
                cells.append(key)
        for key in case.ratios:
            if key not in ratios:
                ratios.append(key)
    return cells, ratios


def _rows(report: ScenarioReport) -> tuple[list[str], list[list[str]]]:
    cells, ratios = _columns(report.cases)
    header = ["case", *(f"{PEER_LABELS.get(c, c)} (s)" for c in cells), *ratios, "notes"]
    rows = []
    for case in report.cases:
        row = [case.title]
        for key in cells:
            m = case.cells.get(key)
            row.append(m.render() if m is not None else "")
        for key in ratios:
            value = case.ratios.get(key)
            row.append("-" if value is None else f"{value:.3g}")
        notes = list(case.notes)
        for key in cells:
            m = case.cells.get(key)
            if m is None:
                continue
            if m.error:
                notes.append(f"{PEER_LABELS.get(key, key)} ERROR: {m.error}")
            elif m.note:
                notes.append(f"{PEER_LABELS.get(key, key)}: {m.note}")
        row.append("; ".join(notes))
        rows.append(row)
    return header, rows


def render_table(title: str, report: ScenarioReport) -> str:
    header, rows = _rows(report)
    # The notes column is left unpadded: it can be long.
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [f"== {title}"]
    for row in [header, *rows]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    lines.extend(f"  note: {n}" for n in report.notes)
    lines.extend(f"  {check.render()}" for check in report.checks)
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, report: ScenarioReport) -> str:
    header, rows = _rows(report)
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows)
    lines.append("")
    lines.extend(f"- note: {_md_escape(n)}" for n in report.notes)
    lines.extend(f"- {check.render()}" for check in report.checks)
    lines.append("")
    return "\n".join(lines)
