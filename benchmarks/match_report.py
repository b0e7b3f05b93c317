"""The matching row of the results table (SPEC §10): see match_scenarios.py."""

from __future__ import annotations

from scenarios import Results
from table import Row, median_rate, peak

MIN_RATIO = 0.5  # of the by-number re-import's rate
MAX_PEAK_MIB = 200


def row(results: Results, scenario: str) -> Row | None:
    if not results.get(scenario, "custimport") or not results.get(scenario, "by_number"):
        return None
    by_number = median_rate(results, scenario, "by_number")
    first = median_rate(results, scenario, "custimport")
    again = median_rate(results, scenario, "by_name_again")
    ratio = first / by_number
    top = max(peak(results, scenario), peak(results, scenario, "by_name_again"))
    target = (
        f">= {MIN_RATIO:.1f}x by account_number, <= {MAX_PEAK_MIB} MiB "
        f"(keys stored: {again:,.0f} rows/s, {again / by_number:.2f}x)"
    )
    passed = ratio >= MIN_RATIO and top <= MAX_PEAK_MIB
    return Row(scenario, by_number, first, ratio, target, top, passed,
               baseline_note="(by account_number)")  # fmt: skip
