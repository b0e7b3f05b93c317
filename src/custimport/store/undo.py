"""The SQL of `custimport undo` (SPEC §8): read a run's journal in chunks, lock and read the
rows it names, restore their before-images, delete what the run created.

Everything is set-based and chunked along the journal's primary key (run_id, table_name,
row_id): a chunk is at most CHUNK records, read with keyset pagination (`row_id > last`),
and each statement names its rows in one IN list (SQLite) or one array (PostgreSQL). No
statement runs per row and no function holds more than a chunk, so memory stays flat
whatever the size of the run.

A current row is compared with its after-image as an image built by the same SQL
(journal.image_sql), so the formats match on each engine, and only the records whose row
no longer equals its after-image travel in full. On PostgreSQL the rows are read FOR
UPDATE: an import writing them either waits for the undo, or the undo waits for it and
then sees its committed values (reported as conflicts); it never overwrites them. On
SQLite the undo's BEGIN IMMEDIATE already keeps every other writer out.

A record an earlier undo reversed while it left others as conflicts (--skip-conflicts)
holds that undo's run in undone_by_run_id: every query here reads only the records still
to reverse (`undone_by_run_id IS NULL`, PENDING), so a later undo of the run reverses
the rest once the conflicts are resolved.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, select, update
from sqlalchemy.engine import Connection

from custimport.models import Base, ImportRun
from custimport.store.journal import IMAGE_COLUMNS, KEPT_COLUMNS, image_sql

CHUNK = 2000
# the records an undo still has to reverse (not reversed by an earlier, partial undo)
PENDING = "undone_by_run_id IS NULL"
# (referencing table, its column, what one such row is called) for each table a run creates in
REFERENCES = {
    "account": (
        ("contact", "account_id", "contact"),
        ("account", "parent_account_id", "child account"),
    ),
    "customer_group": (("account", "customer_group_id", "account"),),
    "contact": (),
}


# (column, table it refers to, what that row is called) of each table's foreign keys
FOREIGN_KEYS = {
    "account": (
        ("customer_group_id", "customer_group", "customer group"),
        ("parent_account_id", "account", "parent account"),
    ),
    "contact": (("account_id", "account", "account"),),
    "customer_group": (),
}


@dataclass(frozen=True, slots=True)
class Record:
    """One journal record with the row it names. `same`: the row holds exactly its
    after-image (stamps included); only otherwise are the key and the images read."""

    row_id: int
    same: bool
    key: str | None = None
    before: str | None = None
    after: str | None = None
    current: str | None = None  # None (when not `same`): the row is gone


class _Sql:
    """What differs between the engines: placeholders, id lists, reading an image's field."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.p = "%s" if self.pg else "?"

    def ids(self, ids: Sequence[int]) -> tuple[str, list[Any]]:
        if self.pg:
            return "= ANY(%s::integer[])", [
                list(ids)
            ]  # the columns are integer: an index condition
        return f"IN ({', '.join('?' * len(ids))})", list(ids)

    def field(self, image: str, table: str, column: str) -> str:
        """One column of an image, as SQL: text on PostgreSQL, the stored value on SQLite."""
        index = IMAGE_COLUMNS[table].index(column)
        return f"({image}::json->>{index})" if self.pg else f"json_extract({image}, '$[{index}]')"

    def flag(self, image: str, value: bool) -> str:
        """The image's is_primary equals `value` (a contact's)."""
        stored = ("'true'" if value else "'false'") if self.pg else str(int(value))
        return f"{self.field(image, 'contact', 'is_primary')} = {stored}"

    def number(self, image: str, table: str, column: str) -> str:
        value = self.field(image, table, column)
        return f"{value}::integer" if self.pg else value

    def differs(self, first: str, second: str) -> str:
        return f"{first} IS DISTINCT FROM {second}" if self.pg else f"{first} IS NOT {second}"

    def to_primary(self, alias: str) -> str:
        """The record's restore makes its contact primary again."""
        before, after = f"{alias}.before", f"{alias}.after"
        return f"coalesce({self.flag(before, True)} AND {self.flag(after, False)}, false)"


def chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- the run ------------------------------------------------------------------------


def plan_each_statement(conn: Connection) -> None:
    """PostgreSQL plans each of the undo's statements for its own values (this transaction).

    psycopg prepares a statement run five times, and the server then switches to a generic
    plan, made for no values in particular: for the chunk of current rows it was 20 to 60
    times slower (13 ms a chunk of 2,000, then 250-800 ms): a 100,000-row undo took 5x as long.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def lock_run(conn: Connection, run_id: int) -> Any | None:
    """The run's row, locked on PostgreSQL (a second undo of it waits, then sees `undone`)."""
    table = ImportRun.__table__
    statement = select(*table.c).where(table.c.id == run_id).with_for_update()
    return conn.execute(statement).first()


def mark_undone(conn: Connection, run_id: int, by_run_id: int) -> None:
    statement = update(ImportRun).where(ImportRun.id == run_id)
    conn.execute(statement.values(status="undone", undone_by_run_id=by_run_id))


def mark_partly_undone(conn: Connection, run_id: int, by_run_id: int, message: str) -> None:
    """The run keeps its status: records of it are still to reverse."""
    statement = update(ImportRun).where(ImportRun.id == run_id)
    conn.execute(statement.values(undone_by_run_id=by_run_id, message=message))


def mark_reversed(
    conn: Connection, run_id: int, table: str, ids: Sequence[int], by_run_id: int
) -> int:
    """These records of the run were reversed by the undo `by_run_id` (a chunk of ids)."""
    if not ids:
        return 0
    sql = _Sql(conn)
    where, params = sql.ids(ids)
    text = (
        f"UPDATE import_change SET undone_by_run_id = {sql.p} WHERE run_id = {sql.p} "
        f"AND table_name = {sql.p} AND row_id {where}"
    )
    return int(conn.exec_driver_sql(text, (by_run_id, run_id, table, *params)).rowcount)


def set_started(conn: Connection, run_id: int, started_at: datetime) -> None:
    """An undo records its run at its end: its start is when the undo began."""
    statement = update(ImportRun).where(ImportRun.id == run_id)
    conn.execute(statement.values(started_at=started_at))


# --- pass 1: what the rows hold now ----------------------------------------------------


def records(conn: Connection, run_id: int, table: str, after_id: int) -> list[Record]:
    """The next chunk of the run's records in `table`, after row `after_id`, with the rows
    they name (locked on PostgreSQL)."""
    chunk = (
        "SELECT row_id, row_key, before, after FROM import_change "
        "WHERE run_id = {p} AND table_name = {p} AND row_id > {p} "
        f"AND {PENDING} AND action <> 'deleted' ORDER BY row_id LIMIT {{p}}"
    )
    params = (run_id, table, after_id, CHUNK)
    if conn.dialect.name == "postgresql":
        # the rows are locked in id order (as an import's batch writes them) by a statement
        # of their own, and read by the next one, whose snapshot is taken after the locks:
        # a row an import changed while the undo waited is read as it committed it. (Read
        # in the locking statement, from a CTE, the join of 2,000 records to 2,000 locked
        # rows was planned as a nested loop over two CTE scans: 0.8 s a chunk, and an
        # undo of 30,000 created accounts took 19 s against the import's 2.2 s.)
        chunk_pg = chunk.format(p="%s")
        conn.exec_driver_sql(
            f"SELECT id FROM {table} WHERE id IN (SELECT row_id FROM ({chunk_pg}) k) "
            "ORDER BY id FOR UPDATE",
            params,
        )
        image = _as_recorded(conn, table, "x", "c.b", "c.a")
        joined = (
            "SELECT c.row_id, c.row_key, c.before, c.after, "
            f"CASE WHEN x.id IS NULL THEN NULL ELSE {image} END AS image "
            f"FROM (SELECT r.*, r.before::jsonb AS b, r.after::jsonb AS a FROM ({chunk_pg}) r) c "
            f"LEFT JOIN {table} x ON x.id = c.row_id"
        )
    else:  # a join SQLite runs as one index look-up per record (a CTE join scanned: 20x slower)
        image = _as_recorded(conn, table, "x", "c.before", "c.after")
        joined = (
            "SELECT c.row_id, c.row_key, c.before, c.after, "
            f"CASE WHEN x.id IS NULL THEN NULL ELSE {image} END AS image "
            f"FROM ({chunk.format(p='?')}) c LEFT JOIN {table} x ON x.id = c.row_id"
        )
    same = "coalesce(image = after, false)"
    text = (
        f"SELECT row_id, {same}, "
        + ", ".join(
            f"CASE WHEN {same} THEN NULL ELSE {column} END"
            for column in ("row_key", "before", "after", "image")
        )
        + f" FROM ({joined}) j ORDER BY row_id"
    )
    rows = conn.exec_driver_sql(text, params).all()
    return [Record(row[0], bool(row[1]), *row[2:]) for row in rows]


def _as_recorded(conn: Connection, table: str, row: str, before: str, after: str) -> str:
    """The image of `row` as its record's after-image is built: the whole row for a created
    record, and for an updated one NULL in the columns NULL on both sides (journal's masking
    of the columns the run left alone; a column held on both sides, KEPT_COLUMNS or a
    merge's HELD_WHEN_MOVED, is compared), so that the row holds what the run wrote exactly
    when the two texts match."""
    pg = conn.dialect.name == "postgresql"
    kept = KEPT_COLUMNS.get(table, frozenset())
    values = []
    for i, column in enumerate(IMAGE_COLUMNS[table]):
        if column in kept:
            values.append(f"{row}.{column}")
            continue
        if pg:
            alike = f"({before} ->> {i}) IS NULL AND ({after} ->> {i}) IS NULL"
        else:
            alike = (
                f"json_extract({before}, '$[{i}]') IS NULL "
                f"AND json_extract({after}, '$[{i}]') IS NULL"
            )
        masked = f"{before} IS NOT NULL AND {alike}"
        values.append(f"CASE WHEN {masked} THEN NULL ELSE {row}.{column} END")
    joined = ", ".join(values)
    return f"json_build_array({joined})::text" if pg else f"json_array({joined})"


def references(
    conn: Connection, run_id: int, table: str, low: int, high: int
) -> list[tuple[int, str | None, str, int]]:
    """Rows the run created in `table` (ids in (low, high]) that rows an undo keeps refer
    to: (id, key, what refers, how many). Rows the run created, or whose reference it
    wrote (the undo deletes or restores them), do not count."""
    sql = _Sql(conn)
    found: list[tuple[int, str | None, str, int]] = []
    for other, column, kind in REFERENCES[table]:
        moved = sql.differs(
            sql.field("k.before", other, column), sql.field("k.after", other, column)
        )
        leaves = f"k.action = 'created' OR {moved}"  # the undo deletes r or moves it back
        text = (
            f"SELECT c.row_id, c.row_key, count(*) FROM import_change c "
            f"JOIN {other} r ON r.{column} = c.row_id "
            f"WHERE c.run_id = {sql.p} AND c.table_name = {sql.p} AND c.action = 'created' "
            f"AND c.row_id > {sql.p} AND c.row_id <= {sql.p} AND c.{PENDING} "
            f"AND NOT {record_where(other, 'r.id', leaves)} "
            "GROUP BY c.row_id, c.row_key"
        )
        rows = conn.exec_driver_sql(text, (run_id, table, low, high)).all()
        found += [(row[0], row[1], kind, int(row[2])) for row in rows]
    return found


def lost_references(
    conn: Connection, run_id: int, table: str, low: int, high: int
) -> list[tuple[int, str | None, str]]:
    """Updated rows (ids in (low, high]) whose restore would point a reference the run
    changed back at a row deleted since: (id, key, what that row was called)."""
    sql = _Sql(conn)
    found: list[tuple[int, str | None, str]] = []
    for column, target, kind in FOREIGN_KEYS[table]:
        before, after = (sql.number(f"c.{side}", table, column) for side in ("before", "after"))
        text = (
            f"SELECT c.row_id, c.row_key FROM import_change c WHERE c.run_id = {sql.p} "
            f"AND c.table_name = {sql.p} AND c.action = 'updated' AND c.row_id > {sql.p} "
            f"AND c.row_id <= {sql.p} AND c.{PENDING} "
            f"AND {before} IS NOT NULL AND {sql.differs(before, after)} "
            f"AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = {before}) "
            f"AND NOT EXISTS ({reinserted(target, before)})"
        )
        rows = conn.exec_driver_sql(text, (run_id, table, low, high))
        found += [(row[0], row[1], kind) for row in rows]
    return found


def record_where(table: str, row_id: str, condition: str) -> str:
    """SQL over the record `c`: c's run has a pending record `k` of the row `row_id` (SQL)
    of `table`, and `condition` (SQL over k) holds of it. A scalar subquery by the
    journal's key, run as one index look-up per row: written as NOT EXISTS, PostgreSQL
    planned it, from the statistics of a journal that had just grown, as an anti-join over
    every record of the run (undo of 30,000 created accounts: 3.7 s of 5.9)."""
    return (
        f"coalesce((SELECT {condition} FROM import_change k WHERE k.run_id = c.run_id "
        f"AND k.table_name = '{table}' AND k.row_id = {row_id} AND k.{PENDING}), false)"
    )


def reinserted(table: str, row_id: str) -> str:
    """SQL over the record `c`: the row `row_id` (SQL) of `table` is one c's run deleted
    (`merge`), which the undo inserts again."""
    return (
        f"SELECT 1 FROM import_change d WHERE d.run_id = c.run_id AND d.table_name = '{table}' "
        f"AND d.action = 'deleted' AND d.row_id = {row_id} AND d.{PENDING}"
    )


def contact_restores(
    conn: Connection, run_id: int, low: int, high: int
) -> list[tuple[int, str | None, str | None]]:
    """Updated contacts (ids in (low, high]) whose restore needs a look: (id, key, clash).

    Every contact the restore makes primary again is listed, with clash 'primary' when its
    account has another primary contact the undo leaves primary; a contact whose e-mail
    comes back is listed (clash 'email') only when another contact of its account holds
    that e-mail and keeps it.
    """
    sql = _Sql(conn)
    # the account the contact will be in: the one the record names if the run moved it
    # (the undo moves it back), else the one it is in now (another program may have moved it)
    recorded = sql.number("c.before", "contact", "account_id")
    moved = sql.differs(recorded, sql.number("c.after", "contact", "account_id"))
    account = (
        f"(CASE WHEN {moved} THEN {recorded} "
        "ELSE (SELECT m.account_id FROM contact m WHERE m.id = c.row_id) END)"
    )
    email, after_email = (
        sql.field(f"c.{side}", "contact", "email") for side in ("before", "after")
    )
    k_email = [sql.field(f"k.{side}", "contact", "email") for side in ("before", "after")]
    leaves_primary = (
        f"k.action = 'created' OR ({sql.flag('k.before', False)} AND {sql.flag('k.after', True)})"
    )
    leaves_email = (
        f"k.action = 'created' OR {sql.differs(f'lower({k_email[0]})', f'lower({k_email[1]})')}"
    )
    kept = "AND NOT {}"  # that other contact keeps its flag or e-mail through the undo
    chunk = (
        f"FROM import_change c WHERE c.run_id = {sql.p} AND c.table_name = 'contact' "
        f"AND c.action = 'updated' AND c.row_id > {sql.p} AND c.row_id <= {sql.p} "
        f"AND c.{PENDING} "
    )
    primary = (
        f"SELECT c.row_id, c.row_key, CASE WHEN EXISTS (SELECT 1 FROM contact o "
        f"WHERE o.account_id = {account} AND o.is_primary AND o.id <> c.row_id "
        f"{kept.format(record_where('contact', 'o.id', leaves_primary))}) THEN 'primary' END "
        f"{chunk} AND {sql.to_primary('c')}"
    )
    taken = (
        f"SELECT c.row_id, c.row_key, 'email' {chunk} AND {email} IS NOT NULL "
        f"AND {sql.differs(f'lower({email})', f'lower({after_email})')} "
        f"AND EXISTS (SELECT 1 FROM contact o WHERE o.account_id = {account} "
        f"AND lower(o.email) = lower({email}) AND o.id <> c.row_id "
        f"{kept.format(record_where('contact', 'o.id', leaves_email))})"
    )
    rows = conn.exec_driver_sql(
        f"{primary} UNION ALL {taken}", (run_id, low, high, run_id, low, high)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def created_keys(
    conn: Connection, run_id: int, table: str, ids: Sequence[int]
) -> dict[int, str | None]:
    """Those of `ids` the run created in `table`, with their keys."""
    sql = _Sql(conn)
    found: dict[int, str | None] = {}
    for part in chunks(ids):
        where, params = sql.ids(part)
        text = (
            f"SELECT row_id, row_key FROM import_change WHERE run_id = {sql.p} "
            f"AND table_name = {sql.p} AND action = 'created' AND {PENDING} AND row_id {where}"
        )
        rows = conn.exec_driver_sql(text, (run_id, table, *params))
        found.update((row[0], row[1]) for row in rows)
    return found


def current_images(conn: Connection, table: str, ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    """(id, image) of those of `ids` still in `table`, read a chunk at a time."""
    sql = _Sql(conn)
    for part in chunks(ids):
        where, params = sql.ids(part)
        text = f"SELECT x.id, {image_sql(conn, table)} FROM {table} x WHERE x.id {where}"
        yield from ((row[0], row[1]) for row in conn.exec_driver_sql(text, tuple(params)).all())


def primary_restores_in(
    conn: Connection, run_id: int, account_ids: Sequence[int]
) -> list[tuple[int, str | None]]:
    """Contacts of these accounts that the undo would make primary again there: (id, key).
    Not those it moves back to another account (a merge's, undone whole or not at all)."""
    sql = _Sql(conn)
    account = [sql.number(f"c.{side}", "contact", "account_id") for side in ("before", "after")]
    condition = f"c.action = 'updated' AND {sql.to_primary('c')} AND NOT ({sql.differs(*account)})"
    return _run_contacts_of(conn, run_id, account_ids, condition)


def created_contacts_of(
    conn: Connection, run_id: int, account_ids: Sequence[int]
) -> list[tuple[int, str | None]]:
    """Contacts of these accounts that the run created (the undo would delete): (id, key)."""
    return _run_contacts_of(conn, run_id, account_ids, "c.action = 'created'")


def _run_contacts_of(
    conn: Connection, run_id: int, account_ids: Sequence[int], condition: str
) -> list[tuple[int, str | None]]:
    """(id, key) of the run's records, not yet undone, of contacts of these accounts that
    meet `condition` (SQL over the record `c`)."""
    sql = _Sql(conn)
    found: list[tuple[int, str | None]] = []
    for part in chunks(account_ids):
        where, params = sql.ids(part)
        text = (
            "SELECT c.row_id, c.row_key FROM contact o JOIN import_change c "
            f"ON c.run_id = {sql.p} AND c.table_name = 'contact' AND c.row_id = o.id "
            f"WHERE o.account_id {where} AND c.{PENDING} AND {condition}"
        )
        found += [(row[0], row[1]) for row in conn.exec_driver_sql(text, (run_id, *params))]
    return found


def primary_takers_of(
    conn: Connection, run_id: int, contact_ids: Sequence[int]
) -> list[tuple[int, str | None]]:
    """Contacts the undo would delete or demote that took the primary flag from one of these
    (the undo would make it primary again), in its account: (id, key).

    Two steps, each by key: which of these the undo would make primary again (few, often
    none), then the contacts of their accounts whose record made them primary. As one join,
    both engines' planners read every contact record of the run for each chunk (a minute
    for 40,000 contacts left in place)."""
    sql = _Sql(conn)
    demoted: list[int] = []
    for part in chunks(contact_ids):
        where, params = sql.ids(part)
        text = (
            f"SELECT row_id FROM import_change d WHERE d.run_id = {sql.p} "
            f"AND d.table_name = 'contact' AND d.action = 'updated' AND d.{PENDING} "
            f"AND d.row_id {where} AND {sql.to_primary('d')}"
        )
        demoted += conn.exec_driver_sql(text, (run_id, *params)).scalars()
    took = (
        f"((t.action = 'created' AND coalesce({sql.flag('t.after', True)}, false)) "
        f"OR coalesce({sql.flag('t.before', False)} AND {sql.flag('t.after', True)}, false))"
    )
    join = "JOIN" if sql.pg else "CROSS JOIN"  # SQLite: in the order written
    found: list[tuple[int, str | None]] = []
    for part in chunks(demoted):
        where, params = sql.ids(part)
        text = (
            f"SELECT DISTINCT t.row_id, t.row_key FROM contact dc "
            f"{join} contact tc ON tc.account_id = dc.account_id AND tc.id <> dc.id "
            f"{join} import_change t ON t.run_id = {sql.p} AND t.table_name = 'contact' "
            f"AND t.row_id = tc.id AND t.{PENDING} AND {took} WHERE dc.id {where}"
        )
        found += [(row[0], row[1]) for row in conn.exec_driver_sql(text, (run_id, *params))]
    return found


# --- pass 2: putting things back -------------------------------------------------------


def record_ids(
    conn: Connection,
    run_id: int,
    table: str,
    action: str,
    after_id: int,
    to_primary: bool = False,
) -> list[int]:
    """The next chunk of ids of the run's `action` records in `table` after `after_id`
    (those still to reverse); with `to_primary`, only contacts the restore makes primary
    again."""
    sql = _Sql(conn)
    only = f" AND {sql.to_primary('import_change')}" if to_primary else ""
    text = (
        f"SELECT row_id FROM import_change WHERE run_id = {sql.p} AND table_name = {sql.p} "
        f"AND action = {sql.p} AND row_id > {sql.p} AND {PENDING}{only} "
        f"ORDER BY row_id LIMIT {sql.p}"
    )
    return list(conn.exec_driver_sql(text, (run_id, table, action, after_id, CHUNK)).scalars())


def restore(
    conn: Connection, run_id: int, table: str, ids: Sequence[int], to_primary: bool | None = None
) -> int:
    """Set every column that differs between a record's before- and after-image back to its
    before-value (stamps included); the rows restored. `to_primary` (contacts): only the
    rows the restore makes primary again (True), or only the others (False)."""
    if not ids:
        return 0
    sql = _Sql(conn)
    where, params = sql.ids(ids)
    # the chunk's range too: the primary key bounds the scan whatever the planner believes
    # of a journal that has just grown by a million records (no statistics yet)
    params = [min(ids) - 1, max(ids), *params]
    columns = IMAGE_COLUMNS[table]
    if sql.pg:
        sets = ", ".join(
            f"{column} = CASE WHEN v.b->{i} IS DISTINCT FROM v.a->{i} "
            f"THEN (v.b->>{i}){_pg_cast(table, column)} ELSE x.{column} END"
            for i, column in enumerate(columns)
        )
        only = _pg_primary_filter(to_primary)
        text = (
            "WITH v AS MATERIALIZED (SELECT row_id, before::jsonb AS b, after::jsonb AS a "
            "FROM import_change WHERE run_id = %s AND table_name = %s AND row_id > %s "
            f"AND row_id <= %s AND action = 'updated' AND row_id {where}) "
            f"UPDATE {table} AS x SET {sets} FROM v WHERE x.id = v.row_id{only}"
        )
    else:
        sets = ", ".join(
            f"{column} = CASE WHEN json_extract(v.before, '$[{i}]') IS NOT "
            f"json_extract(v.after, '$[{i}]') THEN json_extract(v.before, '$[{i}]') "
            f"ELSE {table}.{column} END"
            for i, column in enumerate(columns)
        )
        only = "" if to_primary is None else f" AND {sql.to_primary('v')} = {int(to_primary)}"
        text = (
            f"UPDATE {table} SET {sets} FROM (SELECT row_id, before, after FROM import_change "
            "WHERE run_id = ? AND table_name = ? AND row_id > ? AND row_id <= ? "
            f"AND action = 'updated' AND row_id {where}) v "
            f"WHERE {table}.id = v.row_id{only}"
        )
    return int(conn.exec_driver_sql(text, (run_id, table, *params)).rowcount)


def _pg_cast(table: str, column: str) -> str:
    kind = Base.metadata.tables[table].c[column].type
    if isinstance(kind, Boolean):
        return "::boolean"
    if isinstance(kind, Integer):
        return "::integer"
    if isinstance(kind, DateTime):
        return "::timestamptz"
    return ""


def _pg_primary_filter(to_primary: bool | None) -> str:
    if to_primary is None:
        return ""
    i = IMAGE_COLUMNS["contact"].index("is_primary")
    becomes = f"coalesce(v.b->>{i} = 'true' AND v.a->>{i} = 'false', false)"
    return f" AND {becomes} = {'true' if to_primary else 'false'}"


def delete(conn: Connection, table: str, ids: Sequence[int]) -> int:
    """Delete rows by id; how many there were."""
    if not ids:
        return 0
    where, params = _Sql(conn).ids(ids)
    return int(
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE id {where}", tuple(params)).rowcount
    )


def clear_parents(conn: Connection, ids: Sequence[int]) -> int:
    """Accounts about to be deleted lose their parent first (children and parents may go in
    any order then)."""
    if not ids:
        return 0
    where, params = _Sql(conn).ids(ids)
    text = (
        "UPDATE account SET parent_account_id = NULL "
        f"WHERE parent_account_id IS NOT NULL AND id {where}"
    )
    return int(conn.exec_driver_sql(text, tuple(params)).rowcount)
