"""A database the import cannot write to is found out before the first row (SPEC §12.3).

Read-only in every way a user meets it: a SQLite URL that opens the file read-only, a SQLite
file on a read-only mount (root cannot write there either), a PostgreSQL database whose
transactions are read-only by default, and a PostgreSQL role that may only SELECT. Each is
exit 2 with one `Error:` line, no report of rows, and the database exactly as it was.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_support import (
    Dump,
    assert_one_error_line,
    dump,
    import_args,
    parsed_report,
    remount_read_only,
    run_command,
)
from psycopg import sql
from sqlalchemy.engine import make_url

from helpers import ACCOUNTS_HEADER, Run, account_row, execute, write_csv
from hostile_support import seed
from pg_server import PostgresServer

READ_ONLY = ("read-only", "read only", "readonly", "permission denied")


def valid_accounts(path: Path) -> Path:
    return write_csv(path, ACCOUNTS_HEADER, [account_row(f"RO-{i:03d}") for i in range(20)])


def assert_refused(run: Run, before: Dump, db_url: str) -> None:
    """Exit 2 before reading, one line saying why, nothing changed (read with a writable URL)."""
    assert dump(db_url) == before, "the database changed"
    assert run.exit_code == 2, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    report = parsed_report(run)
    assert report is None or report["rows"]["read"] == 0, "it read rows before refusing"
    line = assert_one_error_line(run)
    assert any(word in line.lower() for word in READ_ONLY), f"the line does not say why: {line}"


def test_a_sqlite_url_opened_read_only_is_refused_before_reading(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed(tmp_path, sqlite_url)
    path = valid_accounts(tmp_path / "accounts.csv")
    before = dump(sqlite_url)
    database = sqlite_url.removeprefix("sqlite:///")
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    run = run_command(*import_args(path, "Account", read_only))
    assert_refused(run, before, sqlite_url)


def test_a_sqlite_file_on_a_read_only_mount_is_refused_before_reading(
    tmp_path: Path, sqlite_url: str, tmpfs: Callable[..., Path]
) -> None:
    seed(tmp_path, sqlite_url)
    disk = tmpfs(4096)
    shutil.copyfile(sqlite_url.removeprefix("sqlite:///"), disk / "crm.db")
    before = dump(f"sqlite:///{disk / 'crm.db'}")
    remount_read_only(disk)
    path = valid_accounts(tmp_path / "accounts.csv")
    run = run_command(*import_args(path, "Account", f"sqlite:///{disk / 'crm.db'}"))
    # immutable: read the file as it is, without the -wal/-shm files a read-only disk forbids
    assert_refused(run, before, f"sqlite:///file:{disk / 'crm.db'}?immutable=1&uri=true")


@pytest.mark.postgres
def test_a_postgresql_database_with_read_only_transactions_is_refused_before_reading(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    seed(tmp_path, postgres_url)
    name = make_url(postgres_url).database
    assert name is not None
    pg_server.admin_execute(
        sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
            sql.Identifier(name)
        )
    )
    path = valid_accounts(tmp_path / "accounts.csv")
    before = dump(postgres_url)
    run = run_command(*import_args(path, "Account", postgres_url))
    assert_refused(run, before, postgres_url)


@pytest.mark.postgres
def test_a_postgresql_role_that_may_only_select_is_refused_before_reading(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    seed(tmp_path, postgres_url)
    role, password = f"reader_{uuid.uuid4().hex[:8]}", "reader-pw"
    pg_server.admin_execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    try:
        execute(postgres_url, f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        reader_url = (
            make_url(postgres_url)
            .set(username=role, password=password)
            .render_as_string(hide_password=False)
        )
        path = valid_accounts(tmp_path / "accounts.csv")
        before = dump(postgres_url)
        run = run_command(*import_args(path, "Account", reader_url))
        assert_refused(run, before, postgres_url)
        assert password not in run.stdout + run.stderr
    finally:
        execute(postgres_url, f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
        pg_server.admin_execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
