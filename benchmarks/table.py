"""The results table's line type and the medians and peaks its rows are built from.

Rates are medians over the repetitions (robust to one slow run); peak RSS is the
maximum over them (a peak is a worst case). Shared by report.py (the import
scenarios) and history_report.py (--no-undo and undo).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from measure import Measurement
from scenarios import Results

MEMORY_MAX_MIB = 200.0
MEMORY_MAX_GROWTH = 1.5
HEADER = (
    "scenario",
    "baseline rows/s (median)",
    "custimport rows/s (median)",
    "ratio",
    "target",
    "peak RSS MiB",
    "result",
)


@dataclass(frozen=True)
class Row:
    """One table line, plus the raw numbers behind it for --json-out."""

    scenario: str
    baseline_rate: float | None
    custimport_rate: float | None
    ratio: float
    target: str
    peak_rss_mib: float
    passed: bool | None  # None: information only, no target this run can check
    baseline_note: str = ""
    peak_note: str = ""

    def cells(self) -> tuple[str, ...]:
        return (
            self.scenario,
            _with_note(_rate(self.baseline_rate), self.baseline_note),
            _rate(self.custimport_rate),
            f"{self.ratio:.2f}x",
            self.target,
            _with_note(f"{self.peak_rss_mib:.0f}", self.peak_note),
            {True: "PASS", False: "FAIL", None: "info"}[self.passed],
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def markdown(rows: list[Row]) -> str:
    lines = [_line(HEADER), _line(tuple("---" for _ in HEADER))]
    lines.extend(_line(row.cells()) for row in rows)
    return "\n".join(lines)


def passed(rows: list[Row]) -> bool:
    """Every target met; information-only rows do not count."""
    return all(row.passed is not False for row in rows)


def memory_row(scenario: str, full: float, tenth: float, growth: float) -> Row:
    """Peak RSS at N (`full`) against N/10: it must not grow with the file, nor pass the cap."""
    return Row(
        scenario,
        None,
        None,
        growth,
        f"RSS(N) <= {MEMORY_MAX_GROWTH}x RSS(N/10), <= {MEMORY_MAX_MIB:.0f} MiB",
        full,
        full <= MEMORY_MAX_MIB and growth <= MEMORY_MAX_GROWTH,
        peak_note=f"(N/10: {tenth:.0f})",
    )


def median_rate(results: Results, scenario: str, side: str) -> float:
    return statistics.median(run.rows_per_s for run in results.get(scenario, side))


def median_seconds(runs: list[Measurement]) -> float:
    return statistics.median(run.seconds for run in runs)


def peak(results: Results, scenario: str, side: str = "custimport") -> float:
    return max(run.peak_rss_mb for run in results.get(scenario, side))


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:,.0f}"


def _with_note(text: str, note: str) -> str:
    return f"{text} {note}" if note else text


def _line(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"
