"""Per-model persistence with Core statements: bulk look-ups and batch writes.

Look-ups take a whole batch of keys (`WHERE key IN (...)`, chunked under the
drivers' parameter limits). Writes are one executemany per kind of statement,
sent as plain SQL to the driver: compiling a SQLAlchemy statement and processing
its parameters per row cost more than the database's own work (profiled on
100,000 accounts), and SQLite and psycopg both take the same SQL apart from the
placeholder. Timestamps are handed over in each engine's own form (`stored_now`).
On PostgreSQL, batches of new accounts and contacts go in with COPY instead
(`pg_copy`): psycopg's executemany pipeline was half the time of an import of
100,000 accounts. Nothing here commits or formats messages for people: the
transaction is run/transaction.py's, the semantics are the row handlers' (rows/).
"""

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter, length_hint
from typing import Any, NamedTuple, TypeAlias

from sqlalchemy.engine import Connection

from custimport.models import utcnow
from custimport.store.db_errors import as_sqlalchemy_error, note_refused_row
from custimport.store.key_columns import group_key
from custimport.store.pg_copy import copies, copy_rows, fetch_planned_now

IN_CHUNK = 500
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


def _executemany(
    conn: Connection, sql: str, rows: list[tuple[Any, ...]], in_write_order: bool = True
) -> int:
    """Run `sql` once per row through the driver's executemany; returns rows affected.

    `in_write_order`: the rows follow the batch's writes in order, at most one each. On
    SQLite a refused row is then noted on the error (db_errors.note_refused_row), so the
    batch writer can split the batch at it: sqlite3 runs the rows as it takes them from
    the iterator, so the refused one is the last it took.
    """
    if not rows:
        return 0
    if conn.dialect.name != "sqlite":
        return int(conn.exec_driver_sql(sql, rows).rowcount)
    if not conn.in_transaction():
        conn.begin()  # the recipe's BEGIN IMMEDIATE (db.py); the driver itself never begins
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    taking = iter(rows)
    try:
        cursor.executemany(sql, taking)
        return int(cursor.rowcount)
    except sqlite3.Error as error:
        wrapped = as_sqlalchemy_error(conn, error, sql)
        if in_write_order:
            note_refused_row(wrapped, len(rows) - length_hint(taking) - 1, len(rows))
        raise wrapped from error
    finally:
        cursor.close()


def tuple_getter(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the values at `keys` (a dict's columns, a tuple's positions) as a
    tuple, always (itemgetter, in C, when it can: a generator per row cost 2 µs)."""
    if len(keys) == 1:
        only = keys[0]
        return lambda row: (row[only],)
    return itemgetter(*keys) if keys else lambda row: ()


def _insert_sql(conn: Connection, table: str, columns: Sequence[str], on_conflict: bool) -> str:
    ph = _placeholder(conn)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})"
    return sql + " ON CONFLICT DO NOTHING" if on_conflict else sql


def _insert_dicts(
    conn: Connection, table: str, rows: list[dict[str, Any]], on_conflict: bool, copy: bool
) -> int:
    """`_insert_tuples` for rows given as dicts (the columns of the first row); `copy`
    False keeps INSERT on PostgreSQL too."""
    if not rows:
        return 0
    columns = list(rows[0])
    values = list(map(tuple_getter(columns), rows))
    if copy:
        return _insert_tuples(conn, table, columns, values, on_conflict)
    return _executemany(conn, _insert_sql(conn, table, columns, on_conflict), values)


def _insert_tuples(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    on_conflict: bool,
) -> int:
    """INSERT (ON CONFLICT DO NOTHING when asked), or for a PostgreSQL batch COPY with
    the same contract; rows are tuples in `columns` order. Returns rows written."""
    if not rows:
        return 0
    if copies(conn, rows):
        return copy_rows(conn, table, columns, rows, on_conflict)
    return _executemany(conn, _insert_sql(conn, table, columns, on_conflict), rows)


def sets_only_changed(conn: Connection) -> bool:
    """Whether an update sets only the columns whose value changes, not every one given.

    SQLite rewrites an index whenever an UPDATE sets its column, even to the value it
    holds (setting an indexed column to its own value made an update of 300,000 rows
    take 1.8 times as long); there a row's look-up and write are one transaction that no
    other writer can enter, so a column left out cannot have changed meanwhile.
    PostgreSQL compares the values itself, and a look-up made ahead (run/lookahead.py)
    may be older than the write: there every given column is set, and the file wins.
    """
    return conn.dialect.name == "sqlite"


def _update_by_id(conn: Connection, table: str, rows: list[dict[str, Any]]) -> int:
    """executemany UPDATE ... WHERE id = ?, one statement per distinct set of columns."""
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:  # grouped by the dict's keys as they are (id anywhere): no loop a row
        by_keys.setdefault(tuple(row), []).append(row)
    ph = _placeholder(conn)
    changed = 0
    for keys, group in by_keys.items():
        columns = [c for c in keys if c != "id"]
        assignments = ", ".join(f"{c} = {ph}" for c in columns)
        sql = f"UPDATE {table} SET {assignments} WHERE id = {ph}"
        changed += _executemany(conn, sql, list(map(tuple_getter([*columns, "id"]), group)))
    return changed


class StoredGroup(NamedTuple):
    id: int
    name: str
    group_type: str


class StoredAccount(NamedTuple):
    """An account as planning compares it: its columns, group type and primary contact."""

    id: int
    account_number: str
    name: str
    legal_name: str | None
    customer_group_id: int
    parent_account_id: int | None
    website: str | None
    industry: str | None
    description: str | None
    group_type: str
    pc_id: int | None
    pc_first_name: str | None
    pc_last_name: str | None
    pc_email: str | None
    pc_phone: str | None
    # stored match keys (NULL: not computed): an update makes one NULL only if it is not
    name_match: str | None
    website_match: str | None
    pc_name_match: str | None
    pc_phone_match: str | None


class AccountRef(NamedTuple):
    id: int
    account_number: str
    parent_account_id: int | None
    group_type: str


class StoredContact(NamedTuple):
    id: int
    account_id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    job_title: str | None
    department: str | None
    is_primary: bool


def _fields(row_type: type[NamedTuple], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in row_type._fields)


def _rows_in(conn: Connection, sql: str, keys: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql`, whose `{keys}` slot becomes `IN (?, …)` (SQLite) or `= ANY(%b)`.

    %b sends the array in binary: psycopg wrote a text array literal in Python, which
    was a quarter of a look-up's time (2,000 account numbers: 3.4 against 4.5 µs each).
    """
    if conn.dialect.name == "sqlite":
        for part in chunks(keys):
            clause = f"IN ({', '.join('?' * len(part))})"
            yield from conn.exec_driver_sql(sql.format(keys=clause), tuple(part)).all()
    elif keys:
        yield from fetch_planned_now(conn, sql.format(keys="= ANY(%b)"), (list(keys),))


# --- customer groups -------------------------------------------------------------

GROUP_SELECT = "SELECT id, name, group_type FROM customer_group"


def all_groups(conn: Connection) -> dict[str, StoredGroup]:
    """Every group by key: groups are few, accounts look them up per row."""
    rows = conn.exec_driver_sql(GROUP_SELECT).all()
    return {group_key(row[1]): StoredGroup._make(row) for row in rows}


def find_groups(conn: Connection, keys: Sequence[str]) -> dict[str, StoredGroup]:
    """Groups by their key (models.group_key of the name)."""
    sql = GROUP_SELECT + " WHERE name_key {keys}"
    return {group_key(row[1]): StoredGroup._make(row) for row in _rows_in(conn, sql, keys)}


def insert_groups(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Returns how many were inserted: fewer means a concurrent import won a race.
    Always INSERT: COPY was made for the bulk of accounts and contacts, and a file holds
    few groups."""
    return _insert_dicts(conn, "customer_group", rows, on_conflict=True, copy=False)


def update_groups(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """How many were updated: fewer means a row was deleted since it was looked up."""
    return _update_by_id(conn, "customer_group", rows)


# --- accounts --------------------------------------------------------------------


ACCOUNT_SELECT = (
    "SELECT a.id, a.account_number, a.name, a.legal_name, a.customer_group_id, "
    "a.parent_account_id, a.website, a.industry, a.description, g.group_type, "
    "pc.id, pc.first_name, pc.last_name, pc.email, pc.phone, "
    "a.name_match, a.website_match, pc.name_match, pc.phone_match "
    "FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
    "LEFT JOIN contact pc ON pc.account_id = a.id AND pc.is_primary "
    "WHERE a.account_number {keys}"
)
REF_SELECT = (
    "SELECT a.id, a.account_number, a.parent_account_id, g.group_type "
    "FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
    "WHERE a.account_number {keys}"
)


def find_accounts(conn: Connection, numbers: Sequence[str]) -> dict[str, StoredAccount]:
    """Accounts with their group type and primary contact, by account number."""
    return {row[1]: StoredAccount._make(row) for row in _rows_in(conn, ACCOUNT_SELECT, numbers)}


def find_account_refs(conn: Connection, numbers: Iterable[str]) -> dict[str, AccountRef]:
    """id, parent id and group type by account number (parents, and contacts' accounts)."""
    return {row[1]: AccountRef._make(row) for row in _rows_in(conn, REF_SELECT, list(numbers))}


# the expression and condition of the index ix_account_number_unpadded (migration 0004):
# written exactly so, or the planners do not use it
UNPADDED = "ltrim(account_number, '0')"
ZERO_PADDED = "substr(account_number, 1, 1) = '0'"


def near_numbers(conn: Connection, unpadded: Sequence[str]) -> dict[str, list[str]]:
    """Stored account numbers by their number without leading zeros, for those values:
    the zero-padded ones by the index, the others (`123` itself) by the unique one."""
    found: dict[str, list[str]] = {}
    padded = (
        f"SELECT account_number, {UNPADDED} FROM account"
        f" WHERE {ZERO_PADDED} AND {UNPADDED} {{keys}}"
    )
    for number, bare in _rows_in(conn, padded, unpadded):
        found.setdefault(bare, []).append(number)
    plain = "SELECT account_number, account_number FROM account WHERE account_number {keys}"
    for number, bare in _rows_in(conn, plain, unpadded):
        found.setdefault(bare, []).append(number)
    return found


def has_zero_padded(conn: Connection) -> bool:
    """Whether any stored account number starts with a zero (read from the index)."""
    sql = f"SELECT 1 FROM account WHERE {ZERO_PADDED} LIMIT 1"
    return conn.exec_driver_sql(sql).first() is not None


def numbers_between(conn: Connection, low: str, high: str) -> list[str]:
    """Stored all-digit account numbers from `low` to `high`, both of one length (a key
    in scientific notation: the numbers it may stand for); at most a few are shown."""
    rows = conn.exec_driver_sql(
        "SELECT account_number FROM account WHERE account_number >= ? AND account_number <= ?"
        " AND length(account_number) = ? ORDER BY account_number LIMIT 6"
        if conn.dialect.name == "sqlite"
        else "SELECT account_number FROM account WHERE account_number >= %s"
        " AND account_number <= %s AND length(account_number) = %s"
        " ORDER BY account_number LIMIT 6",
        (low, high, len(low)),
    ).all()
    return [row[0] for row in rows if row[0].isdigit()]


def parent_ids(conn: Connection, account_ids: Sequence[int]) -> dict[int, int | None]:
    """One step up the parent chain for each id (cycle checks walk with this)."""
    sql = "SELECT id, parent_account_id FROM account WHERE id {keys}"
    return {row[0]: row[1] for row in _rows_in(conn, sql, account_ids)}


def account_ids(conn: Connection, numbers: Sequence[str]) -> dict[str, int]:
    """id by account number, for writes that name accounts this transaction inserted."""
    sql = "SELECT account_number, id FROM account WHERE account_number {keys}"
    return {row[0]: row[1] for row in _rows_in(conn, sql, numbers)}


def insert_accounts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Returns how many were inserted: fewer means a concurrent import won a race.

    On PostgreSQL a batch is one COPY, so a lost race inserts none of it and leaves
    the savepoint aborted: the caller raises LostRace at once (see `pg_copy.copy_rows`).
    """
    return _insert_dicts(conn, "account", rows, on_conflict=True, copy=True)


def update_accounts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """How many were updated: fewer means a row was deleted since it was looked up."""
    return _update_by_id(conn, "account", rows)


SET_PARENTS_PG = (
    "UPDATE account SET parent_account_id = p.id, updated_at = %s "
    "FROM unnest(%s::text[], %s::text[]) AS v(child, parent) "
    "LEFT JOIN account p ON p.account_number = v.parent "
    "WHERE account.account_number = v.child"
)


def set_parents(conn: Connection, pairs: list[tuple[str, str]], now: Stamp) -> None:
    """(child number, parent number) pairs, both written by the same transaction.

    On PostgreSQL one statement for all pairs; the LEFT JOIN keeps the subselect's
    meaning of the executemany form (an unknown parent would set NULL). A child is
    named once (one write per account), so no row is updated twice.
    """
    if conn.dialect.name == "postgresql":
        children, parents = [child for child, _ in pairs], [parent for _, parent in pairs]
        conn.exec_driver_sql(SET_PARENTS_PG, (now, children, parents))
        return
    ph = _placeholder(conn)
    sql = (
        f"UPDATE account SET parent_account_id = "
        f"(SELECT id FROM account WHERE account_number = {ph}), updated_at = {ph} "
        f"WHERE account_number = {ph}"
    )
    _executemany(conn, sql, [(parent, now, child) for child, parent in pairs])


# --- contacts --------------------------------------------------------------------


CONTACTS_BY_EMAIL_PG = (
    f"SELECT {_fields(StoredContact, 'c.')} FROM contact c "
    "WHERE c.account_id = ANY(%b) AND lower(c.email) = ANY(%b) AND c.email IS NOT NULL"
)


def find_contacts_by_email(
    conn: Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], StoredContact]:
    """Contacts by (account id, lower-cased email), joined through the unique index."""
    if conn.dialect.name == "postgresql":
        return _contacts_by_email_pg(conn, keys)
    found: dict[tuple[int, str], StoredContact] = {}
    ph = _placeholder(conn)
    for part in chunks(keys):
        values = ", ".join([f"({ph}, {ph})"] * len(part))
        sql = (
            f"WITH wanted (account_id, email) AS (VALUES {values}) "
            f"SELECT {_fields(StoredContact, 'c.')} FROM wanted JOIN contact c "
            "ON c.account_id = wanted.account_id AND lower(c.email) = wanted.email "
            "AND c.email IS NOT NULL"
        )
        params = tuple(value for key in part for value in key)
        for row in conn.exec_driver_sql(sql, params).all():
            contact = StoredContact._make(row)
            found[(contact.account_id, (contact.email or "").lower())] = contact
    return found


def _contacts_by_email_pg(
    conn: Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], StoredContact]:
    """The same as a join with the wanted pairs, in a shape PostgreSQL cannot plan badly.

    Joined with a VALUES list, the planner hash-joined a sequential scan of contact
    while the table was small, and psycopg's prepared statement kept that plan as
    the table grew: 33 ms a query, two thirds of importing 100,000 contacts. With two
    arrays the only way in is the account_id index; a contact whose email another
    account of the batch wanted is dropped here.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    account_ids = sorted({account_id for account_id, _ in wanted})
    emails = sorted({email for _, email in wanted})
    found: dict[tuple[int, str], StoredContact] = {}
    for row in fetch_planned_now(conn, CONTACTS_BY_EMAIL_PG, (account_ids, emails)):
        contact = StoredContact._make(row)
        key = (contact.account_id, (contact.email or "").lower())
        if key in wanted:
            found[key] = contact
    return found


def find_contacts_without_email(
    conn: Connection, account_ids: Sequence[int]
) -> dict[int, list[StoredContact]]:
    """Each account's contacts that have no email (they are matched by name)."""
    sql = (
        f"SELECT {_fields(StoredContact)} FROM contact WHERE email IS NULL AND account_id {{keys}}"
    )
    found: dict[int, list[StoredContact]] = {}
    for row in _rows_in(conn, sql, account_ids):
        contact = StoredContact._make(row)
        found.setdefault(contact.account_id, []).append(contact)
    return found


def insert_contact_values(
    conn: Connection, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> int:
    """Returns how many were inserted: fewer means a lost race (which on PostgreSQL has
    aborted the savepoint, see `pg_copy.copy_rows`). Rows are tuples in `columns` order."""
    return _insert_tuples(conn, "contact", columns, rows, on_conflict=True)


def insert_contacts_of(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Contacts whose account is named by `account_number` (accounts this batch inserted,
    or that have no primary contact yet); fewer inserted means an account was not found."""
    if not rows:
        return 0
    columns = [c for c in rows[0] if c != "account_number"]
    if copies(conn, rows):
        return _copy_contacts_of(conn, columns, rows)
    ph = _placeholder(conn)
    sql = (
        f"INSERT INTO contact (account_id, {', '.join(columns)}) "
        f"SELECT id, {', '.join([ph] * len(columns))} FROM account WHERE account_number = {ph}"
    )
    params = [(*(r[c] for c in columns), r["account_number"]) for r in rows]
    return _executemany(conn, sql, params)


def insert_contacts_of_new_accounts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Contacts, with their `account_id`, of accounts inserted by this very transaction:
    no account can be missing, and a refused row (a constraint added by hand, a trigger)
    reaches the batch writer as an error, as in `insert_contacts_of`."""
    return _insert_dicts(conn, "contact", rows, on_conflict=False, copy=True)


def _copy_contacts_of(conn: Connection, columns: list[str], rows: list[dict[str, Any]]) -> int:
    """COPY cannot look the account up per row: one query for the batch's ids first.

    A unique violation here is a refused row, not a race (the INSERT it replaces has
    no ON CONFLICT), so it reaches the batch writer as an IntegrityError.
    """
    ids = account_ids(conn, [r["account_number"] for r in rows])
    values = tuple_getter(columns)
    found = [(ids[r["account_number"]], *values(r)) for r in rows if r["account_number"] in ids]
    if not found:
        return 0
    return copy_rows(conn, "contact", ["account_id", *columns], found, False)


def update_contacts(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """How many were updated: fewer means a row was deleted since it was looked up."""
    return _update_by_id(conn, "contact", rows)


def demote_primaries(conn: Connection, account_ids: Sequence[int], now: Stamp) -> None:
    """Clear the primary flag on these accounts before a new primary is written.

    On PostgreSQL one statement for the batch: an UPDATE per account, even pipelined,
    was 6.4 s of importing a million contacts (a third of them primary).
    """
    if conn.dialect.name == "postgresql":
        if account_ids:
            sql = (
                "UPDATE contact SET is_primary = false, updated_at = %s "
                "WHERE account_id = ANY(%b) AND is_primary"
            )
            conn.exec_driver_sql(sql, (now, list(account_ids)))
        return
    ph = _placeholder(conn)
    sql = (
        f"UPDATE contact SET is_primary = false, updated_at = {ph} "
        f"WHERE account_id = {ph} AND is_primary"
    )
    _executemany(conn, sql, [(now, account_id) for account_id in account_ids], False)


# --- ids, for the journal ----------------------------------------------------------


def next_ids(conn: Connection, table: str, count: int) -> list[int]:
    """Ids for `count` rows about to be inserted, so the journal can name them.

    On PostgreSQL from the table's sequence (burned if the batch is rolled back, as
    inserts burn them). On SQLite the import holds the write lock from its first
    statement, so nobody else inserts until it commits: the ids after the largest.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        # one array: a row per id cost 5.5 µs an id against 0.8
        return list(conn.exec_driver_sql(next_ids_sql(conn, table), (count,)).scalar_one())
    if not conn.in_transaction():
        conn.begin()
    largest = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def next_ids_sql(conn: Connection, table: str) -> str:
    """PostgreSQL: `next_ids`' statement, whose parameter is how many ids. The sequence is
    named in it as a constant, looked up once per connection: looked up in the statement,
    the planner ran the look-up once per id (2,000 ids: 6 ms against 2; the ids of
    300,000 accounts and their 100,000 contacts: 2.1 s against 0.9)."""
    key = ("id_sequence", table)
    if key not in conn.info:
        found = conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table}', 'id')")
        conn.info[key] = found.scalar_one()
    sequence = str(conn.info[key]).replace("'", "''")
    return f"SELECT array_agg(nextval('{sequence}'::regclass)) FROM generate_series(1, %s)"


def name_new_rows(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Give the rows about to be inserted into `table` an id, if they have none yet (the
    same writes tried again in parts keep theirs)."""
    unnamed = [row for row in rows if "id" not in row]
    for row, new_id in zip(unnamed, next_ids(conn, table, len(unnamed)), strict=True):
        row["id"] = new_id


def primary_contact_ids(conn: Connection, account_ids: Sequence[int]) -> list[int]:
    """The primary contacts of these accounts (the ones a new primary demotes)."""
    sql = "SELECT id FROM contact WHERE is_primary AND account_id {keys}"
    return [row[0] for row in _rows_in(conn, sql, list(account_ids))]
