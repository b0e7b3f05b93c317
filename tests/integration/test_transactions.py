"""Batches, --atomic, --dry-run, --max-errors and row isolation on both engines (SPEC §2, §4)."""

import hashlib
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    account_row,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def mixed_file(tmp_path: Path) -> Path:
    """Five rows, the third invalid."""
    rows = [account_row(f"A-{i}") for i in range(1, 6)]
    rows[2] = account_row("A-3", website="bad site")
    return write_csv(tmp_path / "mixed.csv", ACCOUNTS_HEADER, rows)


def count_accounts(url: str) -> int:
    return int(fetch(url, "SELECT count(*) FROM account")[0][0])


def test_a_failing_row_does_not_stop_the_others(tmp_path: Path, groups: str) -> None:
    run = run_import(mixed_file(tmp_path), "Account", groups, "--batch-size", "2")
    assert run.exit_code == 1
    assert run.rows == {
        "read": 5,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert run.report["committed"] is True and run.report["completed"] is True
    assert count_accounts(groups) == 4


def test_atomic_commits_nothing_when_a_row_fails(tmp_path: Path, groups: str) -> None:
    run = run_import(mixed_file(tmp_path), "Account", groups, "--atomic", "--batch-size", "2")
    assert run.exit_code == 1
    assert run.report["committed"] is False
    assert run.rows["failed"] == 1 and run.rows["created"] == 4
    assert count_accounts(groups) == 0


def test_atomic_commits_everything_when_all_rows_succeed(tmp_path: Path, groups: str) -> None:
    path = write_csv(
        tmp_path / "ok.csv", ACCOUNTS_HEADER, [account_row(f"A-{i}") for i in range(5)]
    )
    run = run_import(path, "Account", groups, "--atomic", "--batch-size", "2")
    assert run.exit_code == 0 and run.report["committed"] is True
    assert count_accounts(groups) == 5


def test_dry_run_reports_like_the_real_import_and_writes_nothing(
    tmp_path: Path, groups: str
) -> None:
    dry = run_import(mixed_file(tmp_path), "Account", groups, "--dry-run", "--batch-size", "2")
    assert dry.exit_code == 1
    assert dry.report["dry_run"] is True and dry.report["committed"] is False
    assert count_accounts(groups) == 0
    real = run_import(mixed_file(tmp_path), "Account", groups, "--batch-size", "2")
    assert real.rows == dry.rows


def test_dry_run_leaves_the_sqlite_file_byte_for_byte_unchanged(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed_groups(tmp_path, sqlite_url)
    path = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [account_row(f"A-{i}", parent="A-0" if i else "") for i in range(50)]
        + [account_row("I-1", group="Retail", first="J", last="D")],
    )
    database = Path(make_url(sqlite_url).database or "")
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    run = run_import(path, "Account", sqlite_url, "--dry-run", "--batch-size", "7")
    assert run.exit_code == 0 and run.rows["created"] == 51
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert count_accounts(sqlite_url) == 0


def test_max_errors_stops_reading_and_keeps_what_was_committed(tmp_path: Path, groups: str) -> None:
    rows = [account_row(f"A-{i}", website="bad site" if i % 3 == 0 else "") for i in range(1, 31)]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", groups, "--max-errors", "2", "--batch-size", "100")
    assert run.exit_code == 1
    assert run.report["completed"] is False and run.report["committed"] is True
    assert run.rows == {
        "read": 6,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 2,
    }
    assert count_accounts(groups) == 4


def test_max_errors_on_the_last_row_still_completes(tmp_path: Path, groups: str) -> None:
    path = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A"), account_row("B", website="x y")]
    )
    run = run_import(path, "Account", groups, "--max-errors", "1")
    assert run.exit_code == 1
    assert run.report["completed"] is True


def test_a_database_refusal_fails_only_its_row_within_a_batch(tmp_path: Path, groups: str) -> None:
    """The bulk write fails, the batch is redone row by row, and only the bad row fails."""
    business = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("B-1"), account_row("B-2")]
    )
    run_import(business, "Account", groups)
    contact = write_csv(
        tmp_path / "c.csv", CONTACTS_HEADER, [["B-1", "Ann", "Lee", "ann@x.com", "", "no"]]
    )
    run_import(contact, "Contact", groups)
    moved = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [
            account_row("B-1", group="Retail", first="Ann", last="Other", email="ANN@x.com"),
            account_row("B-2", group="Retail", first="Bo", last="Ray"),
            account_row("NEW", group="Retail", first="Cy", last="Oh"),
        ],
    )
    run = run_import(moved, "Account", groups)
    assert run.rows == {
        "read": 3,
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "line 2" in log and "another contact of this account already has this email" in log
    assert fetch(
        groups,
        "SELECT a.account_number, g.name FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "ORDER BY a.account_number",
    ) == [("B-1", "Enterprise"), ("B-2", "Retail"), ("NEW", "Retail")]
    assert fetch(groups, "SELECT count(*) FROM contact WHERE is_primary") == [(2,)]


def test_every_failed_row_is_in_the_error_log_and_the_rejects_file(
    tmp_path: Path, groups: str
) -> None:
    rejects = tmp_path / "rejects.csv"
    run = run_import(mixed_file(tmp_path), "Account", groups, "--rejects", rejects)
    assert run.report["rejects"] == str(rejects)
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join([*ACCOUNTS_HEADER, "error"])
    assert lines[1].startswith("A-3,Account A-3,Enterprise,,bad site,")
    assert lines[1].endswith("website: is not a valid website (a domain or URL without spaces)")
    assert len(lines) == 2
