"""The journal of a run (SPEC §8): the before- and after-image of every row it writes.

Handlers call it inside their `write`, so the images are written by the same
transaction, and inside the same savepoint, as the rows: a batch rolled back takes
its journal with it, and a run killed at any moment leaves a journal that matches
what it committed.

An image is a JSON array of the row's IMAGE_COLUMNS, built by the database itself
from the row as stored (`json_array` on SQLite, `json_build_array` on PostgreSQL):
set-based, with no per-row work in Python, and exactly what the table holds. One
record per (run, table, row), the row's net change over the run. A created row's
record has the whole row as after-image and no before-image. An updated row's record
has, on both sides, the values of the columns the run changed, and NULL on both sides
for the columns it left alone (KEPT_COLUMNS excepted): the undo restores, and checks
for later changes, exactly the columns whose two sides differ. A deleted row's record
(`merge`) has the whole row as before-image and no after-image: undo inserts it again.
"""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from custimport.models import Base
from custimport.store.pg_copy import run_planned_now
from custimport.store.repository import chunks

IMAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_group": ("name", "name_key", "group_type", "created_at", "updated_at"),
    "account": (
        "account_number",
        "name",
        "legal_name",
        "customer_group_id",
        "parent_account_id",
        "website",
        "industry",
        "description",
        "created_at",
        "updated_at",
    ),
    "contact": (
        "account_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "department",
        "is_primary",
        "created_at",
        "updated_at",
    ),
}
# Bookkeeping columns: restored by undo, but a difference in them is not a change
# of the data (a conflict, a line of `runs show --changes`).
STAMP_COLUMNS = frozenset({"created_at", "updated_at"})
# the key a person knows the row by, as SQL over the row `x`
KEY_SQL = {
    "customer_group": "x.name",
    "account": "x.account_number",
    "contact": (
        "(SELECT k.account_number FROM account k WHERE k.id = x.account_id) || ' / ' || "
        "coalesce(x.email, x.first_name || ' ' || x.last_name)"
    ),
}
Line = int | None  # the file line of the row that wrote it; None for a secondary change
# Columns an update's record holds on both sides even when it left them alone: undo finds
# the account of a contact it makes primary again by it.
KEPT_COLUMNS: dict[str, frozenset[str]] = {"contact": frozenset({"account_id"})}
# Columns a merge's record of a contact it moves holds on both sides (`Journal.after`'s
# `hold`): whether the contact is primary in the account it moves to is the merge's doing
# even when the flag stays, so a later change of it is a conflict for undo (SPEC §8), as
# for a field it wrote (a flag changed since would go back to the duplicate as it is now).
HELD_WHEN_MOVED = frozenset({"is_primary"})


def image_sql(conn: Connection, table: str) -> str:
    """SQL for the JSON image of the row `x` of `table`, as text."""
    columns = ", ".join(f"x.{column}" for column in IMAGE_COLUMNS[table])
    if conn.dialect.name == "postgresql":
        return f"json_build_array({columns})::text"
    return f"json_array({columns})"


def decode_image(table: str, image: str | None) -> dict[str, Any] | None:
    """An image as {column: value}; booleans as bool on both engines (an update's record
    holds NULL on both sides for the columns it left alone)."""
    if image is None:
        return None
    values = dict(zip(IMAGE_COLUMNS[table], json.loads(image), strict=True))
    if table == "contact" and values["is_primary"] is not None:
        values["is_primary"] = bool(values["is_primary"])
    return values


class _Images:
    """The SQL of images: `masked` and `merged` are SQLite's (held rows, one record
    written once), `first_values` and `masked_by_values` PostgreSQL's (the record written
    at `before` and masked at `after`)."""

    def __init__(self, conn: Connection, table: str, hold: frozenset[str] = frozenset()) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.table = table
        self.columns = IMAGE_COLUMNS[table]
        self.kept = KEPT_COLUMNS.get(table, frozenset()) | hold

    @staticmethod
    def same(first: str, second: str) -> str:
        """SQLite: the two values are alike (NULL alike NULL)."""
        return f"{first} IS {second}"

    def element(self, image: str, index: int) -> str:
        """One value of a stored image: jsonb on PostgreSQL, the SQL value on SQLite."""
        return f"({image}::jsonb -> {index})" if self.pg else f"json_extract({image}, '$[{index}]')"

    def masked(self, side: str, old: str, new: str) -> str:
        """SQLite: the image of `side` (`old` or `new`, row aliases with the image columns): NULL
        in every column the two rows hold alike (KEPT_COLUMNS excepted)."""
        values = [
            f"{side}.{c}"
            if c in self.kept
            else f"CASE WHEN {self.same(f'{old}.{c}', f'{new}.{c}')} THEN NULL ELSE {side}.{c} END"
            for c in self.columns
        ]
        return f"json_array({', '.join(values)})"

    def first_values(self, stored: str) -> str:
        """PostgreSQL: the `before` of a record the run has already, taking one more write's
        whole-row image (`excluded.before`): its first value in each column the run changed
        so far (the two sides differ; an `after` still NULL differs from everything), the
        value now in the others. A created record keeps no before-image."""
        values = []
        for i in range(len(self.columns)):
            old_b, old_a = self.element(f"{stored}.before", i), self.element(f"{stored}.after", i)
            now = self.element("excluded.before", i)
            values.append(f"CASE WHEN {old_b} IS DISTINCT FROM {old_a} THEN {old_b} ELSE {now} END")
        built = f"jsonb_build_array({', '.join(values)})::text"
        return f"CASE WHEN {stored}.action = 'created' THEN NULL ELSE {built} END"

    def masked_by_values(self, before: str, after: str) -> tuple[str, str]:
        """PostgreSQL: (before, after) built from two whole jsonb images, NULL on both sides
        where they are alike (KEPT_COLUMNS excepted)."""
        befores, afters = [], []
        for i, column in enumerate(self.columns):
            b, a = f"({before} -> {i})", f"({after} -> {i})"
            if column in self.kept:
                befores.append(b)
                afters.append(a)
                continue
            befores.append(f"CASE WHEN {b} IS NOT DISTINCT FROM {a} THEN NULL ELSE {b} END")
            afters.append(f"CASE WHEN {b} IS NOT DISTINCT FROM {a} THEN NULL ELSE {a} END")
        build = "jsonb_build_array({})::text"
        return build.format(", ".join(befores)), build.format(", ".join(afters))

    def merged(self, stored: str, written: str) -> tuple[str, str]:
        """SQLite: (before, after) of a record the run had already (`stored`), renewed by one more
        write (`written`, that write's own record): the first value before the run and the
        last after it, NULL on both sides where they are alike. A created record's after
        becomes the whole row again."""
        befores, afters, wholes = [], [], []
        for i, column in enumerate(self.columns):
            old_b, old_a = self.element(f"{stored}.before", i), self.element(f"{stored}.after", i)
            new_b, new_a = self.element(f"{written}.before", i), self.element(f"{written}.after", i)
            if column in self.kept:
                befores.append(old_b)
                afters.append(new_a)
                wholes.append(new_a)
                continue
            first = f"CASE WHEN {self.same(old_b, old_a)} THEN {new_b} ELSE {old_b} END"
            last = f"CASE WHEN {self.same(new_b, new_a)} THEN {old_a} ELSE {new_a} END"
            alike = self.same(first, last)
            befores.append(f"CASE WHEN {alike} THEN NULL ELSE {first} END")
            afters.append(f"CASE WHEN {alike} THEN NULL ELSE {last} END")
            wholes.append(last)
        build = "json_array({})"
        created = f"{stored}.before IS NULL"
        before = f"CASE WHEN {created} THEN NULL ELSE {build.format(', '.join(befores))} END"
        after = (
            f"CASE WHEN {created} THEN {build.format(', '.join(wholes))} "
            f"ELSE {build.format(', '.join(afters))} END"
        )
        return before, after


PREVIEW_TABLE = "journal_preview"  # Journal.preview's records (import_change's columns)
PREVIEW_DDL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {PREVIEW_TABLE} (run_id INTEGER NOT NULL, "
    "table_name VARCHAR(32) NOT NULL, row_id INTEGER NOT NULL, row_key TEXT, line INTEGER, "
    "action VARCHAR(8) NOT NULL, before TEXT, after TEXT, undone_by_run_id INTEGER, "
    "PRIMARY KEY (run_id, table_name, row_id))"
)


def held_table(table: str) -> str:
    """The temporary table holding the before-images of `table`'s rows a write is updating."""
    return f"journal_held_{table}"


def _create_held(conn: Connection, table: str) -> None:
    """Its columns are the image columns with the table's own types, so that a value and
    the value written over it compare as the table's values do."""
    dialect = conn.dialect
    columns = ", ".join(
        f"{name} {Base.metadata.tables[table].c[name].type.compile(dialect=dialect)}"
        for name in IMAGE_COLUMNS[table]
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {held_table(table)} (id INTEGER PRIMARY KEY, "
        f"line INTEGER, row_key TEXT, {columns})"
    )


class Journal:
    """Writes one run's images; `None` in a handler's place means no journal (--dry-run
    and --no-undo)."""

    def __init__(self, run_id: int, target: str = "import_change") -> None:
        self.run_id = run_id
        self.target = target  # the table the records go to

    @classmethod
    def preview(cls) -> "Journal":
        """A journal kept only for this connection's life, in a temporary table
        (PREVIEW_TABLE, run 0): what an import that records no changes (--dry-run,
        --no-undo) changes, for its change file (--changes)."""
        return cls(0, PREVIEW_TABLE)

    def ready(self, conn: Connection) -> None:
        """Its table exists on `conn` (a temporary one goes with a rollback)."""
        if self.target == PREVIEW_TABLE:
            conn.exec_driver_sql(PREVIEW_DDL)

    def before(self, conn: Connection, table: str, rows: Sequence[tuple[int, Line]]) -> None:
        """(id, line) of rows about to be updated: their values now, until `after` writes
        their record (a row given twice keeps its first values). SQLite holds them in a
        temporary table (writing the record once costs a fifth less than writing it and
        then updating it); PostgreSQL writes them into the record at once (`_pg_before`),
        so that a role without TEMPORARY on the database can still import."""
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            self._pg_before(conn, table, rows)
            return
        _create_held(conn, table)
        columns = ", ".join(IMAGE_COLUMNS[table])
        values = ", ".join(f"x.{column}" for column in IMAGE_COLUMNS[table])
        for part in chunks(rows):
            sql = f"WITH w(id, line) AS (VALUES {', '.join(['(?, ?)'] * len(part))}) "
            sql += f"INSERT INTO {held_table(table)} (id, line, row_key, {columns}) "
            sql += f"SELECT x.id, w.line, {KEY_SQL[table]}, {values} FROM w JOIN {table} x "
            sql += "ON x.id = w.id WHERE true ON CONFLICT DO NOTHING"
            conn.exec_driver_sql(sql, tuple(value for row in part for value in row))

    def _pg_before(self, conn: Connection, table: str, rows: Sequence[tuple[int, Line]]) -> None:
        """The whole row as `before`, `after` NULL until `after` masks both. The rows are
        locked as they are read: another import cannot change one between its image and its
        update (READ COMMITTED would let it). A record the run has already keeps, in each
        column it changed so far, its first value (`_Images.first_values`)."""
        self.ready(conn)
        unique = list(dict(reversed(rows)).items())  # one statement cannot touch a row twice
        ids, lines = [row_id for row_id, _ in unique], [line for _, line in unique]
        sql = (
            f"INSERT INTO {self.target} (run_id, table_name, row_id, row_key, line, action, "
            f"before) SELECT %s, '{table}', x.id, {KEY_SQL[table]}, w.line, 'updated', "
            f"{image_sql(conn, table)} FROM unnest(%s::integer[], %s::integer[]) AS w(id, line) "
            f"JOIN {table} x ON x.id = w.id FOR UPDATE OF x "
            "ON CONFLICT (run_id, table_name, row_id) DO UPDATE SET "
            f"before = {_Images(conn, table).first_values(self.target)}, after = NULL, "
            f"line = coalesce({self.target}.line, excluded.line)"  # a row's own line wins
        )
        run_planned_now(conn, sql, (self.run_id, ids, lines))

    def created(self, conn: Connection, table: str, rows: Sequence[tuple[int, Line]]) -> None:
        """(id, line) of rows just inserted: their image as after-image."""
        self._whole_rows(conn, table, rows, "created", "after")

    def deleted(self, conn: Connection, table: str, rows: Sequence[tuple[int, Line]]) -> None:
        """(id, line) of rows about to be deleted (call it before the DELETE): their whole
        image as before-image, no after-image; undo inserts them again with their ids. For
        rows the run has not written before (one record per row: `merge` deletes only rows
        it leaves alone otherwise)."""
        self._whole_rows(conn, table, rows, "deleted", "before")

    def _whole_rows(
        self, conn: Connection, table: str, rows: Sequence[tuple[int, Line]], action: str, side: str
    ) -> None:
        """One record per row, its whole image on `side` (after: created; before: deleted)."""
        if not rows:
            return
        self.ready(conn)
        select = (
            f"SELECT {{p}}, '{table}', x.id, {KEY_SQL[table]}, w.line, '{action}', "
            f"{image_sql(conn, table)} FROM {{w}} JOIN {table} x ON x.id = w.id"
        )
        insert = (
            f"INSERT INTO {self.target} (run_id, table_name, row_id, row_key, line, action, "
            f"{side}) "
        )
        if conn.dialect.name == "postgresql":
            ids, lines = [row_id for row_id, _ in rows], [line for _, line in rows]
            w = "unnest(%s::integer[], %s::integer[]) AS w(id, line)"
            run_planned_now(conn, insert + select.format(p="%s", w=w), (self.run_id, ids, lines))
            return
        for part in chunks(rows):
            values = ", ".join(["(?, ?)"] * len(part))
            sql = f"WITH w(id, line) AS (VALUES {values}) " + insert + select.format(p="?", w="w")
            conn.exec_driver_sql(sql, (*(value for row in part for value in row), self.run_id))

    def after(
        self, conn: Connection, table: str, ids: Sequence[int], hold: frozenset[str] = frozenset()
    ) -> None:
        """The rows given to `before` (`ids`) are updated now: one record each, the columns
        the update changed on both sides and NULL on both for the others (an update record
        of a whole row was three times the size of the row, and made an update of a million
        accounts half as fast again), the `hold` columns on both sides whatever their values
        (HELD_WHEN_MOVED). A row the run had written before gets its record renewed: the
        first values before the run, the last after it."""
        if conn.dialect.name == "postgresql":
            self._pg_after(conn, table, ids, hold)
            return
        images = _Images(conn, table, hold)
        held = held_table(table)
        _create_held(conn, table)
        self.ready(conn)
        merged_before, merged_after = images.merged(self.target, "excluded")
        sql = (
            f"INSERT INTO {self.target} (run_id, table_name, row_id, row_key, line, action, "
            f"before, after) SELECT ?, '{table}', h.id, h.row_key, h.line, 'updated', "
            f"{images.masked('h', 'h', 'x')}, {images.masked('x', 'h', 'x')} "
            f"FROM {held} h JOIN {table} x ON x.id = h.id WHERE true "
            "ON CONFLICT (run_id, table_name, row_id) DO UPDATE SET "
            f"before = {merged_before}, after = {merged_after}, "
            f"line = coalesce({self.target}.line, excluded.line)"  # a row's own line wins
        )
        conn.exec_driver_sql(sql, (self.run_id,))
        conn.exec_driver_sql(f"DELETE FROM {held}")

    def _pg_after(
        self, conn: Connection, table: str, ids: Sequence[int], hold: frozenset[str]
    ) -> None:
        """Mask the records `_pg_before` wrote against the rows as updated; a record of a
        row the run created gets the whole row again. Driven by the key (run, table, ids)
        and planned for these ids: the statistics of a journal growing in this very
        transaction say it is nearly empty, and a join read all of the run's records of the
        table in each batch."""
        if not ids:
            return
        images = _Images(conn, table, hold)
        masked_before, masked_after = images.masked_by_values("v.b", "v.a")
        sql = (
            f"UPDATE {self.target} c SET "
            f"before = CASE WHEN c.action = 'created' THEN NULL ELSE {masked_before} END, "
            f"after = CASE WHEN c.action = 'created' THEN v.whole ELSE {masked_after} END "
            f"FROM (SELECT o.row_id, o.before::jsonb AS b, {image_sql(conn, table)} AS whole, "
            f"({image_sql(conn, table)})::jsonb AS a FROM {self.target} o "
            f"JOIN {table} x ON x.id = o.row_id WHERE o.run_id = %s AND o.table_name = %s "
            "AND o.row_id = ANY(%s::integer[])) v "
            "WHERE c.run_id = %s AND c.table_name = %s AND c.row_id = v.row_id"
        )
        params = (self.run_id, table, list(ids), self.run_id, table)
        run_planned_now(conn, sql, params)
