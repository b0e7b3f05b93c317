"""A signal while an import fills the stored match keys (SPEC §10, §12.5).

An import matching on a key (`--match-on name`) first computes the keys still NULL of
every stored account, in a transaction of its own, after its run is recorded; a million
accounts take some seconds. SIGINT, SIGTERM and SIGHUP there must be acted on like
anywhere else: the filling stops within a chunk, no row of the file is written, the
report is printed, the run is `interrupted` and the exit status is the signal's. Before,
SIGTERM and SIGHUP ended the process at once: no report, and a run left `running`.

The moment is observed: the run is recorded and the fill is under way (PostgreSQL: a
custimport backend's statement is the fill's; SQLite: the database's write lock is held,
which after the run's record is the fill's transaction).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fault_support import (
    assert_no_traceback,
    dump,
    parsed_report,
    run_command,
)

from helpers import ACCOUNTS_HEADER, execute, fetch, seed_groups, write_csv

ACCOUNTS = 40_000  # a fill of about a second on SQLite: 20 chunks, each a chance to stop
FILL_STATEMENT = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custimport' "
    "AND (query LIKE '%name_match IS NULL%' OR query LIKE 'UPDATE account SET name_match%')"
)


def stored_accounts_without_keys(tmp_path: Path, db_url: str) -> None:
    """ACCOUNTS accounts written by plain SQL, as another program would: keys NULL."""
    seed_groups(tmp_path, db_url)
    (group,) = fetch(db_url, "SELECT id FROM customer_group WHERE name = 'Enterprise'")[0]
    numbers = (
        "SELECT g AS n FROM generate_series(1, :rows) g"
        if not db_url.startswith("sqlite")
        else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :rows) "
        "SELECT n FROM s"
    )
    execute(
        db_url,
        "INSERT INTO account (account_number, name, customer_group_id, created_at, updated_at) "
        f"SELECT 'F-' || n, 'Filled Company ' || n, :group, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        f"FROM ({numbers}) numbers",
        rows=ACCOUNTS,
        group=group,
    )


def keys(db_url: str) -> dict[int, str | None]:
    return dict(fetch(db_url, "SELECT id, name_match FROM account ORDER BY id"))


def filling(db_url: str) -> bool:
    """The import's run is recorded and it is filling keys now."""
    if not fetch(db_url, "SELECT count(*) FROM import_run WHERE status = 'running'")[0][0]:
        return False
    if not db_url.startswith("sqlite"):
        return bool(fetch(db_url, FILL_STATEMENT)[0][0])
    probe = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True  # the write lock is taken: the fill's transaction
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


def interrupted_fill(tmp_path: Path, db_url: str, signum: int, code: int) -> None:
    stored_accounts_without_keys(tmp_path, db_url)
    before = dump(db_url)
    path = write_csv(
        tmp_path / "two.csv",
        ACCOUNTS_HEADER,
        [[f"N-{i}", f"New {i}", "Enterprise", "", "", "", "", "", ""] for i in (1, 2)],
    )
    args = [path, "--model", "Account", "--db", db_url, "--error-log", tmp_path]
    args += ["--match-on", "name", "--json"]

    def send(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signum)

    human = run_command(*args[:-1], when=(lambda: filling(db_url), send))  # no --json
    assert human.exit_code == code, (human.stdout, human.stderr)
    assert_no_traceback(human)
    assert "Interrupted before the first row: no row was read or written." in human.stdout
    execute(db_url, "UPDATE account SET name_match = NULL, website_match = NULL")

    run = run_command(*args, when=(lambda: filling(db_url), send))
    assert run.exit_code == code, (run.stdout, run.stderr)
    assert_no_traceback(run)
    report = parsed_report(run)
    assert report is not None, run.stderr
    assert report["completed"] is False
    assert report["rows"] == dict.fromkeys(
        ("read", "created", "updated", "unchanged", "skipped", "failed"), 0
    )
    assert dump(db_url) == before  # not a field of any record changed
    half_filled = keys(db_url)
    assert None in half_filled.values(), "the fill ran to its end: the signal was not heeded"
    status = fetch(db_url, "SELECT status FROM import_run WHERE id = :r", r=report["run"])
    assert status == [("interrupted",)]

    again = run_command(*args)
    assert again.exit_code == 0, again.stderr
    assert again.report["rows"]["created"] == 2
    filled = keys(db_url)
    assert None not in filled.values()
    # the keys the interrupted fill wrote are the keys a whole fill computes
    assert {i: k for i, k in half_filled.items() if k is not None}.items() <= filled.items()


def test_sigterm_while_keys_are_filled_stops_reports_and_exits_143(
    tmp_path: Path, db_url: str
) -> None:
    interrupted_fill(tmp_path, db_url, signal.SIGTERM, 143)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_sigint_and_sighup_while_keys_are_filled_too(
    tmp_path: Path, sqlite_url: str, signum: int, code: int
) -> None:
    interrupted_fill(tmp_path, sqlite_url, signum, code)
