"""The command line itself: help, version, default command, usage errors (SPEC §2)."""

import os
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from custimport.store.db import SCHEMA_HEAD
from helpers import (
    ACCOUNTS_HEADER,
    EXAMPLES,
    GROUPS_HEADER,
    account_row,
    cli,
    fetch,
    run_import,
    write_csv,
)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["import"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["runs"],
        ["runs", "show"],
        ["runs", "prune"],
        ["undo"],
    ],
)
def test_every_command_has_help_text(command: list[str]) -> None:
    run = cli(*command, "--help")
    assert run.exit_code == 0
    assert "Usage:" in run.stdout
    assert "Example:" in run.stdout or "Commands" in run.stdout


def test_version_is_printed() -> None:
    run = cli("--version")
    assert run.exit_code == 0
    assert run.stdout.strip() == f"custimport {version('custimport')}"


def test_file_first_means_import(tmp_path: Path, sqlite_url: str) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    spelled_out = cli("import", path, "--model", "CustomerGroup", "--db", sqlite_url, "--json")
    default = cli(path, "--model", "customergroup", "--db", sqlite_url, "--json")
    assert spelled_out.exit_code == default.exit_code == 0
    assert default.report["rows"]["unchanged"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "Invoice"], "unknown model 'Invoice'"),
        (["--mode", "upsert"], "unknown mode 'upsert'"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, sqlite_url: str, args: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    base = ["--model", "CustomerGroup"] if "--model" not in args else []
    run = cli(path, *base, *args, "--db", sqlite_url)
    assert run.exit_code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_missing_file_exits_2_and_creates_no_database(tmp_path: Path, sqlite_url: str) -> None:
    run = cli(tmp_path / "absent.csv", "--model", "Account", "--db", sqlite_url)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: ")
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "custimport.db").exists()


def test_required_columns_missing_stop_before_any_row(tmp_path: Path, sqlite_url: str) -> None:
    path = write_csv(tmp_path / "a.csv", ["account_number", "nam"], [["A", "x"]])
    run = cli(path, "--model", "Account", "--db", sqlite_url)
    assert run.exit_code == 2
    assert (
        "required columns missing: name, customer_group (did you mean 'nam' for name?)"
        in run.stderr
    )


def test_a_bad_mapping_is_a_usage_error_listing_the_valid_fields(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A")])
    mapping = tmp_path / "m.json"
    mapping.write_text('{"name": "id"}', encoding="utf-8")
    run = cli(path, "--model", "Account", "--db", sqlite_url, "--mapping", mapping)
    assert run.exit_code == 2
    assert "valid fields: account_number, name, legal_name" in run.stderr


def test_header_only_file_exits_0(tmp_path: Path, sqlite_url: str) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [])
    run = run_import(path, "CustomerGroup", sqlite_url)
    assert run.exit_code == 0
    assert run.rows["read"] == 0


def test_unknown_columns_are_listed_once(tmp_path: Path, sqlite_url: str) -> None:
    path = write_csv(
        tmp_path / "g.csv", [*GROUPS_HEADER, "Colour", "Size"], [["R", "BUSINESS", "red", "L"]]
    )
    run = run_import(path, "CustomerGroup", sqlite_url)
    assert run.report["unknown_columns"] == ["Colour", "Size"]


def test_schema_behind_is_refused_with_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["R", "BUSINESS"]])
    assert run_import(path, "CustomerGroup", sqlite_url).exit_code == 0
    from helpers import execute

    execute(sqlite_url, "UPDATE alembic_version SET version_num = '0000'")
    run = cli(path, "--model", "CustomerGroup", "--db", sqlite_url)
    assert run.exit_code == 2
    assert "run `custimport db upgrade`" in run.stderr
    assert fetch(sqlite_url, "SELECT count(*) FROM customer_group") == [(1,)]


def test_db_upgrade_and_current_on_a_new_database(sqlite_url: str) -> None:
    upgraded = cli("db", "upgrade", "--db", sqlite_url)
    assert upgraded.exit_code == 0
    assert f"upgraded from an empty database to {SCHEMA_HEAD}" in upgraded.stdout
    current = cli("db", "current", "--db", sqlite_url)
    assert f"revision {SCHEMA_HEAD} (latest {SCHEMA_HEAD}, up to date)" in current.stdout
    again = cli("db", "upgrade", "--db", sqlite_url)
    assert f"already at revision {SCHEMA_HEAD}" in again.stdout


def test_database_url_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone:hunter2-secret@127.0.0.1:1/nowhere"
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["R", "BUSINESS"]])
    run = cli(path, "--model", "CustomerGroup", "--db", url)
    assert run.exit_code == 2
    assert "hunter2-secret" not in run.stderr + run.stdout
    assert "someone:***@127.0.0.1:1/nowhere" in run.stderr


def test_unsupported_database_url_is_a_usage_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["R", "BUSINESS"]])
    run = cli(path, "--model", "CustomerGroup", "--db", "nosuchdb://x/y")
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: ")


@pytest.mark.parametrize("folder", ["/proc/custimport-nope", "/dev/null/sub"])
def test_sqlite_in_a_folder_that_cannot_exist_is_a_clear_usage_error(folder: str) -> None:
    run = cli(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        f"sqlite:///{folder}/c.db",
    )
    assert run.exit_code == 2
    assert "does not exist" in run.stderr or "not a directory" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_missing_folder_in_an_explicit_url_is_refused_and_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'crm.db'}"
    run = cli(EXAMPLES / "customer_groups.csv", "--model", "CustomerGroup", "--db", url)
    assert run.exit_code == 2
    assert run.stderr.strip() == f"Error: the database folder {tmp_path / 'typo'} does not exist"
    assert not (tmp_path / "typo").exists()


def test_a_ctrl_c_while_the_libraries_load_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """The signal is sent once SQLAlchemy is seen to have loaded (`-X importtime` prints
    each import as it completes), while the command line's modules are still loading.
    The file is a named pipe nobody writes, so wherever the signal lands the command is
    still waiting, never finished."""
    never = tmp_path / "never.csv"
    os.mkfifo(never)
    command = [sys.executable, "-X", "importtime", "-m", "custimport", str(never), "-m", "Account"]
    command += ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert process.stderr is not None
    for line in process.stderr:
        if line.split("|")[-1].strip() == "sqlalchemy":
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130
    said = [line for line in rest.splitlines() if not line.startswith("import time:")]
    assert said == ["Error: interrupted"]
