"""Keys a spreadsheet damaged are never silently new (SPEC §10), on both engines.

Excel strips a number-looking key of its leading zeros (`00123` → `123`) and shows a long
one in scientific notation (`1.23457E+17`); importing such a file again created a second
account next to the real one, with exit 0. Now the row fails naming the stored key it
probably means, `--allow-new-keys` accepts it, and "not found" references say the same.
"""

from pathlib import Path

from alembic import command
from openpyxl import Workbook

from custimport.store import db
from helpers import cli, execute, fetch, run_import, seed_groups, write_csv

HEADER = ["account_number", "name", "customer_group", "parent_account"]


def stored_accounts(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    rows = [
        ["00123", "Padded", "Enterprise", ""],
        ["456", "Plain", "Enterprise", ""],
        ["123456789012345678", "Long", "Enterprise", ""],
    ]
    assert (
        run_import(write_csv(tmp_path / "base.csv", HEADER, rows), "Account", db_url).exit_code == 0
    )


def numbers(db_url: str) -> list[str]:
    return [
        n for (n,) in fetch(db_url, "SELECT account_number FROM account ORDER BY account_number")
    ]


def errors_of(run_report: dict[str, object]) -> str:
    return Path(str(run_report["error_log"])).read_text(encoding="utf-8")


def test_damaged_keys_fail_their_rows_naming_the_stored_key(db_url: str, tmp_path: Path) -> None:
    stored_accounts(tmp_path, db_url)
    before = numbers(db_url)
    rows = [
        ["123", "Zeros stripped", "Enterprise", ""],
        ["000456", "Zeros added", "Enterprise", ""],
        ["1.23457E+17", "Scientific", "Enterprise", ""],
        ["9.87654E+17", "Scientific, nothing near", "Enterprise", ""],
        ["789", "Really new", "Enterprise", ""],
    ]
    path = write_csv(tmp_path / "again.csv", HEADER, rows)

    run = run_import(path, "Account", db_url)

    assert run.exit_code == 1
    assert (run.rows["failed"], run.rows["created"]) == (4, 1)
    assert numbers(db_url) == sorted([*before, "789"])
    log = errors_of(run.report)
    assert (
        "'123' differs from a stored account number only by leading zeros (it probably means '00123')"
        in log
    )
    assert (
        "'000456' differs from a stored account number only by leading zeros (it probably means '456')"
        in log
    )
    assert (
        "'1.23457E+17' looks like a number a spreadsheet showed in scientific notation (it probably means '123456789012345678')"
        in log
    )
    assert (
        "'9.87654E+17' looks like a number a spreadsheet showed in scientific notation; format"
        in log
    )

    accepted = run_import(path, "Account", db_url, "--allow-new-keys")
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.rows["created"] == 4  # 789 exists now: unchanged
    assert "123" in numbers(db_url) and "1.23457E+17" in numbers(db_url)


def test_an_update_only_import_fails_a_damaged_key_instead_of_skipping_it(
    db_url: str, tmp_path: Path
) -> None:
    stored_accounts(tmp_path, db_url)
    path = write_csv(tmp_path / "u.csv", HEADER, [["123", "Renamed", "Enterprise", ""]])
    run = run_import(path, "Account", db_url, "--mode", "update_only")
    assert (run.rows["failed"], run.rows["skipped"]) == (1, 0)
    assert "it probably means '00123'" in errors_of(run.report)


def test_references_that_are_not_found_name_the_keys_they_may_mean(
    db_url: str, tmp_path: Path
) -> None:
    stored_accounts(tmp_path, db_url)
    child = write_csv(tmp_path / "c.csv", HEADER, [["C-1", "Child", "Enterprise", "123"]])
    run = run_import(child, "Account", db_url)
    assert run.rows["failed"] == 1
    assert (
        "parent account '123' not found (did you mean '00123'? a spreadsheet may have changed "
        "the number)" in errors_of(run.report)
    )
    contacts = write_csv(
        tmp_path / "k.csv", ["account", "first_name", "last_name"], [["1.23457E+17", "Ann", "Lee"]]
    )
    run = run_import(contacts, "Contact", db_url)
    assert "account '1.23457E+17' not found (did you mean '123456789012345678'?" in errors_of(
        run.report
    )


def test_a_numeric_xlsx_cell_that_lost_its_zeros(db_url: str, tmp_path: Path) -> None:
    stored_accounts(tmp_path, db_url)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append([123, "From a number cell", "Enterprise", None])
    book.save(tmp_path / "a.xlsx")

    run = run_import(tmp_path / "a.xlsx", "Account", db_url)

    assert run.rows["failed"] == 1
    assert "it probably means '00123'" in errors_of(run.report)


def test_text_keys_and_new_numbers_are_not_checked(sqlite_url: str, tmp_path: Path) -> None:
    """Keys that are not all digits (Excel leaves text alone) and numbers with no stored
    neighbour import as before."""
    stored_accounts(tmp_path, sqlite_url)
    rows = [["0ACME-1", "Text", "Enterprise", ""], ["0789", "New", "Enterprise", ""]]
    run = run_import(write_csv(tmp_path / "t.csv", HEADER, rows), "Account", sqlite_url)
    assert run.exit_code == 0 and run.rows["created"] == 2


def test_a_database_upgraded_from_0003_finds_its_zero_padded_keys(
    db_url: str, tmp_path: Path
) -> None:
    """Migration 0004 indexes the numbers stored before it: `db upgrade`, then the check."""
    engine = db.make_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(db.alembic_config(connection), "0003")
    engine.dispose()
    execute(
        db_url,
        "INSERT INTO customer_group (name, name_key, group_type, created_at, updated_at) "
        "VALUES ('Old', 'old', 'BUSINESS', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    execute(
        db_url,
        "INSERT INTO account (account_number, name, customer_group_id, created_at, updated_at) "
        "SELECT '000042', 'Stored before 0004', id, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM customer_group",
    )
    assert f"upgraded from 0003 to {db.SCHEMA_HEAD}" in cli("db", "upgrade", "--db", db_url).stdout

    path = write_csv(tmp_path / "a.csv", HEADER, [["42", "Again", "Old", ""]])
    run = run_import(path, "Account", db_url)

    assert run.rows["failed"] == 1
    assert "it probably means '000042'" in errors_of(run.report)


def test_all_zero_keys_and_zero_padded_exponents(db_url: str, tmp_path: Path) -> None:
    """`0` against a stored `000` (the database trims it to nothing), and exponents
    written `E+017` or past 99, are caught like the others."""
    seed_groups(tmp_path, db_url)
    base = write_csv(tmp_path / "b.csv", HEADER, [["000", "Zeros", "Enterprise", ""]])
    assert run_import(base, "Account", db_url).exit_code == 0
    rows = [
        ["0", "One zero", "Enterprise", ""],
        ["1.23457E+017", "Padded exponent", "Enterprise", ""],
        ["1E+100", "Huge", "Enterprise", ""],
    ]
    run = run_import(write_csv(tmp_path / "z.csv", HEADER, rows), "Account", db_url)
    assert (run.rows["failed"], run.rows["created"]) == (3, 0)
    assert (
        "'0' differs from a stored account number only by leading zeros (it probably means '000')"
        in errors_of(run.report)
    )
    assert numbers(db_url) == ["000"]
