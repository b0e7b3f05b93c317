"""What each measured run must have done; anything else aborts the benchmark loudly.

A fast wrong import is not a result. The generator knows exactly how many rows
are created, unchanged, updated or invalid, so the JSON report (SPEC §6) must
match it exactly, and the database, counted with raw SQL, must agree with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

from databases import Counts, count_rows
from measure import BenchmarkError, Measurement

_ROW_KEYS = ("read", "created", "updated", "unchanged", "skipped", "failed")


@dataclass(frozen=True)
class Expected:
    """The exit status, report counts and table contents one run must produce."""

    exit_status: int
    rows: dict[str, int]
    database: Counts
    contacts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0})


def expect_accounts(stats: dict[str, Any], outcome: str) -> Expected:
    """Account import of a generated file: outcome is created, unchanged or updated."""
    total, individual = stats["rows"], stats["individual"]
    invalid, invalid_individual = stats["invalid"], stats["invalid_individual"]
    rows = dict.fromkeys(_ROW_KEYS, 0) | {"read": total, outcome: total - invalid}
    rows["failed"] = invalid
    contacts = {"created": 0, "updated": 0}
    if outcome in ("created", "updated"):
        contacts[outcome] = individual - invalid_individual
    database = Counts(
        accounts=total - invalid,
        parents=stats["children"] - stats["invalid_children"],
        contacts=individual - invalid_individual,
    )
    return Expected(1 if invalid else 0, rows, database, contacts)


def expect_contacts(stats: dict[str, Any], accounts: dict[str, Any]) -> Expected:
    """Contact import into a database that holds the accounts file's accounts."""
    total = stats["rows"]
    rows = dict.fromkeys(_ROW_KEYS, 0) | {"read": total, "created": total}
    database = Counts(accounts["rows"], accounts["children"], accounts["individual"] + total)
    return Expected(0, rows, database)


def check_import(run: Measurement, expected: Expected, url: str) -> dict[str, Any]:
    """The custimport run's exit status, JSON report and database contents; returns the report."""
    if run.returncode != expected.exit_status:
        _fail(run, f"exit status {run.returncode}, expected {expected.exit_status}")
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except json.JSONDecodeError:
        _fail(run, "the --json report is not valid JSON")
    _compare(run, "rows", report.get("rows", {}), expected.rows)
    _compare(run, "contacts", report.get("contacts", {}), expected.contacts)
    _check_database(run, url, expected.database)
    return report


def check_baseline(run: Measurement, rows: int, database: Counts, url: str) -> None:
    """A baseline must have inserted every row too, or its rate means nothing."""
    if run.returncode != 0:
        _fail(run, "the baseline failed")
    reported = json.loads(run.stdout.strip().splitlines()[-1])
    if reported["rows"] != rows:
        _fail(run, f"the baseline wrote {reported['rows']} rows, expected {rows}")
    _check_database(run, url, database)


def _compare(run: Measurement, section: str, got: dict[str, Any], wanted: dict[str, int]) -> None:
    wrong = {key: (got.get(key), value) for key, value in wanted.items() if got.get(key) != value}
    if wrong:
        details = ", ".join(
            f"{key}={have} (expected {want})" for key, (have, want) in wrong.items()
        )
        _fail(run, f"wrong {section} counts in the report: {details}")


def _check_database(run: Measurement, url: str, expected: Counts) -> None:
    found = count_rows(url)
    if found != expected:
        _fail(run, f"the database holds {found}, expected {expected}")


def _fail(run: Measurement, reason: str) -> NoReturn:
    raise BenchmarkError(f"{run.label}: {reason}\n{run.describe()}")
