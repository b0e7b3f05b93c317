"""The report tells the truth at the edges (SPEC §12.1, §12.8, §12.9) and secrets stay secret.

`--max-errors N` means N whichever stage finds the failures; option errors are one
`Error:` line; a password with an unencoded `@` is never shown, not even in part.
Each test runs the real command (in-process or as a subprocess) and checks the
database with plain SQL.
"""

import subprocess
from pathlib import Path

import pytest

from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    EXAMPLES,
    GROUPS_HEADER,
    Run,
    account_row,
    cli,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from hostile_support import assert_usage_error, error_log_entries


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def _accounts(db_url: str) -> list[str]:
    return [row[0] for row in fetch(db_url, "SELECT account_number FROM account ORDER BY 1")]


def test_max_errors_counts_failures_the_database_stage_finds(tmp_path: Path, groups: str) -> None:
    """Twenty rows that all fail on an unknown group (found while planning the write, not
    while validating): the import stops at the third, and the log holds three entries."""
    rows = [account_row(f"U-{i:02}", group="No Such Group") for i in range(20)]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", groups, "--max-errors", "3", "--error-log", tmp_path)
    assert run.exit_code == 1
    assert run.report["completed"] is False
    assert run.rows["failed"] == run.rows["read"] == 3
    assert sorted(error_log_entries(run.report["error_log"])) == [2, 3, 4]
    assert _accounts(groups) == []


def test_max_errors_takes_back_the_good_rows_after_the_nth_failure(
    tmp_path: Path, groups: str
) -> None:
    """In one batch, good rows before the Nth failure are written; the ones after it are
    not read as far as the report is concerned, and not written either."""
    rows = [
        account_row("G-1"),
        account_row("X-1", group="Nowhere"),
        account_row("G-2"),
        account_row("X-2", website="not a website"),  # a validation failure
        account_row("G-3"),
        account_row("X-3", group="Nowhere"),
        account_row("G-4"),
        account_row("X-4", group="Nowhere"),
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", groups, "--max-errors", "2", "--error-log", tmp_path)
    assert run.exit_code == 1
    assert run.report["completed"] is False and run.report["committed"] is True
    assert run.rows == {
        "read": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 2,
    }
    assert sorted(error_log_entries(run.report["error_log"])) == [3, 5]
    assert _accounts(groups) == ["G-1", "G-2"]


def test_max_errors_reached_by_a_database_refusal_stops_there(tmp_path: Path, groups: str) -> None:
    """Failures the database itself finds (a duplicate email of another contact of the same
    account, refused by the unique index) count towards the limit like the others."""
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("ACC")])
    assert run_import(path, "Account", groups).exit_code == 0
    contacts = [["account", "first_name", "last_name", "email"]]
    contacts += [["ACC", f"First{i}", "Last", f"p{i}@x.com"] for i in range(6)]
    contacts += [["NOPE", f"Gone{i}", "Last", f"g{i}@x.com"] for i in range(6)]
    contacts += [["ACC", "Late", "Row", "late@x.com"]]
    contact_file = tmp_path / "c.csv"
    write_csv(contact_file, contacts[0], contacts[1:])
    run = run_import(contact_file, "Contact", groups, "--max-errors", "4", "--error-log", tmp_path)
    assert run.exit_code == 1 and run.report["completed"] is False
    assert run.rows["failed"] == 4 and run.rows["created"] == 6
    assert len(error_log_entries(run.report["error_log"])) == 4
    emails = fetch(groups, "SELECT email FROM contact ORDER BY email")
    assert [e for (e,) in emails] == [f"p{i}@x.com" for i in range(6)]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["x.csv"], "x.csv: no such file"),  # said before a missing --model
        ([str(EXAMPLES / "customer_groups.csv")], "Missing option '--model'"),
        (["x.csv", "--model", "Account", "--batch-size", "0"], "'--batch-size'"),
        (["x.csv", "--model", "Account", "--max-errors", "-1"], "'--max-errors'"),
        (["x.csv", "--model", "Account", "--no-such-option"], "No such option"),
        (["export"], "Missing option '--model'"),
        (["export", "--model", "Account", "--bogus"], "No such option"),
        (["--model", "Account"], "no file given: name the file to import (or give --file PATH)"),
        (["a.csv", "--file", "b.csv", "--model", "Account"], "a.csv: no such file"),
        (["--file", "a.csv", "--file", "b.csv", "-m", "Account"], "a.csv: no such file"),
        (["-", "b.csv", "-m", "Account"], "standard input (-) cannot be one of several files"),
        (["--file", "", "--model", "Account"], "--file needs a file name"),
        (["db", "upgrade", "extra-argument"], "unexpected extra argument"),
    ],
)
def test_an_option_error_is_one_error_line_with_exit_2(args: list[str], fragment: str) -> None:
    in_process = cli(*args)
    assert_usage_error(in_process, fragment)
    real = subprocess.run([COMMAND, *args], capture_output=True, text=True, check=False)
    assert_usage_error(_as_run(real), fragment)


def test_a_command_group_without_a_command_shows_its_help() -> None:
    run = subprocess.run([COMMAND, "db"], capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert "upgrade" in run.stdout + run.stderr
    assert "Error" not in run.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app:Sup3r@Secret@127.0.0.1:1/crm",
        "postgresql+psycopg://app:first@second@third@localhost/crm?sslmode=disable",
    ],
)
def test_a_password_with_an_unencoded_at_is_refused_and_never_shown(
    tmp_path: Path, url: str
) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    password = url.split("://app:", 1)[1].rsplit("@", 1)[0]
    for args in (
        [path, "--model", "CustomerGroup", "--db", url],
        ["db", "current", "--db", url],
        ["export", "--model", "Account", "--db", url],
    ):
        real = subprocess.run(
            [COMMAND, *map(str, args)], capture_output=True, text=True, check=False
        )
        run = _as_run(real)
        assert_usage_error(run, "unencoded @", "%40")
        for piece in [password, *password.split("@")]:
            assert piece not in run.stdout + run.stderr, (piece, run.stderr)


def _as_run(completed: "subprocess.CompletedProcess[str]") -> Run:
    return Run(completed.returncode, completed.stdout, completed.stderr)


@pytest.mark.parametrize("spelling", [["--file"], ["import", "--file"]])
def test_the_seed_commands_file_option_imports_like_the_argument(
    sqlite_url: str, tmp_path: Path, spelling: list[str]
) -> None:
    """`import_customers --model Account --file accounts.csv` was the Django command's use."""
    path = tmp_path / "groups.csv"
    path.write_text("name,group_type\nRetail,INDIVIDUAL\n", encoding="utf-8")
    run = cli(*spelling, path, "--model", "CustomerGroup", "--db", sqlite_url, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.report["file"] == str(path) and run.rows["created"] == 1
