"""The SQL of `custimport merge` (SPEC §10): read the two records and what hangs on them,
write a merge plan's updates, delete the merged rows.

Reads lock what they read on PostgreSQL (FOR UPDATE): an import changing one of these
rows waits for the merge, or the merge for it, and the plan is made from committed
values. On SQLite the merge's BEGIN IMMEDIATE keeps every other writer out already.
A merge touches one account's rows: a statement per row is plenty.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, text, update
from sqlalchemy.engine import Connection

from custimport.models import Base

ACCOUNT_SELECT = (
    "SELECT a.id, a.account_number, a.name, a.legal_name, a.customer_group_id, "
    "a.parent_account_id, a.website, a.industry, a.description, g.name AS group_name, "
    "g.group_type, p.account_number AS parent_number FROM account a "
    "JOIN customer_group g ON g.id = a.customer_group_id "
    "LEFT JOIN account p ON p.id = a.parent_account_id WHERE a.account_number = :number"
)
CONTACT_SELECT = (
    "SELECT id, account_id, first_name, last_name, email, phone, job_title, department, "
    "is_primary FROM contact WHERE account_id = :account ORDER BY id"
)


def _locked(conn: Connection, sql: str, of: str | None = None) -> str:
    if conn.dialect.name != "postgresql":
        return sql
    return f"{sql} FOR UPDATE OF {of}" if of else f"{sql} FOR UPDATE"


def account(conn: Connection, number: str) -> dict[str, Any] | None:
    """The account with this number, with its group's name and type and its parent's
    number; None if there is none."""
    row = conn.execute(text(_locked(conn, ACCOUNT_SELECT, "a")), {"number": number}).first()
    return dict(row._mapping) if row is not None else None


def contacts_of(conn: Connection, account_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text(_locked(conn, CONTACT_SELECT)), {"account": account_id})
    return [{**row._mapping, "is_primary": bool(row.is_primary)} for row in rows]


def children_of(conn: Connection, account_id: int) -> list[dict[str, Any]]:
    sql = "SELECT id, account_number FROM account WHERE parent_account_id = :a ORDER BY id"
    return [dict(row._mapping) for row in conn.execute(text(_locked(conn, sql)), {"a": account_id})]


def ancestors(conn: Connection, account_id: int | None) -> list[int]:
    """The ids above the account (its parent, the parent's parent…). UNION stops at a row
    seen already, so a cycle that another program wrote cannot make it loop."""
    if account_id is None:
        return []
    sql = (
        "WITH RECURSIVE up(id) AS (SELECT parent_account_id FROM account WHERE id = :id "
        "UNION SELECT a.parent_account_id FROM account a JOIN up ON a.id = up.id) "
        "SELECT id FROM up WHERE id IS NOT NULL"
    )
    return [int(row[0]) for row in conn.execute(text(sql), {"id": account_id})]


def contacts_under(conn: Connection, key: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """For each way to split KEY at a `/` into an account number that exists and the rest:
    (account number, rest, that account's contacts). Account numbers may hold a `/`."""
    found = []
    for at, char in enumerate(key):
        if char != "/":
            continue
        number, rest = key[:at].strip(), key[at + 1 :].strip()
        row = conn.execute(
            text("SELECT id FROM account WHERE account_number = :n"), {"n": number}
        ).first()
        if row is not None:
            found.append((number, rest, contacts_of(conn, int(row[0]))))
    return found


def update_rows(
    conn: Connection, table: str, changes: Mapping[int, Mapping[str, Any]], now: datetime
) -> None:
    """Set each row's columns (and its updated_at)."""
    target = Base.metadata.tables[table]
    for row_id, values in changes.items():
        statement = update(target).where(target.c.id == row_id)
        conn.execute(statement.values(**values, updated_at=now))


def delete_rows(conn: Connection, table: str, ids: Sequence[int]) -> None:
    if ids:
        target = Base.metadata.tables[table]
        conn.execute(delete(target).where(target.c.id.in_(list(ids))))
