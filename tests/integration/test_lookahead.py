"""Look-ups made ahead on another connection (lookahead.py; PostgreSQL imports use it).

A look-up made ahead can be out of date by the time its batch is planned: another
import may have committed the same account meanwhile. These tests hand the
handler such a stale look-up and require the outcome a fresh one gives.
"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy.engine import Connection

from custimport.rows.account_links import AccountDraft
from custimport.rows.accounts import AccountHandler
from custimport.rows.outcomes import Outcome, PendingRow
from custimport.run.lookahead import Lookahead, ahead_handler
from custimport.run.prepare import PreparedBatch
from custimport.run.savepoint_write import run_batch
from custimport.store import db, repository
from helpers import ACCOUNTS_HEADER, account_row, fetch, run_import, seed_groups, write_csv

PRESENT = frozenset({"account_number", "name", "customer_group"})


@pytest.fixture
def conn(tmp_path: Path, db_url: str) -> Iterator[Connection]:
    """A database holding account A-1 (committed), and a connection to import with."""
    yield from _connected(tmp_path, db_url)


@pytest.fixture
def pg_conn(tmp_path: Path, postgres_url: str) -> Iterator[Connection]:
    """`conn`, on PostgreSQL only."""
    yield from _connected(tmp_path, postgres_url)


def _connected(tmp_path: Path, db_url: str) -> Iterator[Connection]:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1", "Old name")])
    assert run_import(path, "Account", db_url).rows["created"] == 1
    engine = db.make_engine(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def rows_for(*numbers_and_names: tuple[str, str]) -> list[PendingRow]:
    return [
        PendingRow(line, {"account_number": n, "name": name, "customer_group": "Enterprise"}, [])
        for line, (n, name) in enumerate(numbers_and_names, start=2)
    ]


def stale_draft(handler: AccountHandler, conn: Connection, rows: list[PendingRow]) -> AccountDraft:
    """Rows planned as if the database were empty: a look-up made before anything was
    committed."""
    return handler.draft(rows, existing={}, parents={}, now=repository.stored_now(conn))


def test_a_stale_look_up_that_missed_an_account_becomes_an_update(
    conn: Connection, db_url: str
) -> None:
    """Looked up before A-1 was committed: the insert loses the race, the batch is planned
    again with a fresh look-up, and A-1 is updated, not failed or doubled."""
    handler = AccountHandler(conn, "create_update", PRESENT)
    rows = rows_for(("A-1", "New name"), ("A-2", "Second"))
    handler.prefetched(stale_draft(handler, conn, rows))
    result = run_batch(conn, handler, rows)
    conn.commit()
    assert (result.counts.created, result.counts.updated, result.failures) == (1, 1, [])
    assert fetch(db_url, "SELECT account_number, name FROM account ORDER BY 1") == [
        ("A-1", "New name"),
        ("A-2", "Second"),
    ]


def test_a_look_up_made_ahead_serves_its_own_rows_once(conn: Connection) -> None:
    handler = AccountHandler(conn, "create_update", PRESENT)
    rows = rows_for(("A-1", "New name"))
    handler.prefetched(stale_draft(handler, conn, rows))  # planned as a create, once
    assert [w.outcome for w in handler.plan(conn, rows, final=True).writes] == [Outcome.CREATED]
    assert [w.outcome for w in handler.plan(conn, rows, final=True).writes] == [Outcome.UPDATED]
    handler.prefetched(stale_draft(handler, conn, rows))
    same_rows_other_list = list(rows)  # e.g. rows planned again after waiting for a parent
    planned = handler.plan(conn, same_rows_other_list, final=True)
    assert [w.outcome for w in planned.writes] == [Outcome.UPDATED]


class RecordingHandler:
    """Stands in for a handler: records which thread looked up and what planning got."""

    def __init__(self) -> None:
        self.look_up_threads: list[str] = []
        self.prefetched_for: list[tuple[int, Any]] = []

    def look_up(self, conn: Connection, rows: list[PendingRow]) -> Any:
        self.look_up_threads.append(threading.current_thread().name)
        return [row.line_no for row in rows]

    def prefetched(self, found: Any) -> None:
        self.prefetched_for.append((found[0], found))


def batches(count: int) -> Iterator[PreparedBatch]:
    for line in range(2, 2 + count):
        yield PreparedBatch([PendingRow(line, {}, [])])


def test_lookahead_hands_out_every_batch_in_order_with_its_own_look_up(
    conn: Connection,
) -> None:
    handler = RecordingHandler()
    lookahead = Lookahead(conn, handler)
    try:
        handed_out = [batch.rows[0].line_no for batch in lookahead.batches(batches(3))]
    finally:
        lookahead.close()
    assert handed_out == [2, 3, 4]
    assert handler.prefetched_for == [(2, [2]), (3, [3]), (4, [4])]
    assert all(name.startswith("custimport-lookup") for name in handler.look_up_threads)
    assert lookahead.held_back is False


def test_lookahead_says_when_a_batch_it_read_was_never_handed_out(conn: Connection) -> None:
    """An import stopped after batch 2 had already read batch 3 to look it up: the
    pipeline must not report the file complete."""
    lookahead = Lookahead(conn, RecordingHandler())
    try:
        handed_out = lookahead.batches(batches(3))
        assert next(handed_out).rows[0].line_no == 2
        handed_out.close()
    finally:
        lookahead.close()
    assert lookahead.held_back is True


def test_only_postgresql_account_imports_look_ahead(conn: Connection) -> None:
    handler = AccountHandler(conn, "create_update", PRESENT)
    expected = handler if conn.dialect.name == "postgresql" else None
    assert ahead_handler(conn, handler) is expected
    assert ahead_handler(conn, object()) is None


@pytest.mark.postgres
def test_an_import_allowed_one_connection_goes_on_without_looking_ahead(
    tmp_path: Path, postgres_url: str, pg_server: Any
) -> None:
    """A server or pooler may allow each client a single connection: the second one the
    look-ahead wants is refused, and the import runs as it did before look-ahead."""
    seed_groups(tmp_path, postgres_url)
    database = postgres_url.rsplit("/", 1)[1]
    pg_server.admin_execute(
        sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 1").format(sql.Identifier(database))
    )
    rows = [account_row(f"A-{i}", parent="A-0" if i else "") for i in range(7)]
    path = write_csv(tmp_path / "one.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", postgres_url, "--batch-size", "2")
    assert (run.exit_code, run.rows["created"]) == (0, 7), run.stderr
    assert fetch(postgres_url, "SELECT count(parent_account_id) FROM account") == [(6,)]


@pytest.mark.postgres
def test_a_look_up_stuck_behind_a_schema_change_gives_way(
    pg_conn: Connection, postgres_url: str
) -> None:
    """The import's transaction holds a lock, a schema change queues behind it, and the
    look-ahead's SELECT queues behind the schema change: had the look-ahead waited, the
    import (waiting for it) would hang. It gives up, and the batch is planned on the
    import's own connection."""
    conn = pg_conn
    handler = AccountHandler(conn, "create_update", PRESENT)
    rows = rows_for(("A-2", "Second"))
    run_batch(conn, handler, rows)  # the import's open transaction now locks `account`
    schema_change = threading.Thread(target=_add_column_to_account, args=(postgres_url,))
    schema_change.start()
    try:
        _wait_until_waiting_for_a_lock(conn)
        lookahead = Lookahead(conn, handler)
        try:
            later = rows_for(("A-3", "Third"))
            handed_out = list(lookahead.batches(iter([PreparedBatch(later)])))
        finally:
            lookahead.close()
        assert [batch.rows for batch in handed_out] == [later]
        assert handler.plan(conn, later, final=True).writes[0].outcome is Outcome.CREATED
    finally:
        conn.rollback()  # lets the schema change through
        schema_change.join(timeout=30)
    assert not schema_change.is_alive()


def _add_column_to_account(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.begin() as other:
            other.exec_driver_sql("ALTER TABLE account ADD COLUMN note text")
    finally:
        engine.dispose()


def _wait_until_waiting_for_a_lock(conn: Connection) -> None:
    """Until the ALTER TABLE waits for the lock the import's transaction holds."""
    engine = conn.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        for _attempt in range(300):
            waiting = watcher.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'ALTER TABLE account%%'"
            ).scalar()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the schema change never waited for its lock")


WITH_PARENT = PRESENT | {"parent_account"}


def rows_with_parents(*number_name_parent: tuple[str, str, str | None]) -> list[PendingRow]:
    return [
        PendingRow(
            line,
            {
                "account_number": n,
                "name": name,
                "customer_group": "Enterprise",
                "parent_account": p,
            },
            [],
        )
        for line, (n, name, p) in enumerate(number_name_parent, start=10)
    ]


def test_a_parent_a_draft_could_not_see_is_found_before_the_batch_is_written(
    conn: Connection, db_url: str
) -> None:
    """A draft made on another connection misses the parents this import wrote and has
    not committed yet. Planned for real, such rows get their parent at once (they do
    not wait for the end of the file), and a row that changes nothing is unchanged."""
    handler = AccountHandler(conn, "create_update", WITH_PARENT)
    first = rows_with_parents(("P-1", "Parent", None), ("C-1", "Child", "P-1"))
    run_batch(conn, handler, first)  # uncommitted: a second connection cannot see P-1
    rows = rows_with_parents(
        ("C-1", "Child", "P-1"),  # as stored: unchanged
        ("C-2", "Second child", "P-1"),
        ("A-1", "Old name", "C-2"),  # its parent is created by this very batch
    )
    existing = {k: v for k, v in repository.find_accounts(conn, ["C-1", "A-1"]).items()}
    draft = handler.draft(rows, existing, parents={}, now=repository.stored_now(conn))
    assert set(draft.batch.parent_numbers) == {"C-1", "C-2", "A-1"}  # none seen
    handler.prefetched(draft)
    plan = handler.plan(conn, rows, final=False)
    assert (plan.counts.unchanged, plan.deferred, plan.failures) == (1, [], [])
    assert [w.number for w in plan.writes] == ["C-2", "A-1"]  # in file order
    result = run_batch(conn, handler, rows)  # no draft now: the same plan, written
    conn.commit()
    assert (result.counts.created, result.counts.updated, result.counts.unchanged) == (1, 1, 1)
    assert fetch(
        db_url,
        "SELECT a.account_number, p.account_number FROM account a "
        "JOIN account p ON p.id = a.parent_account_id ORDER BY 1",
    ) == [("A-1", "C-2"), ("C-1", "P-1"), ("C-2", "P-1")]
