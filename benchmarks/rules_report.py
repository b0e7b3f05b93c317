"""The change-control rows of the results table (SPEC §9): see rules_scenarios.py."""

from __future__ import annotations

from scenarios import Results
from table import Row, median_rate, peak

RULES_MIN_RATIO = 0.9  # of the plain update's rate: at most 10% slower
CHANGES_MIN_RATIO = 0.5  # of the raw create baseline, like the update itself


def row(results: Results, scenario: str) -> Row | None:
    if not results.get(scenario, "custimport") or not results.get("update", "custimport"):
        return None
    rate = median_rate(results, scenario, "custimport")
    update = median_rate(results, "update", "custimport")
    if scenario == "update_rules":
        ratio = rate / update
        target = f">= {RULES_MIN_RATIO:.1f}x the plain update's rate"
        return Row(scenario, update, rate, ratio, target, peak(results, scenario),
                   ratio >= RULES_MIN_RATIO, baseline_note="(plain update)")  # fmt: skip
    baseline = median_rate(results, "create", "baseline")
    ratio = rate / baseline
    target = f">= {CHANGES_MIN_RATIO:.1f}x (plain update: {update / baseline:.2f}x)"
    return Row(scenario, baseline, rate, ratio, target, peak(results, scenario),
               ratio >= CHANGES_MIN_RATIO)  # fmt: skip
