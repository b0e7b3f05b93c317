"""What each measured run must have done; anything else aborts the benchmark loudly.

A fast wrong import is not a result. The generator knows exactly how many rows
are created, unchanged, updated or invalid, so the JSON report (SPEC §6) must
match it exactly, and the database, counted with raw SQL, must agree with it.
So must the run's history (SPEC §8): a journaled import that recorded fewer
changes than it made would be fast for the wrong reason, and an undo that left
conflicts or reversed less than the import did has not done the work timed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

from databases import Counts, count_rows, run_record, update_marks
from measure import BenchmarkError, Measurement

_ROW_KEYS = ("read", "created", "updated", "unchanged", "skipped", "failed")


@dataclass(frozen=True)
class Expected:
    """The exit status, report counts and table contents one run must produce."""

    exit_status: int
    rows: dict[str, int]
    database: Counts
    contacts: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0})
    # (renamed accounts, changed phones) after the run, when the caller wants them counted
    update_marks: tuple[int, int] | None = None

    @property
    def changes(self) -> int:
        """The journal's records for this run: one per row created or updated, in any table."""
        return sum(
            counts.get(key, 0)
            for counts in (self.rows, self.contacts)
            for key in ("created", "updated")
        )


@dataclass(frozen=True)
class ExpectedUndo:
    """What `custimport undo RUN --json` must report and leave behind."""

    undoes: int
    deleted: int
    restored: int
    database: Counts


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


def check_import(
    run: Measurement, expected: Expected, url: str, journal: str = "full"
) -> dict[str, Any]:
    """The import's exit status, JSON report, database contents and history; returns the report.

    `journal` is "full" (every change recorded) or "off" (`--no-undo`: the run, no changes).
    """
    report = _report(run, expected.exit_status)
    _compare(run, "rows", report.get("rows", {}), expected.rows)
    _compare(run, "contacts", report.get("contacts", {}), expected.contacts)
    _check_database(run, url, expected.database)
    if expected.update_marks is not None:
        check_update_marks(run, url, expected.update_marks)
    changes = expected.changes if journal == "full" else 0
    _check_run(run, url, _run_number(run, report, "run"), ("completed", journal, changes))
    return report


def check_undo(run: Measurement, expected: ExpectedUndo, url: str) -> dict[str, Any]:
    """The undo's exit status and JSON (SPEC §8), the reversed run's status, the database."""
    report = _report(run, 0)
    if report.get("conflicts") != []:
        _fail(run, f"the undo reports conflicts: {str(report.get('conflicts'))[:500]}")
    wanted = {
        "undoes": expected.undoes,
        "dry_run": False,
        "deleted": expected.deleted,
        "restored": expected.restored,
    }
    _compare(run, "undo", report, wanted)
    _run_number(run, report, "run")
    record = run_record(url, expected.undoes)
    if record is None or record.status != "undone":
        _fail(run, f"run {expected.undoes} is recorded as {record}, expected status undone")
    _check_database(run, url, expected.database)
    check_update_marks(run, url, (0, 0))
    return report


def check_update_marks(run: Measurement, url: str, expected: tuple[int, int]) -> None:
    """Renamed accounts and changed phones (the update variant's values), counted with SQL."""
    found = update_marks(url)
    if found != expected:
        _fail(run, f"(renamed accounts, changed phones) are {found}, expected {expected}")


def check_baseline(run: Measurement, rows: int, database: Counts, url: str) -> None:
    """A baseline must have inserted every row too, or its rate means nothing."""
    if run.returncode != 0:
        _fail(run, "the baseline failed")
    reported = json.loads(run.stdout.strip().splitlines()[-1])
    if reported["rows"] != rows:
        _fail(run, f"the baseline wrote {reported['rows']} rows, expected {rows}")
    _check_database(run, url, database)


def _report(run: Measurement, exit_status: int) -> dict[str, Any]:
    if run.returncode != exit_status:
        _fail(run, f"exit status {run.returncode}, expected {exit_status}")
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except json.JSONDecodeError:
        _fail(run, "the --json report is not valid JSON")
    return report


def _run_number(run: Measurement, report: dict[str, Any], key: str) -> int:
    number = report.get(key)
    if not isinstance(number, int) or isinstance(number, bool):
        _fail(run, f"the report's {key!r} is {number!r}, expected a run number")
    return number


def _check_run(run: Measurement, url: str, number: int, wanted: tuple[str, str, int]) -> None:
    """import_run's status and journal mode, and the count of its import_change rows."""
    record = run_record(url, number)
    found = None if record is None else (record.status, record.journal, record.changes)
    if found != wanted:
        _fail(
            run,
            f"run {number} is recorded as (status, journal, changes) {found}, expected {wanted}",
        )


def _compare(run: Measurement, section: str, got: dict[str, Any], wanted: dict[str, Any]) -> None:
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
