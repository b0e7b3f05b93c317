"""An export ended part-way by a signal or by its database (SPEC §12.5, §2 style).

The real command exports 200,000 accounts in a subprocess. Each test waits until the file
being written is seen to exist and grow (polling its size: the `.part` file beside the
output, or, for XLSX, openpyxl's sheet file in the export's own TMPDIR, until the last stage
zips it into the `.part` file), then injures it: SIGINT, SIGTERM or SIGHUP, a value SQLite
cannot decode further into the table, or `pg_terminate_backend`. Each must end with its exit
status (130, 143, 129; 2 for the database), exactly one `Error:` line, no traceback, and
no file of customer data left anywhere: not the output, not a `.part`, not openpyxl's.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from helpers import COMMAND, EXAMPLES, execute, run_import
from pg_server import PostgresServer

TOTAL = 200_000
FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
SIGNALS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
HEEDED_WITHIN = 5.0  # seconds from the signal to the exit: SPEC says one, the machine is shared
# 200,000 accounts of about 160 bytes each, in the examples' Partners group
FILL_ACCOUNTS = (
    "INSERT INTO account (account_number, name, legal_name, customer_group_id, website, "
    "industry, description, created_at, updated_at) "
    "SELECT 'SIG-' || n, 'Signal test account ' || n, 'Signal Test Holding ' || n, "
    "(SELECT id FROM customer_group WHERE name = 'Partners'), 'www.example.com', 'Testing', "
    "'An account made for the signal tests, number ' || n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
    "FROM {numbers}"
)
SQLITE_NUMBERS = (
    f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {TOTAL}) "
    "SELECT n FROM s) AS numbers"
)
PG_NUMBERS = f"generate_series(1, {TOTAL}) AS n"


def filled(db_url: str, numbers: str) -> str:
    run = run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", db_url)
    assert run.exit_code == 0, run.stderr
    execute(db_url, FILL_ACCOUNTS.format(numbers=numbers))
    return db_url


@pytest.fixture(scope="module")
def big_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database of 200,000 accounts; tests export from it or from a copy."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    filled(f"sqlite:///{path}", SQLITE_NUMBERS)
    return path


@pytest.fixture
def big_postgres(postgres_url: str) -> str:
    """A PostgreSQL database of 200,000 accounts."""
    return filled(postgres_url, PG_NUMBERS)


@dataclass
class Export:
    """A running `custimport export` and the places it may leave files in."""

    process: subprocess.Popen[str]
    output: Path
    temp: Path  # its TMPDIR, where openpyxl keeps the sheet until it zips it

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in (*self.output.parent.iterdir(), *self.temp.iterdir()))

    def finish(self) -> tuple[int, list[str]]:
        _, err = self.process.communicate(timeout=120)
        return self.process.returncode, err.strip().splitlines()


@pytest.fixture
def start_export(tmp_path: Path) -> Iterator[Callable[..., Export]]:
    started: list[subprocess.Popen[str]] = []

    def start(db_url: str, fmt: str, *, to_stdout: bool = False) -> Export:
        folder, temp = tmp_path / "out", tmp_path / "tmp"
        folder.mkdir()
        temp.mkdir()
        output = folder / f"accounts.{fmt}"
        args = [COMMAND, "export", "--model", "Account", "--db", db_url, "--format", fmt]
        env = {k: v for k, v in os.environ.items() if k != "CUSTIMPORT_DATABASE_URL"}
        stdout = (folder / "stdout").open("w") if to_stdout else subprocess.DEVNULL
        process = subprocess.Popen(
            args if to_stdout else [*args, "-o", str(output)],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "TMPDIR": str(temp)},
        )
        started.append(process)
        return Export(process, folder / "stdout" if to_stdout else output, temp)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def data_files(export: Export, *, zipping: bool = False) -> list[Path]:
    """The files the export is writing now: what the output will be made of."""
    if export.output.name == "stdout":
        return [export.output]
    parts = list(export.output.parent.glob(f".{export.output.name}.*.part"))
    if export.output.suffix == ".xlsx" and not zipping:
        return list(export.temp.iterdir())  # the sheet, before the last stage zips it
    return parts


def _size(path: Path) -> int:
    """0 for a file that is gone: openpyxl's temporary sheet may vanish between look-ups."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def wait_until_growing(export: Export, files: Callable[[], list[Path]]) -> None:
    """Poll until the files exist and are seen to grow; fail if the export ends first."""
    deadline = time.monotonic() + 120
    first: int | None = None
    while time.monotonic() < deadline:
        assert export.process.poll() is None, f"the export ended first: {export.finish()}"
        size = sum(map(_size, files()))
        if first is not None and size > first:
            return
        if size > 0 and first is None:
            first = size
        time.sleep(0.005)  # a polling interval, not a guess at timing
    pytest.fail("the export was not seen writing within two minutes")


def assert_ended(export: Export, code: int, *fragments: str) -> None:
    """Exit `code`, stderr exactly one `Error:` line holding the fragments, no file left."""
    exit_code, lines = export.finish()
    assert exit_code == code, (exit_code, lines)
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    expected = ["stdout"] if export.output.name == "stdout" else []
    assert export.leftovers() == expected


# --- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_signal_ends_an_export_with_its_status_one_line_and_no_file_left(
    big_sqlite: Path, start_export: Callable[..., Export], name: str, fmt: str
) -> None:
    export = start_export(f"sqlite:///{big_sqlite}", fmt)
    wait_until_growing(export, lambda: data_files(export))
    sent = time.monotonic()
    export.process.send_signal(getattr(signal, name))
    assert_ended(
        export,
        SIGNALS[name],
        f"Error: export interrupted by {name}: nothing was written to {export.output}",
    )
    assert time.monotonic() - sent < HEEDED_WITHIN


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_signal_ends_an_export_from_postgresql_streaming_through_its_server_side_cursor(
    big_postgres: str, start_export: Callable[..., Export], fmt: str
) -> None:
    export = start_export(big_postgres, fmt)
    wait_until_growing(export, lambda: data_files(export))
    export.process.send_signal(signal.SIGTERM)
    assert_ended(export, 143, "Error: export interrupted by SIGTERM: nothing was written")


def test_a_signal_while_xlsx_zips_its_sheet_is_heeded_too(
    big_sqlite: Path, start_export: Callable[..., Export], tmp_path: Path
) -> None:
    """A quarter of the table, so the sheet is written sooner; zipping it still takes long
    enough for its file to be seen growing (SIGTERM is heeded by the output's writes here)."""
    smaller = tmp_path / "smaller.db"
    shutil.copy(big_sqlite, smaller)
    with sqlite3.connect(smaller) as connection:
        connection.execute(f"DELETE FROM account WHERE id > {TOTAL // 4}")
    export = start_export(f"sqlite:///{smaller}", "xlsx")
    wait_until_growing(export, lambda: data_files(export, zipping=True))
    sent = time.monotonic()
    export.process.send_signal(signal.SIGTERM)
    assert_ended(export, 143, "export interrupted by SIGTERM")
    assert time.monotonic() - sent < HEEDED_WITHIN


def test_a_signal_to_an_export_on_stdout_says_the_output_is_incomplete(
    big_sqlite: Path, start_export: Callable[..., Export]
) -> None:
    export = start_export(f"sqlite:///{big_sqlite}", "jsonl", to_stdout=True)
    wait_until_growing(export, lambda: data_files(export))
    export.process.send_signal(signal.SIGTERM)
    assert_ended(export, 143, "Error: export interrupted by SIGTERM: the output is incomplete")


def test_an_ignored_sighup_stays_ignored_as_under_nohup(
    big_sqlite: Path, start_export: Callable[..., Export]
) -> None:
    db = f"sqlite:///{big_sqlite}"
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited by the child
    try:
        export = start_export(db, "csv")
    finally:
        signal.signal(signal.SIGHUP, previous)
    wait_until_growing(export, lambda: data_files(export))
    export.process.send_signal(signal.SIGHUP)
    assert export.finish() == (0, [f"Exported {TOTAL:,} Account records as csv to {export.output}"])
    assert export.leftovers() == [export.output.name]


# --- the database fails part-way ----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_value_sqlite_cannot_decode_part_way_ends_the_export_with_one_line(
    big_sqlite: Path, start_export: Callable[..., Export], tmp_path: Path, fmt: str
) -> None:
    """The 20,000th record holds bytes that are not UTF-8: ten fetches have been written."""
    broken = tmp_path / "broken.db"
    shutil.copy(big_sqlite, broken)
    with sqlite3.connect(broken) as connection:
        connection.execute(
            "UPDATE account SET description = CAST(X'41FF42' AS TEXT) WHERE account_number = "
            "'SIG-20000'"
        )
    export = start_export(f"sqlite:///{broken}", fmt)
    assert_ended(export, 2, "Error: cannot use the database", "Could not decode to UTF-8")


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_killed_connection_ends_an_export_with_one_line_and_no_file(
    big_postgres: str, pg_server: PostgresServer, start_export: Callable[..., Export], fmt: str
) -> None:
    export = start_export(big_postgres, fmt)
    wait_until_growing(export, lambda: data_files(export))
    pg_server.admin_execute(
        sql.SQL(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'custimport' AND datname = {}"
        ).format(sql.Literal(make_url(big_postgres).database))
    )
    # the driver's words depend on when it notices: "terminating connection …" or "server
    # closed the connection unexpectedly"
    assert_ended(export, 2, "Error: cannot use the database")
