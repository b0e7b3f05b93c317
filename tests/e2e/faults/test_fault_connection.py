"""A PostgreSQL connection killed in the middle of an import (SPEC §12.1).

The server ends the import's backends (pg_terminate_backend on application_name
'custimport') at an observed moment: once committed rows are visible, or, under --atomic,
once the import holds its write lock on the account table. The import then ends with
exit 1, one `Error:` line, no traceback, and a report whose counts are the database's: the
committed batches under `committed: true`, nothing at all under --atomic.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_support import (
    assert_no_traceback,
    assert_one_error_line,
    assert_report_matches_db,
    dump,
    import_args,
    parsed_report,
    rows_in,
    run_command,
)
from psycopg import sql

from helpers import ACCOUNTS_HEADER, account_row, fetch, write_csv
from hostile_support import consistency_problems, seed
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres
TOTAL = 200_000


@pytest.fixture(scope="module")
def big_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 BUSINESS accounts, every fifth the child of the one before it."""
    rows = (
        account_row(f"KC-{i:07d}", parent=f"KC-{i - 1:07d}" if i % 5 == 1 else "")
        for i in range(TOTAL)
    )
    return write_csv(tmp_path_factory.mktemp("connection") / "accounts.csv", ACCOUNTS_HEADER, rows)


def terminate_imports(server: PostgresServer) -> Callable[[subprocess.Popen[bytes]], None]:
    def act(process: subprocess.Popen[bytes]) -> None:
        server.admin_execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = {}"
            ).format(sql.Literal("custimport"))
        )

    return act


def holds_account_write_lock(db_url: str) -> Callable[[], bool]:
    """The import has written to the account table in its still open transaction."""
    return lambda: bool(
        fetch(
            db_url,
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.application_name = 'custimport' AND l.mode = 'RowExclusiveLock' "
            "AND l.relation = 'account'::regclass",
        )[0][0]
    )


def test_a_connection_killed_mid_import_leaves_a_report_that_matches_the_database(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer, big_accounts: Path
) -> None:
    seed(tmp_path, postgres_url)
    before = dump(postgres_url)
    run = run_command(
        *import_args(big_accounts, "Account", postgres_url, "--batch-size", "500"),
        when=(rows_in(postgres_url, "account"), terminate_imports(pg_server)),
    )
    assert_no_traceback(run)
    assert run.exit_code == 1, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    assert_one_error_line(run)
    assert pg_server.password not in run.stdout + run.stderr
    report = parsed_report(run)
    assert_report_matches_db(report, before, dump(postgres_url))
    assert report is not None
    assert report["committed"] is True and report["completed"] is False
    assert 0 < report["rows"]["created"] < TOTAL
    assert consistency_problems(postgres_url) == []


def test_a_connection_killed_inside_an_atomic_import_reports_nothing_committed(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer, big_accounts: Path
) -> None:
    seed(tmp_path, postgres_url)
    before = dump(postgres_url)
    run = run_command(
        *import_args(big_accounts, "Account", postgres_url, "--atomic"),
        when=(holds_account_write_lock(postgres_url), terminate_imports(pg_server)),
    )
    assert_no_traceback(run)
    assert run.exit_code == 1, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    assert_one_error_line(run)
    report = parsed_report(run)
    assert_report_matches_db(report, before, dump(postgres_url))
    assert report is not None
    assert report["committed"] is False and report["completed"] is False
