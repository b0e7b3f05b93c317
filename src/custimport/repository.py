"""Per-model persistence with Core statements: bulk look-ups and batch writes.

Look-ups take a whole batch of keys (`WHERE key IN (...)`, chunked under the
drivers' parameter limits); writes are one executemany statement per kind.
Nothing here commits or formats messages for people: the importer owns the
transaction, the row handlers own the semantics.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, Table, and_, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from custimport.models import Account, Contact, CustomerGroup

GROUP: Table = CustomerGroup.__table__  # type: ignore[assignment]
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
CONTACT: Table = Contact.__table__  # type: ignore[assignment]
IN_CHUNK = 500
StoredRow: TypeAlias = Row[*tuple[Any, ...]]

GROUP_COLUMNS = ("name", "group_type")
ACCOUNT_COLUMNS = (
    "account_number",
    "name",
    "legal_name",
    "customer_group_id",
    "parent_account_id",
    "website",
    "industry",
    "description",
)
CONTACT_COLUMNS = (
    "account_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "department",
    "is_primary",
)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, so ON CONFLICT DO NOTHING is available on both engines."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {conn.dialect.name}")


def _update_by_id(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany UPDATE ... WHERE id = ?, one statement per distinct set of columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(c for c in row if c != "id"), []).append(row)
    for columns, group in by_columns.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        conn.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in group])


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


def insert_groups(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Returns the lower-cased names actually inserted (a concurrent import may win a race)."""
    if not rows:
        return set()
    statement = _insert(conn, GROUP).on_conflict_do_nothing().returning(GROUP.c.name)
    return {name.lower() for name in conn.execute(statement, rows).scalars()}


def update_groups(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, GROUP, rows)


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


def insert_accounts(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Returns account number → new id; numbers missing from it lost a race to another import."""
    if not rows:
        return {}
    statement = (
        _insert(conn, ACCOUNT)
        .on_conflict_do_nothing()
        .returning(ACCOUNT.c.id, ACCOUNT.c.account_number)
    )
    return {row.account_number: row.id for row in conn.execute(statement, rows)}


def update_accounts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, ACCOUNT, rows)


def set_parents(conn: Connection, pairs: list[tuple[int, int]], now: datetime) -> None:
    """(child id, parent id) pairs whose parent was created in the same batch."""
    rows = [
        {"id": child, "parent_account_id": parent, "updated_at": now} for child, parent in pairs
    ]
    _update_by_id(conn, ACCOUNT, rows)


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


def insert_contacts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(CONTACT.insert(), rows)


def update_contacts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _update_by_id(conn, CONTACT, rows)


def demote_primaries(conn: Connection, account_ids: Sequence[int], now: datetime) -> None:
    """Clear the primary flag on these accounts before a new primary is written."""
    for part in chunks(account_ids):
        conn.execute(
            update(CONTACT)
            .where(CONTACT.c.account_id.in_(part), CONTACT.c.is_primary)
            .values(is_primary=False, updated_at=now)
        )
