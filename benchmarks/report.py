"""Turn measurements into the results table: medians, ratios to the baseline, PASS/FAIL.

The targets are the issue's, in one place, so the table and the JSON output cannot
disagree about them. The import-history rows (--no-undo, undo) are built by
history_report.py; the line type and the medians are in table.py.
"""

from __future__ import annotations

import statistics

import history_report
import match_report
import match_scenarios
import rules_report
import rules_scenarios
from scenarios import Results
from table import Row, median_rate, median_seconds, memory_row, peak

# scenario → (baseline it is compared with, minimum custimport/baseline rate ratio)
RATE_TARGETS = {
    "create": ("create", 0.6),
    "unchanged": ("create", 1.2),
    "update": ("create", 0.5),
    "contacts": ("contacts", 0.5),
    "postgres": ("postgres", 1.0),
}
INVALID_MAX_TIME_RATIO = 1.10


def summarise(results: Results, scenarios: list[str]) -> list[Row]:
    """A row per selected scenario that has measurements, in the order asked for.

    After the last undo scenario, the undo's memory row, when undo was measured at N/10.
    """
    undos = [i for i, scenario in enumerate(scenarios) if scenario in history_report.UNDO]
    rows: list[Row] = []
    for index, scenario in enumerate(scenarios):
        found = [_row(results, scenario)]
        if undos and index == undos[-1]:
            found.append(history_report.undo_memory_row(results, scenarios))
        rows.extend(row for row in found if row is not None)
    return rows


def notes(results: Results) -> list[str]:
    """The lines under the table: start-up, the journal's cost, --no-undo against before."""
    found = [
        startup_note(results),
        history_report.journal_note(results),
        history_report.pre_journal_note(results),
    ]
    return [note for note in found if note]


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


def _row(results: Results, scenario: str) -> Row | None:
    if scenario in history_report.NO_UNDO or scenario in history_report.UNDO:
        return history_report.row(results, scenario)
    if scenario in rules_scenarios.RULES:
        return rules_report.row(results, scenario)
    if scenario in match_scenarios.MATCH:
        return match_report.row(results, scenario)
    if not results.get(scenario, "custimport"):
        return None
    if scenario in RATE_TARGETS:
        return _rate_row(results, scenario)
    if scenario == "invalid":
        return _invalid_row(results)
    if scenario == "memory":
        full, tenth = peak(results, "create"), peak(results, "memory")
        return memory_row("memory", full, tenth, full / tenth)
    return None


def _rate_row(results: Results, scenario: str) -> Row:
    reference, minimum = RATE_TARGETS[scenario]
    baseline = median_rate(results, reference, "baseline")
    custimport = median_rate(results, scenario, "custimport")
    ratio = custimport / baseline
    target = f">= {minimum:.1f}x {reference} baseline"
    return Row(
        scenario, baseline, custimport, ratio, target, peak(results, scenario), ratio >= minimum
    )


def _invalid_row(results: Results) -> Row:
    """1%-invalid file versus the clean file: a ratio of wall times, not of rates."""
    clean = median_seconds(results.get("create", "custimport"))
    ratio = median_seconds(results.get("invalid", "custimport")) / clean
    return Row(
        "invalid",
        median_rate(results, "create", "custimport"),
        median_rate(results, "invalid", "custimport"),
        ratio,
        f"time <= {INVALID_MAX_TIME_RATIO:.2f}x clean create",
        peak(results, "invalid"),
        ratio <= INVALID_MAX_TIME_RATIO,
        baseline_note="(clean file, custimport)",
    )
