"""Per-model persistence with Core statements: bulk look-ups and batch writes.

Look-ups take a whole batch of keys (`WHERE key IN (...)`, chunked under the
drivers' parameter limits). Writes are one executemany per kind of statement,
sent as plain SQL to the driver: compiling a SQLAlchemy statement and processing
its parameters per row cost more than the database's own work (profiled on
100,000 accounts), and SQLite and psycopg both take the same SQL apart from the
placeholder. Timestamps are handed over in each engine's own form (`stored_now`).
Nothing here commits or formats messages for people: the importer owns the
transaction, the row handlers own the semantics.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, Table, and_, func, select, tuple_
from sqlalchemy.engine import Connection

from custimport.models import Account, Contact, CustomerGroup, utcnow

GROUP: Table = CustomerGroup.__table__  # type: ignore[assignment]
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
CONTACT: Table = Contact.__table__  # type: ignore[assignment]
IN_CHUNK = 500
StoredRow: TypeAlias = Row[*tuple[Any, ...]]
Stamp: TypeAlias = datetime | str  # a timestamp in the driver's own form


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def stored_now(conn: Connection) -> Stamp:
    """Now, as the driver should receive it: SQLite keeps SQLAlchemy's text format."""
    now = utcnow()
    if conn.dialect.name == "sqlite":
        return now.strftime("%Y-%m-%d %H:%M:%S.%f")
    return now


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    """Run `sql` once per row through the driver's executemany; returns rows affected."""
    if not rows:
        return 0
    return int(conn.exec_driver_sql(sql, rows).rowcount)


def _insert_many(
    conn: Connection, table: str, rows: list[dict[str, Any]], on_conflict: bool
) -> int:
    """INSERT with the columns of the first row; ON CONFLICT DO NOTHING when asked."""
    if not rows:
        return 0
    columns = list(rows[0])
    ph = _placeholder(conn)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})"
    if on_conflict:
        sql += " ON CONFLICT DO NOTHING"
    return _executemany(conn, sql, [tuple(row[c] for c in columns) for row in rows])


def _update_by_id(conn: Connection, table: str, rows: list[dict[str, Any]]) -> int:
    """executemany UPDATE ... WHERE id = ?, one statement per distinct set of columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(c for c in row if c != "id"), []).append(row)
    ph = _placeholder(conn)
    changed = 0
    for columns, group in by_columns.items():
        assignments = ", ".join(f"{c} = {ph}" for c in columns)
        sql = f"UPDATE {table} SET {assignments} WHERE id = {ph}"
        changed += _executemany(conn, sql, [(*(r[c] for c in columns), r["id"]) for r in group])
    return changed


# --- customer groups -------------------------------------------------------------


def all_groups(conn: Connection) -> dict[str, StoredRow]:
    """Every group by lower-cased name: groups are few, accounts look them up per row."""
    rows = conn.execute(select(GROUP.c.id, GROUP.c.name, GROUP.c.group_type)).all()
    return {row.name.lower(): row for row in rows}


def find_groups(conn: Connection, lower_names: Sequence[str]) -> dict[str, StoredRow]:
    found: dict[str, StoredRow] = {}
    for part in chunks(lower_names):
        statement = select(GROUP.c.id, GROUP.c.name, GROUP.c.group_type).where(
            func.lower(GROUP.c.name).in_(part)
        )
        found.update({row.name.lower(): row for row in conn.execute(statement)})
    return found


def insert_groups(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Returns how many were inserted: fewer means a concurrent import won a race."""
    return _insert_many(conn, "customer_group", rows, on_conflict=True)


def update_groups(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, "customer_group", rows)


# --- accounts --------------------------------------------------------------------


def find_accounts(conn: Connection, numbers: Sequence[str]) -> dict[str, StoredRow]:
    """Accounts with their group type and primary contact, by account number."""
    primary = CONTACT.alias("primary_contact")
    statement_base = (
        select(
            *ACCOUNT.c,
            GROUP.c.group_type,
            primary.c.id.label("pc_id"),
            primary.c.first_name.label("pc_first_name"),
            primary.c.last_name.label("pc_last_name"),
            primary.c.email.label("pc_email"),
            primary.c.phone.label("pc_phone"),
        )
        .join(GROUP, GROUP.c.id == ACCOUNT.c.customer_group_id)
        .outerjoin(primary, and_(primary.c.account_id == ACCOUNT.c.id, primary.c.is_primary))
    )
    found: dict[str, StoredRow] = {}
    for part in chunks(numbers):
        rows = conn.execute(statement_base.where(ACCOUNT.c.account_number.in_(part)))
        found.update({row.account_number: row for row in rows})
    return found


def find_account_refs(conn: Connection, numbers: Iterable[str]) -> dict[str, StoredRow]:
    """id, parent id and group type by account number (parents, and contacts' accounts)."""
    wanted = list(numbers)
    statement_base = select(
        ACCOUNT.c.id, ACCOUNT.c.account_number, ACCOUNT.c.parent_account_id, GROUP.c.group_type
    ).join(GROUP, GROUP.c.id == ACCOUNT.c.customer_group_id)
    found: dict[str, StoredRow] = {}
    for part in chunks(wanted):
        rows = conn.execute(statement_base.where(ACCOUNT.c.account_number.in_(part)))
        found.update({row.account_number: row for row in rows})
    return found


def parent_ids(conn: Connection, account_ids: Sequence[int]) -> dict[int, int | None]:
    """One step up the parent chain for each id (cycle checks walk with this)."""
    found: dict[int, int | None] = {}
    for part in chunks(account_ids):
        statement = select(ACCOUNT.c.id, ACCOUNT.c.parent_account_id).where(ACCOUNT.c.id.in_(part))
        found.update({row.id: row.parent_account_id for row in conn.execute(statement)})
    return found


def insert_accounts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Returns how many were inserted: fewer means a concurrent import won a race."""
    return _insert_many(conn, "account", rows, on_conflict=True)


def update_accounts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, "account", rows)


def set_parents(conn: Connection, pairs: list[tuple[str, str]], now: Stamp) -> None:
    """(child number, parent number) pairs, both written by the same transaction."""
    ph = _placeholder(conn)
    sql = (
        f"UPDATE account SET parent_account_id = "
        f"(SELECT id FROM account WHERE account_number = {ph}), updated_at = {ph} "
        f"WHERE account_number = {ph}"
    )
    _executemany(conn, sql, [(parent, now, child) for child, parent in pairs])


# --- contacts --------------------------------------------------------------------


def find_contacts_by_email(
    conn: Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], StoredRow]:
    """Contacts by (account id, lower-cased email)."""
    found: dict[tuple[int, str], StoredRow] = {}
    email_key = func.lower(CONTACT.c.email)
    for part in chunks(keys):
        statement = select(*CONTACT.c).where(tuple_(CONTACT.c.account_id, email_key).in_(part))
        found.update({(row.account_id, row.email.lower()): row for row in conn.execute(statement)})
    return found


def find_contacts_without_email(
    conn: Connection, account_ids: Sequence[int]
) -> dict[int, list[StoredRow]]:
    """Each account's contacts that have no email (they are matched by name)."""
    found: dict[int, list[StoredRow]] = {}
    for part in chunks(account_ids):
        statement = select(*CONTACT.c).where(
            CONTACT.c.account_id.in_(part), CONTACT.c.email.is_(None)
        )
        for row in conn.execute(statement):
            found.setdefault(row.account_id, []).append(row)
    return found


def primary_contact_ids(conn: Connection, account_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for part in chunks(account_ids):
        statement = select(CONTACT.c.account_id, CONTACT.c.id).where(
            CONTACT.c.account_id.in_(part), CONTACT.c.is_primary
        )
        found.update({row.account_id: row.id for row in conn.execute(statement)})
    return found


def insert_contacts(conn: Connection, rows: list[dict[str, Any]], on_conflict: bool) -> int:
    return _insert_many(conn, "contact", rows, on_conflict)


def insert_contacts_of(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Contacts whose account is named by `account_number` (accounts this batch inserted)."""
    if not rows:
        return 0
    columns = [c for c in rows[0] if c != "account_number"]
    ph = _placeholder(conn)
    sql = (
        f"INSERT INTO contact (account_id, {', '.join(columns)}) "
        f"SELECT id, {', '.join([ph] * len(columns))} FROM account WHERE account_number = {ph}"
    )
    params = [(*(r[c] for c in columns), r["account_number"]) for r in rows]
    return _executemany(conn, sql, params)


def update_contacts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, "contact", rows)


def demote_primaries(conn: Connection, account_ids: Sequence[int], now: Stamp) -> None:
    """Clear the primary flag on these accounts before a new primary is written."""
    ph = _placeholder(conn)
    sql = (
        f"UPDATE contact SET is_primary = false, updated_at = {ph} "
        f"WHERE account_id = {ph} AND is_primary"
    )
    _executemany(conn, sql, [(now, account_id) for account_id in account_ids])
