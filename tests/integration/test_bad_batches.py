"""Batches the database refuses part of (savepoint_write.py): each refused row fails alone, with
the database's reason, in few statements; a refusal of the whole session fails no row.

The refusals are the database's own: a CHECK constraint or a trigger added by hand, which
validation cannot know. Results are read back with SQL; statements are counted with
SQLAlchemy's savepoint event (each try of a part of a batch is one savepoint).
"""

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from psycopg.pq import Trace
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from custimport.rows.accounts import AccountHandler
from custimport.rows.contract import BatchResult
from custimport.rows.outcomes import PendingRow
from custimport.run.savepoint_write import run_batch
from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    CONTACTS_HEADER,
    account_row,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from pg_server import PostgresServer

FIELDS = frozenset({"account_number", "name", "customer_group", "parent_account"})


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def refuse_names(url: str, table: str, column: str, prefix: str) -> None:
    """The database alone refuses rows whose `column` starts with `prefix`: a CHECK
    constraint on PostgreSQL, a trigger on SQLite (which cannot add one to a table)."""
    if url.startswith("sqlite"):
        refuse_by_trigger(url, table, column, prefix)
    else:
        execute(
            url,
            f"ALTER TABLE {table} ADD CONSTRAINT refused_{column} "
            f"CHECK ({column} NOT LIKE '{prefix}%')",
        )


def refuse_by_trigger(url: str, table: str, column: str, prefix: str) -> None:
    """`refuse_names` with a trigger that raises, on both engines."""
    if url.startswith("sqlite"):
        for when in ("INSERT", "UPDATE"):
            execute(
                url,
                f"CREATE TRIGGER refuse_{table}_{when.lower()} BEFORE {when} ON {table} "
                f"WHEN NEW.{column} LIKE '{prefix}%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
        return
    execute(
        url,
        f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.{column} LIKE '{prefix}%' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$",
    )
    execute(
        url,
        f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()",
    )


@pytest.fixture
def conn(groups: str) -> Iterator[Connection]:
    engine = db.make_engine(groups)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def statements(conn: Connection, trace: Path) -> Iterator[list[int]]:
    """Counts, as the driver sees them, the statements that end a try of a part of a batch
    while the block runs (one item, set at its end): on PostgreSQL every round trip that
    ends with the server ready for the next query (libpq's protocol trace); on SQLite every
    RELEASE or ROLLBACK TO of a savepoint (sqlite3's trace callback)."""
    counted = [0]
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with trace.open("wb") as sink:
            driver.pgconn.trace(sink.fileno())
            driver.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
            try:
                yield counted
            finally:
                driver.pgconn.untrace()
        counted[0] = trace.read_bytes().count(b"\tReadyForQuery\t")
        return
    ends: list[str] = []
    driver.set_trace_callback(
        lambda sql: ends.append(sql) if sql.startswith(("RELEASE", "ROLLBACK TO")) else None
    )
    try:
        yield counted
    finally:
        driver.set_trace_callback(None)
    counted[0] = len(ends)


def account_rows(count: int, refused_every: int, start: int = 0) -> list[PendingRow]:
    """New accounts; every `refused_every`-th named so the database refuses it; every
    tenth the child of the one before it (parents in the same batch)."""
    rows = []
    for i in range(start, start + count):
        refused = refused_every and i % refused_every == refused_every - 1
        data = {
            "account_number": f"A-{i:05d}",
            "name": f"Refused {i}" if refused else f"Company {i}",
            "customer_group": "Enterprise",
            "parent_account": f"A-{i - 1:05d}" if i % 10 == 1 else None,
        }
        rows.append(PendingRow(i + 2, data, [str(v or "") for v in data.values()]))
    return rows


def assert_written_but_the_refused(
    rows: list[PendingRow], result: BatchResult, refused: set[int], url: str
) -> None:
    """The refused lines failed, each for the database's reason; the others are stored,
    with their parents."""
    assert {failure.line_no for failure in result.failures} == refused
    assert all(
        failure.errors[0][0] == "row" and "refused" in failure.errors[0][1]
        for failure in result.failures
    ), result.failures[:3]
    assert result.counts.created == len(rows) - len(refused)
    stored = fetch(
        url,
        "SELECT a.account_number, p.account_number FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY 1",
    )
    assert stored == [
        (row.data["account_number"], row.data["parent_account"])
        for row in rows
        if row.line_no not in refused
    ]


def test_rows_a_trigger_refuses_in_a_batch_of_new_accounts_fail_alone_in_few_statements(
    conn: Connection, groups: str, tmp_path: Path
) -> None:
    """2,000 new accounts, 100 of them refused: finding them took about two statements per
    refused row (the batch is split where the refused statement says it stopped), not three
    per row (which made 5% refused rows cost 10 times a clean import)."""
    refuse_by_trigger(groups, "account", "name", "Refused")
    rows = account_rows(2000, refused_every=20)
    handler = AccountHandler(conn, "create_update", FIELDS)
    with statements(conn, tmp_path / "trace") as made:
        result = run_batch(conn, handler, rows)
    conn.commit()
    refused = {row.line_no for row in rows if row.data["name"].startswith("Refused")}
    assert_written_but_the_refused(rows, result, refused, groups)
    per_refused_row = 4 if groups.startswith("postgresql") else 2  # row by row: 3 a row
    assert 100 <= made[0] <= per_refused_row * len(refused) + 40, made


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("rule", "refused_data"),
    [
        ("ALTER TABLE account ADD CONSTRAINT refused CHECK (name NOT LIKE 'Refused%')", {}),
        ("ALTER TABLE account ALTER COLUMN website SET NOT NULL", {"website": None}),
    ],
    ids=["check", "not-null"],
)
def test_rows_breaking_a_rule_added_by_hand_are_all_found_at_once(
    tmp_path: Path, postgres_url: str, rule: str, refused_data: dict[str, Any]
) -> None:
    """A CHECK constraint or a NOT NULL column: every row of the batch that breaks it is
    found with one query once the first one is refused, and the rest is written in one go."""
    seed_groups(tmp_path, postgres_url)
    execute(postgres_url, rule)
    rows = account_rows(2000, refused_every=20)
    for row in rows:
        if not row.data["name"].startswith("Refused"):
            row.data["website"] = "example.com"
        row.data.update(refused_data if row.data["name"].startswith("Refused") else {})
    refused = {row.line_no for row in rows if row.data["name"].startswith("Refused")}
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            handler = AccountHandler(conn, "create_update", FIELDS | {"website"})
            with statements(conn, tmp_path / "trace") as made:
                result = run_batch(conn, handler, rows)
            conn.commit()
    finally:
        engine.dispose()
    by_line = {failure.line_no: failure.errors for failure in result.failures}
    assert set(by_line) == refused
    assert {errors[0][0] for errors in by_line.values()} == {"row"}
    assert len({errors[0][1] for errors in by_line.values()}) == 1  # the server's own reason
    assert result.counts.created == 1900
    assert 0 < made[0] <= 20, made


def test_a_child_whose_parent_was_refused_in_its_batch_says_which_line_failed(
    conn: Connection, groups: str
) -> None:
    refuse_names(groups, "account", "name", "Refused")
    rows = account_rows(30, refused_every=0)
    rows[10].data["name"] = "Refused parent"  # A-00010, the parent of A-00011 (line 13)
    result = run_batch(conn, AccountHandler(conn, "create_update", FIELDS), rows)
    conn.commit()
    by_line = {failure.line_no: failure.errors for failure in result.failures}
    assert set(by_line) == {12, 13}
    assert by_line[13] == [
        ("parent_account", "parent account 'A-00010' was not imported (its row at line 12 failed)")
    ]


def test_refused_updates_fail_alone(tmp_path: Path, groups: str) -> None:
    """Updates are not a COPY: on PostgreSQL the statement does not say which row it
    refused, and the batch is halved until it is found."""
    before = [account_row(f"U-{i:03d}") for i in range(300)]
    first = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, before), "Account", groups)
    assert first.exit_code == 0
    refuse_names(groups, "account", "name", "Refused")
    after = [
        account_row(f"U-{i:03d}", f"Refused {i}" if i % 37 == 5 else f"Renamed {i}")
        for i in range(300)
    ]
    run = run_import(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, after), "Account", groups)
    refused = [i for i in range(300) if i % 37 == 5]
    assert run.exit_code == 1
    assert (run.rows["updated"], run.rows["failed"]) == (300 - len(refused), len(refused))
    assert fetch(groups, "SELECT count(*) FROM account WHERE name LIKE 'Renamed%'") == [
        (300 - len(refused),)
    ]
    assert fetch(groups, "SELECT count(*) FROM account WHERE name LIKE 'Account U-%'") == [
        (len(refused),)
    ]


def test_refused_primary_contacts_fail_only_their_accounts(tmp_path: Path, groups: str) -> None:
    refuse_names(groups, "contact", "first_name", "Refused")
    rows = [
        account_row(
            f"I-{i:03d}", group="Retail", first=f"Refused{i}" if i % 9 == 4 else f"F{i}", last="L"
        )
        for i in range(100)
    ]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    refused = {f"I-{i:03d}" for i in range(100) if i % 9 == 4}
    assert (run.rows["created"], run.rows["failed"]) == (100 - len(refused), len(refused))
    assert fetch(
        groups,
        "SELECT count(*), count(c.id) FROM account a LEFT JOIN contact c ON c.account_id = a.id",
    ) == [(100 - len(refused), 100 - len(refused))]
    assert not {n for (n,) in fetch(groups, "SELECT account_number FROM account")} & refused


def test_refused_contacts_fail_alone(tmp_path: Path, groups: str) -> None:
    accounts = [account_row(f"B-{i}") for i in range(5)]
    first = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, accounts), "Account", groups)
    assert first.exit_code == 0
    refuse_names(groups, "contact", "last_name", "Refused")
    rows = [
        [f"B-{i % 5}", f"F{i}", "Refused" if i % 11 == 3 else "Lee", f"c{i}@x.com", "", ""]
        for i in range(200)
    ]
    run = run_import(write_csv(tmp_path / "c.csv", CONTACTS_HEADER, rows), "Contact", groups)
    refused = sum(1 for i in range(200) if i % 11 == 3)
    assert (run.rows["created"], run.rows["failed"]) == (200 - refused, refused)
    assert fetch(groups, "SELECT count(*) FROM contact WHERE last_name = 'Lee'") == [
        (200 - refused,)
    ]


RAISING_TRIGGER_PG = """
CREATE FUNCTION refuse_vip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name LIKE 'VIP%' THEN
        RAISE EXCEPTION 'VIP accounts are entered by hand';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_vip BEFORE INSERT OR UPDATE ON account
    FOR EACH ROW EXECUTE FUNCTION refuse_vip();
"""


def test_a_trigger_that_raises_fails_its_row_with_the_triggers_message(
    tmp_path: Path, groups: str
) -> None:
    """RAISE EXCEPTION is not a constraint (SQLSTATE P0001, not class 23): it still refuses
    one row, not the import."""
    if groups.startswith("sqlite"):
        execute(
            groups,
            "CREATE TRIGGER refuse_vip BEFORE INSERT ON account WHEN NEW.name LIKE 'VIP%' "
            "BEGIN SELECT RAISE(ABORT, 'VIP accounts are entered by hand'); END",
        )
    else:
        execute(groups, RAISING_TRIGGER_PG)
    rows = [account_row(f"T-{i}", "VIP Corp" if i in (3, 7) else "") for i in range(10)]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 8, 2), run.stderr
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert log.count("VIP accounts are entered by hand") == 2


# --- a refusal of the whole session fails no row (PostgreSQL) ---------------------------


@pytest.fixture
def limited_role(tmp_path: Path, postgres_url: str, pg_server: PostgresServer) -> Iterator[str]:
    """In a database with the groups, the URL of a role that may read, insert and update,
    but not UPDATE account."""
    seed_groups(tmp_path, postgres_url)
    role, password = f"limited_{uuid.uuid4().hex[:8]}", "limited-pw"
    pg_server.admin_execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    grants = (
        f"GRANT SELECT ON alembic_version TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON customer_group, contact TO {role}",
        f"GRANT SELECT, INSERT ON account TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON import_run, import_change TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    for grant in grants:
        execute(postgres_url, grant)
    try:
        yield (
            make_url(postgres_url)
            .set(username=role, password=password)
            .render_as_string(hide_password=False)
        )
    finally:
        admin = pg_server.superuser_url(make_url(postgres_url).database or "")
        execute(admin, f"DROP OWNED BY {role}")
        pg_server.admin_execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.postgres
def test_a_privilege_missing_while_refused_rows_are_found_fails_no_row(
    tmp_path: Path, postgres_url: str, limited_role: str
) -> None:
    """The batch's COPY is refused for one row; writing the others meets an UPDATE the role
    may not make. That refuses every row alike: it ends the batch with the database's error
    (the import's report says so), instead of failing each row for it."""
    existing = write_csv(tmp_path / "e.csv", ACCOUNTS_HEADER, [account_row("A-99999", "Old")])
    assert run_import(existing, "Account", postgres_url).exit_code == 0
    refuse_names(postgres_url, "account", "name", "Refused")
    rows = account_rows(50, refused_every=7)
    rows.append(
        PendingRow(60, {**rows[0].data, "account_number": "A-99999", "parent_account": None}, [])
    )
    engine = db.make_engine(limited_role)
    try:
        with engine.connect() as conn:
            handler = AccountHandler(conn, "create_update", FIELDS)
            with pytest.raises(DBAPIError, match="permission denied for table account"):
                run_batch(conn, handler, rows)
            conn.rollback()
    finally:
        engine.dispose()
    assert fetch(postgres_url, "SELECT account_number, name FROM account") == [("A-99999", "Old")]


@pytest.mark.postgres
def test_a_privilege_revoked_mid_import_ends_it_with_a_report_and_no_failed_rows(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    """The role may update when the import starts (the check before reading passes); the
    privilege is revoked while the import waits for a lock the test holds. The next batch
    has a row only the database refuses, and the rows around it are written again without
    it, updates included: the first update refuses the whole session, which ends the
    import there (exit 1, a report saying why), and no row is failed for it."""
    seed_groups(tmp_path, postgres_url)
    before = [account_row("L-0"), *(account_row(f"E-{i}") for i in range(10))]
    existing = write_csv(tmp_path / "l.csv", ACCOUNTS_HEADER, before)
    assert run_import(existing, "Account", postgres_url).exit_code == 0
    refuse_names(postgres_url, "account", "name", "Refused")
    role = f"revoked_{uuid.uuid4().hex[:8]}"
    pg_server.admin_execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'revoked-pw'").format(sql.Identifier(role))
    )
    admin = pg_server.superuser_url(make_url(postgres_url).database or "")
    for grant in (
        f"GRANT SELECT ON alembic_version TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON customer_group, account, contact TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON import_run, import_change TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ):
        execute(postgres_url, grant)
    url = make_url(postgres_url).set(username=role, password="revoked-pw")
    rows = [account_row(f"R-{i:04d}") for i in range(2000)]
    rows[150] = account_row("R-0150", "Refused A")  # batch 2: refused, committed at once
    rows[500] = account_row("L-0", "New name")  # batch 6 waits for it
    rows[650] = account_row("R-0650", "Refused B")  # batch 7: refused, then updates
    rows[651:661] = [account_row(f"E-{i}", "Renamed") for i in range(10)]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custimport' "
        "AND wait_event_type = 'Lock'"
    )
    try:
        with connection_holding_lock(admin, "L-0"):
            process = subprocess.Popen(
                [COMMAND, str(path), "--model", "Account", "--db",
                 url.render_as_string(hide_password=False), "--json", "--batch-size", "100"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            wait_for(lambda: fetch(admin, waiting)[0][0] == 1, process)
            execute(postgres_url, f"REVOKE UPDATE ON account FROM {role}")
        stdout, stderr = process.communicate(timeout=300)
    finally:
        execute(admin, f"DROP OWNED BY {role}")
        pg_server.admin_execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert process.returncode == 1, stderr
    report = json.loads(stdout)
    assert "permission denied for table account" in report["aborted"], report
    assert report["rows"]["failed"] == 1 and report["completed"] is False  # line 152 only
    assert fetch(postgres_url, "SELECT count(*) FROM account WHERE account_number LIKE 'R-%'") == [
        (report["rows"]["created"],)
    ]
    assert fetch(postgres_url, "SELECT count(*) FROM account WHERE name = 'Renamed'") == [(0,)]


@contextmanager
def connection_holding_lock(url: str, number: str) -> Iterator[None]:
    """Account `number` locked by another transaction until the block ends."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT 1 FROM account WHERE account_number = :n FOR UPDATE"), {"n": number}
            )
            yield
            conn.rollback()
    finally:
        engine.dispose()


def wait_for(seen: Callable[[], bool], process: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + 60
    while not seen():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "never saw the import wait"
        time.sleep(0.02)
