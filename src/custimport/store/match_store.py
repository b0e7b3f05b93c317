"""The stored match keys (SPEC §10): normalised names, website hosts and phones, kept in
columns (an account's indexed) so that `--match-on` and `--account-ref` look a batch up
by key.

The keys are computed in Python (rows/match_keys.py: NFKC, case folding, IDNA), so no
database can keep them in step by itself. The rule: NULL means "not computed yet". A
write that changes a key's source (a name, a website, a phone) sets the key NULL, or
to its new value when the import is matching on keys anyway; a create leaves it NULL
(an import of a million accounts by account_number pays nothing for keys it may never
need), and so do other programs. Before an import looks rows up by key, `fill_keys`
computes every NULL key, a chunk at a time, found in one pass over the table (the
key indexes hold computed keys only, so that a create adds nothing to them). An
empty key (a name of punctuation only, no website) is stored as '' so it is not
computed again. Undo recomputes the keys of the rows it restores (`refresh_keys`).
Which keys there are, and how each is computed, is the rows layer's (rows/matching.py
STORED_KEYS, from rows/match_keys.py), handed in by the caller.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from custimport.store.repository import (
    ACCOUNT_SELECT,
    REF_SELECT,
    AccountRef,
    StoredAccount,
    StoredContact,
)

FILL_CHUNK = 2000  # rows read and updated at a time: a batch of the import
IN_CHUNK = 500

# a table's key columns → (their source columns, the function computing them from those)
TableKeys = Mapping[str, tuple[tuple[str, ...], Callable[..., str]]]


def _ph(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def fill_keys(
    conn: Connection, keys: Mapping[str, TableKeys], stopped: Callable[[], bool] = lambda: False
) -> int:
    """Compute the keys of every row of these tables that has a key NULL (rows written
    since by a path that does not compute them); returns how many rows were filled.
    `stopped` is asked between chunks: a signal ends the filling within a chunk (a
    million accounts take some seconds), leaving the keys of the chunks done, which are
    derived data and right. Used by migration 0005 too."""
    return sum(_fill_table(conn, table, columns, stopped) for table, columns in keys.items())


def _fill_table(
    conn: Connection, table: str, columns: TableKeys, stopped: Callable[[], bool]
) -> int:
    """Rows with a key NULL, found in one pass over the table by id (the key indexes
    hold only keys computed: an index entry for every NULL slowed every create of the
    imports that do not match), every key of a row written at once."""
    ph = _ph(conn)
    sources = sorted({source for wanted, _ in columns.values() for source in wanted})
    sets = ", ".join(f"{column} = {ph}" for column in columns)
    update = f"UPDATE {table} SET {sets} WHERE id = {ph}"
    unset = " OR ".join(f"{column} IS NULL" for column in columns)
    select = (
        f"SELECT id, {', '.join(sources)} FROM {table} "
        f"WHERE ({unset}) AND id > {ph} ORDER BY id LIMIT {FILL_CHUNK}"
    )
    filled, last = 0, 0
    keys_of = _keys_getter(columns, sources)
    while not stopped() and (rows := conn.exec_driver_sql(select, (last,)).all()):
        conn.exec_driver_sql(update, list(map(keys_of, rows)))
        filled += len(rows)
        last = rows[-1][0]
    return filled


def _keys_getter(
    columns: TableKeys, sources: list[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function giving (each key, id) of a row read as (id, its sources); for the usual
    one key of one column, without a loop a row (a first --match-on over a million
    accounts fills a million keys)."""
    if len(columns) == 1:
        ((wanted, compute),) = columns.values()
        if len(wanted) == 1:
            return lambda row: (compute(row[1]), row[0])
    positions = {source: i for i, source in enumerate(sources, start=1)}
    plan = [([positions[w] for w in wanted], compute) for wanted, compute in columns.values()]
    return lambda row: (*(compute(*[row[i] for i in at]) for at, compute in plan), row[0])


def refresh_keys(
    conn: Connection, table: str, columns: TableKeys | None, ids: Sequence[int]
) -> None:
    """Recompute the keys of these rows from their current values (undo restored them).
    A key that is NULL stays NULL: it is computed when a match needs it."""
    if not columns or not ids:
        return
    sources = sorted({source for wanted, _ in columns.values() for source in wanted})
    ph = _ph(conn)
    sets = ", ".join(f"{column} = {ph}" for column in columns)
    update = f"UPDATE {table} SET {sets} WHERE id = {ph}"
    select = f"SELECT id, {', '.join([*columns, *sources])} FROM {table} WHERE id "
    for part in _chunks(ids):
        marks = ", ".join([ph] * len(part))
        rows = conn.exec_driver_sql(f"{select} IN ({marks})", tuple(part)).all()
        values = [_fresh_keys(columns, sources, row) for row in rows]
        if values:
            conn.exec_driver_sql(update, values)


def _fresh_keys(
    columns: TableKeys,
    sources: list[str],
    row: Sequence[Any],
) -> tuple[Any, ...]:
    """(each key, id) for a row read as (id, its keys, its sources)."""
    stored = row[1 : 1 + len(columns)]
    by_source = dict(zip(sources, row[1 + len(columns) :], strict=True))
    keys = [
        None if old is None else compute(*map(by_source.get, wanted))
        for old, (wanted, compute) in zip(stored, columns.values(), strict=True)
    ]
    return (*keys, row[0])


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _select_by_key(conn: Connection, select: str, keys: Sequence[Any]) -> Iterator[Any]:
    ph = _ph(conn)
    for part in _chunks(keys):
        marks = ", ".join([ph] * len(part))
        yield from conn.exec_driver_sql(select.format(keys=f"IN ({marks})"), tuple(part)).all()


def accounts_by_key(
    conn: Connection, column: str, keys: Sequence[str]
) -> Iterator[tuple[StoredAccount, str | None, str | None]]:
    """Accounts (as the import compares them) whose key `column` is one of `keys`, each with
    that key and, for name_match, its website_match (name,website compares both)."""
    other = "website_match" if column == "name_match" else "NULL"
    select = ACCOUNT_SELECT.replace(
        "WHERE a.account_number {keys}", f"WHERE a.{column} {{keys}}"
    ).replace(" FROM account a", f", a.{column}, a.{other} FROM account a", 1)
    select = select.replace("a.NULL", "NULL")
    width = len(StoredAccount._fields)
    for row in _select_by_key(conn, select, keys):
        yield StoredAccount._make(row[:width]), row[width], row[width + 1]


def account_refs_by_key(
    conn: Connection, column: str, keys: Sequence[str]
) -> Iterator[tuple[AccountRef, str]]:
    """(account, its key) for the accounts whose key `column` is one of `keys`."""
    select = REF_SELECT.replace("WHERE a.account_number {keys}", f"WHERE a.{column} {{keys}}")
    select = select.replace(" FROM account a", f", a.{column} FROM account a", 1)
    for row in _select_by_key(conn, select, keys):
        yield AccountRef._make(row[:-1]), row[-1]


def contacts_by_key(
    conn: Connection, column: str, account_ids: Sequence[int]
) -> dict[tuple[int, str], list[StoredContact]]:
    """The contacts of these accounts by (account id, key `column`), through the index on
    account_id (an account's contacts are few; a key may be common across accounts)."""
    fields = ", ".join(StoredContact._fields)
    select = f"SELECT {fields}, {column} FROM contact WHERE account_id {{keys}}"
    found: dict[tuple[int, str], list[StoredContact]] = {}
    for row in _select_by_key(conn, select, list(account_ids)):
        contact = StoredContact._make(row[:-1])
        found.setdefault((contact.account_id, row[-1]), []).append(contact)
    return found
