"""Turn measurements into the results table: medians, ratios to the baseline, PASS/FAIL.

Rates are medians over the repetitions (robust to one slow run); peak RSS is the
maximum over them (a peak is a worst case). The targets are the issue's, in one
place, so the table and the JSON output cannot disagree about them.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from scenarios import Results

# scenario → (baseline it is compared with, minimum custimport/baseline rate ratio)
RATE_TARGETS = {
    "create": ("create", 0.5),
    "unchanged": ("create", 1.0),
    "update": ("create", 0.4),
    "contacts": ("contacts", 0.5),
    "postgres": ("postgres", 1.0),
}
INVALID_MAX_TIME_RATIO = 1.10
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
    passed: bool
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
            "PASS" if self.passed else "FAIL",
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def summarise(results: Results, scenarios: list[str]) -> list[Row]:
    """A row per selected scenario that has measurements, in the order asked for."""
    rows = []
    for scenario in scenarios:
        if not results.get(scenario, "custimport"):
            continue
        if scenario in RATE_TARGETS:
            rows.append(_rate_row(results, scenario))
        elif scenario == "invalid":
            rows.append(_invalid_row(results))
        elif scenario == "memory":
            rows.append(_memory_row(results))
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [_line(HEADER), _line(tuple("---" for _ in HEADER))]
    lines.extend(_line(row.cells()) for row in rows)
    return "\n".join(lines)


def startup_note(results: Results) -> str:
    """How much of each create wall time is start-up (wall minus the program's own timing).

    Rates are wall-clock, start-up included, as a user experiences them; at small
    --rows this fixed cost dominates, which this line makes visible.
    """
    parts = []
    for side in ("baseline", "custimport"):
        gaps = [
            run.seconds - run.self_reported_seconds
            for run in results.get("create", side)
            if run.self_reported_seconds is not None
        ]
        if gaps:
            parts.append(f"{side} {statistics.median(gaps):.2f} s")
    return "start-up and teardown in each create wall time (median): " + ", ".join(parts)


def _rate_row(results: Results, scenario: str) -> Row:
    reference, minimum = RATE_TARGETS[scenario]
    baseline = _median_rate(results, reference, "baseline")
    custimport = _median_rate(results, scenario, "custimport")
    ratio = custimport / baseline
    target = f">= {minimum:.1f}x {reference} baseline"
    return Row(
        scenario, baseline, custimport, ratio, target, _peak(results, scenario), ratio >= minimum
    )


def _invalid_row(results: Results) -> Row:
    """1%-invalid file versus the clean file: a ratio of wall times, not of rates."""
    clean = statistics.median(run.seconds for run in results.get("create", "custimport"))
    broken = statistics.median(run.seconds for run in results.get("invalid", "custimport"))
    ratio = broken / clean
    return Row(
        "invalid",
        _median_rate(results, "create", "custimport"),
        _median_rate(results, "invalid", "custimport"),
        ratio,
        f"time <= {INVALID_MAX_TIME_RATIO:.2f}x clean create",
        _peak(results, "invalid"),
        ratio <= INVALID_MAX_TIME_RATIO,
        baseline_note="(clean file, custimport)",
    )


def _memory_row(results: Results) -> Row:
    """Peak RSS of create at N versus at N/10: memory must not grow with the file."""
    full, tenth = _peak(results, "create"), _peak(results, "memory")
    growth = full / tenth
    passed = full <= MEMORY_MAX_MIB and growth <= MEMORY_MAX_GROWTH
    return Row(
        "memory",
        None,
        None,
        growth,
        f"RSS(N) <= {MEMORY_MAX_GROWTH}x RSS(N/10), <= {MEMORY_MAX_MIB:.0f} MiB",
        full,
        passed,
        peak_note=f"(N/10: {tenth:.0f})",
    )


def _median_rate(results: Results, scenario: str, side: str) -> float:
    return statistics.median(run.rows_per_s for run in results.get(scenario, side))


def _peak(results: Results, scenario: str) -> float:
    return max(run.peak_rss_mb for run in results.get(scenario, "custimport"))


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:,.0f}"


def _with_note(text: str, note: str) -> str:
    return f"{text} {note}" if note else text


def _line(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"
