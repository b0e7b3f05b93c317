"""A look-up made ahead changes nothing that planning an earlier batch reads (lookahead.py).

On PostgreSQL the look-ahead thread runs `look_up` for batch N+1 while the import's own
thread plans batch N. Whatever the look-up finds (groups, rows that fail) must reach the
handler only when N+1 itself is planned: otherwise batch N is decided on rows the import
has not reached, and an import stopped after batch N blames a row its error log never
shows. The thread's order is reproduced here on SQLite by calling the handler's public
methods in that order; the outcome must be the one a single thread gives.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from custimport.rows.accounts import AccountHandler
from custimport.rows.outcomes import PendingRow
from custimport.store import db
from helpers import seed_groups

FIELDS = frozenset({"account_number", "name", "customer_group", "parent_account"})


@pytest.fixture
def conn(tmp_path: Path, sqlite_url: str) -> Iterator[Connection]:
    seed_groups(tmp_path, sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def account(line: int, number: str, group: str, parent: str | None = None) -> PendingRow:
    data = {"account_number": number, "name": number, "customer_group": group}
    return PendingRow(line, {**data, "parent_account": parent}, [])


def test_a_failure_found_ahead_does_not_decide_the_batch_before_it(conn: Connection) -> None:
    """Batch N holds child C; batch N+1 its parent P, whose group is unknown. Looked up
    ahead, P's failure must not fail C while N is planned: C waits for the file's end."""
    handler = AccountHandler(conn, "create_update", FIELDS)
    batch_n = [account(2, "C", "Enterprise", parent="P")]
    batch_n1 = [account(3, "P", "No such group")]

    handler.look_up(conn, batch_n1)  # the thread, before N is planned
    plan_n = handler.plan(conn, batch_n, final=False)

    assert plan_n.failures == []
    assert plan_n.deferred == batch_n


def test_the_failure_found_ahead_counts_once_its_own_batch_is_planned(
    conn: Connection,
) -> None:
    """The same order, to the end: P fails when N+1 is planned, and C, planned again at
    the end of the file, names P's line."""
    handler = AccountHandler(conn, "create_update", FIELDS)
    batch_n = [account(2, "C", "Enterprise", parent="P")]
    batch_n1 = [account(3, "P", "No such group")]

    ahead = handler.look_up(conn, batch_n1)
    assert handler.plan(conn, batch_n, final=False).deferred == batch_n
    handler.prefetched(ahead)
    plan_n1 = handler.plan(conn, batch_n1, final=False)
    waited = handler.plan(conn, batch_n, final=True)

    assert [(f.line_no, f.errors[0][0]) for f in plan_n1.failures] == [(3, "customer_group")]
    assert [(f.line_no, f.errors) for f in waited.failures] == [
        (2, [("parent_account", "parent account 'P' was not imported (its row at line 3 failed)")])
    ]


def test_groups_found_ahead_reach_the_handler_when_their_batch_is_planned(
    conn: Connection,
) -> None:
    """A group another import created after this one started, found by a look-up made
    ahead, is the handler's own only once that batch is planned."""
    handler = AccountHandler(conn, "create_update", FIELDS)
    known = dict(handler.groups)
    conn.exec_driver_sql(
        "INSERT INTO customer_group (name, name_key, group_type, created_at, updated_at) "
        "VALUES ('Late', 'late', 'BUSINESS', '2024-01-01', '2024-01-01')"
    )
    rows = [account(2, "L-1", "Late")]

    ahead = handler.look_up(conn, rows)
    assert handler.groups == known
    handler.prefetched(ahead)
    plan = handler.plan(conn, rows, final=False)

    assert (plan.failures, len(plan.writes)) == ([], 1)
    assert "late" in handler.groups
