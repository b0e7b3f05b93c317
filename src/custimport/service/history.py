"""`custimport runs`: the import history of SPEC §8, read and pruned.

Reading never creates anything: a SQLite file that does not exist, or a database without
custimport's tables, has no history yet (what `runs` says), rather than a new empty
database made by a command that only looks. A database whose schema is behind is refused
as imports refuse it (`db upgrade`). Reads ask SQLite for a deferred transaction
(`sqlite_deferred`), so that `runs` started during an import neither waits for its write
lock nor holds one.

A run may have a million changes: they are read in chunks of CHUNK records by key (each
chunk a short query of its own, nothing held open between them), and each chunk's ids of
groups and accounts are turned into names with one look-up per 500 ids. Pruning deletes
in chunks of PRUNE_CHUNK records per transaction, after marking its runs `pruned` in one
transaction first: a prune cut short leaves runs that can no longer be undone, never a run
that would undo only part of what it did; the next prune deletes what was left. SIGINT,
SIGTERM and SIGHUP are heeded between chunks (a chunk takes well under a second, SPEC
§12.5): the chunk in flight commits, and the prune stops, saying what it deleted.

Numbers come from the command line unchecked by size: a run number beyond the id column's
range is no run (asking the database would overflow its integer), and a number of days
beyond MAX_DAYS is refused, since the date it names cannot be computed.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Column, MetaData, Table, and_, exists, func, inspect, or_, select, update
from sqlalchemy.engine import Connection, Engine

from custimport.errors import UsageError
from custimport.models import Account, Base, CustomerGroup, ImportChange, ImportRun, utcnow
from custimport.signals import StopFlag, trapped_hangup, trapped_signals
from custimport.store import db, runs
from custimport.store.journal import IMAGE_COLUMNS, PREVIEW_TABLE, STAMP_COLUMNS
from custimport.store.repository import chunks

RUN: Table = ImportRun.__table__  # type: ignore[assignment]
CHANGE: Table = ImportChange.__table__  # type: ignore[assignment]
# Journal.preview's temporary table, read like import_change
PREVIEW: Table = Table(PREVIEW_TABLE, MetaData(), *(Column(c.name, c.type) for c in CHANGE.c))
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
GROUP: Table = CustomerGroup.__table__  # type: ignore[assignment]
CHUNK = 2000
RUN_CHUNK = 500
PRUNE_CHUNK = 20_000
MAX_RUN = 2**31 - 1  # the largest id import_run's integer column holds (on PostgreSQL too)
MAX_DAYS = 36_500  # --older-than: a hundred years; far beyond it no date can be computed
TABLE_ORDER = ("customer_group", "account", "contact")  # the order of a run's changes
HIDDEN_COLUMNS = STAMP_COLUMNS | {"name_key"}  # bookkeeping, not data people wrote
FLAG_COLUMNS = frozenset({"is_primary"})  # shown as true/false (SQLite's images hold 0/1)
# id columns shown as what people know the row by: (table, column) -> (field, looked up in)
REFERENCES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("account", "customer_group_id"): ("customer_group", "customer_group"),
    ("account", "parent_account_id"): ("parent_account", "account"),
    ("contact", "account_id"): ("account", "account"),
}
LOOKED_UP = {
    "customer_group": (GROUP.c.id, GROUP.c.name),
    "account": (ACCOUNT.c.id, ACCOUNT.c.account_number),
}


class UnknownRunError(UsageError):
    """No run with that number in this database."""

    def __init__(self, number: int) -> None:
        super().__init__(f"there is no run {number} in this database; `custimport runs` lists them")


class DamagedJournalError(UsageError):
    """A record of the run's journal holds an image that is not JSON: written by hand, since
    custimport writes them with the database's own JSON functions."""

    def __init__(self, run: int, table: str, key: str | None) -> None:
        super().__init__(
            f"run {run}'s changes cannot be read: the journal's record of {table} {key!r} "
            "holds an image that is not a JSON array (was import_change edited by hand?)"
        )


def check_run_number(number: int) -> None:
    """UnknownRunError for a number no run can have, before any database is asked."""
    if not 1 <= number <= MAX_RUN:
        raise UnknownRunError(number)


@dataclass(frozen=True)
class RunInfo:
    """One run as recorded, with the status people see (`killed`)."""

    run: int
    status: str
    model: str
    mode: str
    file: str | None
    file_size: int | None
    sha256: str | None
    mapping: Any
    options: Any
    user: str | None
    host: str | None
    pid: int | None
    version: str | None
    started_at: datetime
    finished_at: datetime | None
    journal: str
    undoes: int | None
    undone_by: int | None
    last_line: int | None  # every row up to it committed
    last_line_read: int | None  # the last line of the batches committed
    rows: dict[str, int]  # an undo's with `deleted`
    contacts: dict[str, int]
    message: str | None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


class Change(NamedTuple):
    """One changed field of one row (`field` None: the row was created, or deleted, whole;
    `after` (or `before`) then holds its fields as a JSON object). Values are text, or None
    for NULL. A tuple: a run may have millions, made one by one."""

    table: str
    key: str | None
    line: int | None
    action: str
    field: str | None
    before: str | None
    after: str | None
    row_id: int


_change = Change._make  # a Change from a tuple of its values
# A Change's values in its order, as a plain tuple: the change file takes these (a
# million-line file made a million NamedTuples: a tenth of its time)
ChangeValues = tuple[Any, ...]


@dataclass(frozen=True)
class PruneResult:
    runs: int  # runs marked pruned by this prune
    changes: int  # change records deleted
    running: list[int]  # old enough, but still running: left alone
    pending: int = 0  # runs whose changes were being deleted (marked now, or before)
    interrupted: int | None = None  # a signal stopped it between chunks: its exit status


class History:
    """The history of one database, open for reading (and pruning); `engine` None: there
    is none yet (no database, or one without custimport's tables)."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine  # writes (prune): SQLite's BEGIN IMMEDIATE
        self._reading = _reading(engine) if engine else None

    def runs(self, limit: int) -> Iterator[RunInfo]:
        """The latest `limit` runs, newest first."""
        if self._engine is None:
            return
        below: int | None = None
        while limit > 0:
            statement = select(*RUN.c).order_by(RUN.c.id.desc()).limit(min(limit, RUN_CHUNK))
            if below is not None:
                statement = statement.where(RUN.c.id < below)
            found = self._read(lambda conn, s=statement: list(conn.execute(s)))
            yield from map(_run_info, found)
            if len(found) < RUN_CHUNK:
                return
            limit -= len(found)
            below = found[-1].id

    def run(self, number: int) -> RunInfo:
        """Run `number`, or UnknownRunError."""
        check_run_number(number)
        statement = select(*RUN.c).where(RUN.c.id == number)
        found = self._read(lambda conn: conn.execute(statement).first()) if self._engine else None
        if found is None:
            raise UnknownRunError(number)
        return _run_info(found)

    def changed_rows(self, number: int) -> int:
        """How many rows the run's journal holds (created or updated)."""
        if self._engine is None:
            return 0
        counted = select(func.count()).select_from(CHANGE).where(CHANGE.c.run_id == number)
        return int(self._read(lambda conn: conn.execute(counted).scalar_one()))

    def changes(self, number: int) -> Iterator[Change]:
        """The run's changes, table by table in TABLE_ORDER (others after), rows by id."""
        return map(_change, self.change_values(number))

    def change_values(self, number: int) -> Iterator[ChangeValues]:
        """`changes` as plain tuples in Change's order, for the change file (`changes_on`)."""
        if self._engine is None:
            return
        tables = self._read(lambda conn: _tables(conn, number))
        for table in _ordered(tables):
            after_id: int | None = None
            while True:
                part = self._read(lambda conn, t=table, a=after_id: _chunk(conn, number, t, a))
                yield from part.changes
                if part.last_id is None:
                    break
                after_id = part.last_id

    def prune(self, days: int) -> PruneResult:
        """Delete the changes of runs started more than `days` days ago (SPEC §8); a signal
        stops it after the chunk in flight (`interrupted`)."""
        if not 0 <= days <= MAX_DAYS:
            raise UsageError(f"--older-than takes 0 to {MAX_DAYS:,} days, not {days:,}")
        if self._engine is None:
            return PruneResult(0, 0, [])
        with trapped_signals() as stop, trapped_hangup(stop):
            marked, alive, leftovers = self._mark_pruned(utcnow() - timedelta(days=days))
            deleted = 0
            for run in leftovers:
                count, finished = self._delete_changes(run, stop)
                deleted += count
                if not finished:
                    return PruneResult(len(marked), deleted, alive, len(leftovers), stop.exit_code)
        return PruneResult(len(marked), deleted, alive, len(leftovers))

    def _mark_pruned(self, cutoff: datetime) -> tuple[list[int], list[int], list[int]]:
        """Mark the runs started before `cutoff` pruned, in one transaction: (marked, left
        alone as still running, every pruned run that still has changes)."""
        assert self._engine is not None
        with self._engine.begin() as conn:
            old = conn.execute(
                select(*RUN.c).where(RUN.c.journal == "full", RUN.c.started_at < cutoff)
            ).all()
            alive = [run.id for run in old if _still_running(run)]
            marked = [run.id for run in old if run.id not in alive]
            for part in chunks(marked):
                conn.execute(update(RUN).where(RUN.c.id.in_(part)).values(journal="pruned"))
            return marked, alive, _pruned_with_changes(conn)

    def _delete_changes(self, run: int, stop: StopFlag) -> tuple[int, bool]:
        """Every change of `run`, PRUNE_CHUNK records per transaction, until a signal comes:
        (how many were deleted, whether they all were)."""
        assert self._engine is not None
        deleted = 0
        while True:
            if stop.exit_code is not None:
                return deleted, False
            with self._engine.begin() as conn:
                if conn.dialect.name == "sqlite":  # the deleted values overwritten in the file
                    conn.exec_driver_sql("PRAGMA secure_delete = ON")
                bound = conn.execute(
                    select(CHANGE.c.table_name, CHANGE.c.row_id)
                    .where(CHANGE.c.run_id == run)
                    .order_by(CHANGE.c.table_name, CHANGE.c.row_id)
                    .offset(PRUNE_CHUNK - 1)
                    .limit(1)
                ).first()
                condition = CHANGE.c.run_id == run
                if bound is not None:
                    up_to = or_(
                        CHANGE.c.table_name < bound.table_name,
                        and_(
                            CHANGE.c.table_name == bound.table_name, CHANGE.c.row_id <= bound.row_id
                        ),
                    )
                    condition = and_(condition, up_to)
                deleted += conn.execute(CHANGE.delete().where(condition)).rowcount
            if bound is None:
                return deleted, True

    def _read(self, work: Any) -> Any:
        """`work(conn)` in a short read transaction of its own."""
        assert self._reading is not None
        with self._reading.connect() as conn:
            try:
                return work(conn)
            finally:
                conn.rollback()


@contextmanager
def opened(url: str) -> Iterator[History]:
    """The history of the database at `url`; database errors become one line (DatabaseError).

    Refuses (SchemaBehindError) a database at an older schema, like an import does."""
    with db.translated_errors(url):
        if db.missing_sqlite_file(url):
            yield History(None)
            return
        engine = db.make_engine(url)
        try:
            yield History(engine if _has_history(_reading(engine)) else None)
        finally:
            engine.dispose()


def _reading(engine: Engine) -> Engine:
    """The engine (same pool and events) for reads: a deferred transaction on SQLite."""
    return engine.execution_options(sqlite_deferred=True)


def _has_history(engine: Engine) -> bool:
    """False for an empty database; raises for one behind or not custimport's (db.ensure_schema)."""
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = db.current_revision(conn)
        conn.rollback()
    if revision is None and not tables & db.APP_TABLES:
        return False
    db.ensure_schema(engine)  # it upgrades only an empty database, which this is not
    return True


def _still_running(run: Any) -> bool:
    """A `running` run whose process may still be writing (alive, or on another host)."""
    return bool(run.status == runs.RUNNING and not runs.is_killed(run))


def _pruned_with_changes(conn: Connection) -> list[int]:
    """Runs marked `pruned` that still have changes: just marked, or left by a prune cut short."""
    has_changes = exists().where(CHANGE.c.run_id == RUN.c.id)
    statement = select(RUN.c.id).where(RUN.c.journal == "pruned", has_changes).order_by(RUN.c.id)
    return list(conn.execute(statement).scalars())


# --- runs -------------------------------------------------------------------------------


def _run_info(row: Any) -> RunInfo:
    rows = {name: getattr(row, column) for name, column in runs.COUNT_COLUMNS.items()}
    if row.mode in ("undo", "merge"):  # the rows it deleted, after `updated` as `runs` shows
        counts, at = list(rows.items()), list(rows).index("updated") + 1
        rows = dict([*counts[:at], ("deleted", row.rows_deleted or 0), *counts[at:]])
    return RunInfo(
        run=row.id,
        status=runs.shown_status(row),
        model=row.model,
        mode=row.mode,
        file=row.file,
        file_size=row.file_size,
        sha256=row.file_sha256,
        mapping=_parsed(row.mapping),
        options=_parsed(row.options),
        user=row.os_user,
        host=row.host,
        pid=row.pid,
        version=row.version,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at) if row.finished_at else None,
        journal=row.journal,
        undoes=row.undoes_run_id,
        undone_by=row.undone_by_run_id,
        last_line=row.last_line,
        last_line_read=row.last_line_read,
        rows=rows,
        contacts={"created": row.contacts_created, "updated": row.contacts_updated},
        message=row.message,
    )


def _aware(moment: datetime) -> datetime:
    """SQLite gives timestamps back without their zone; they are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # written by hand, or by a later version: shown as it is
        return text


# --- changes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    changes: list[ChangeValues]  # made Change only where one is asked for (`changes`)
    last_id: int | None  # the last row id read; None: the table is done


@dataclass(frozen=True)
class _Column:
    """A column of an image as people see it."""

    index: int  # in the image (IMAGE_COLUMNS)
    field: str  # its name for people
    names: str | None  # the table whose row it refers to (its id shown as that row's name)
    flag: bool  # a boolean: true/false (SQLite's images hold 0/1)
    plain: bool  # text in the table: its image values are shown as they are when text


@cache
def _columns(table: str) -> tuple[_Column, ...]:
    """The columns of `table`'s images that are data, in image order."""
    shown = []
    for index, column in enumerate(IMAGE_COLUMNS[table]):
        if column not in HIDDEN_COLUMNS:
            field, names = REFERENCES.get((table, column), (column, None))
            flag = column in FLAG_COLUMNS
            text = Base.metadata.tables[table].c[column].type.python_type is str
            shown.append(_Column(index, field, names, flag, text and not flag and names is None))
    return tuple(shown)


@cache
def _values_of(table: str) -> Callable[[list[Any]], tuple[Any, ...]]:
    """The values of `_columns(table)` in an image, picked in C (a loop of look-ups in
    Python was the largest part of reading a run's changes)."""
    return itemgetter(*(c.index for c in _columns(table)))


def _tables(conn: Connection, run: int, source: Table = CHANGE) -> list[str]:
    statement = select(source.c.table_name).where(source.c.run_id == run).distinct()
    return list(conn.execute(statement).scalars())


def _ordered(tables: Sequence[str]) -> list[str]:
    """TABLE_ORDER first, any other table after."""
    return [t for t in TABLE_ORDER if t in tables] + sorted(set(tables) - {*TABLE_ORDER})


def changes_on(conn: Connection, run: int, source: Table = CHANGE) -> Iterator[ChangeValues]:
    """The run's changes as `changes` gives them, as plain tuples in Change's order (a
    million-line change file made a million NamedTuples: a tenth of its time), read on
    `conn` (the import's own, for its change file: a preview's records live only there)."""
    for table in _ordered(_tables(conn, run, source)):
        after_id: int | None = None
        while True:
            part = _chunk(conn, run, table, after_id, source)
            yield from part.changes
            if part.last_id is None:
                break
            after_id = part.last_id


def _chunk(
    conn: Connection, run: int, table: str, after_id: int | None, source: Table = CHANGE
) -> _Chunk:
    """The changes of up to CHUNK rows of `table` after row id `after_id`."""
    c = source.c
    statement = (
        select(c.table_name, c.row_key, c.line, c.action, c.row_id, c.before, c.after)
        .where(c.run_id == run, c.table_name == table)
        .order_by(c.row_id)
        .limit(CHUNK)
    )
    if after_id is not None:
        statement = statement.where(c.row_id > after_id)
    records = conn.execute(statement).all()
    columns = _columns(table)
    images = [_images(run, record) for record in records]
    names = _names(conn, columns, [image for pair in images for image in pair if image])
    changes: list[ChangeValues] = []
    for record, (before, after) in zip(records, images, strict=True):
        changes += _record_changes(record, columns, before, after, names)
    last_id = records[-1][4] if len(records) == CHUNK else None
    return _Chunk(changes, last_id)


def _images(run: int, record: tuple[Any, ...]) -> tuple[list[Any] | None, list[Any] | None]:
    """The before- and after-image of a record (`_chunk`'s columns), decoded; an image that
    is not a JSON array (the journal was edited by hand) stops the reading with one line."""
    before, after = record[5], record[6]
    try:
        before = None if before is None else json.loads(before)
        after = None if after is None else json.loads(after)
    except (ValueError, TypeError):  # not JSON; not even text (SQLite stores any type)
        raise DamagedJournalError(run, record[0], record[1]) from None
    if (before is not None and type(before) is not list) or (
        after is not None and type(after) is not list
    ):
        raise DamagedJournalError(run, record[0], record[1])
    return before, after


Names = dict[str, dict[int, str]]  # looked-up table -> id -> name


def _names(conn: Connection, columns: Sequence[_Column], images: Sequence[list[Any]]) -> Names:
    """The names of every group and account the images refer to, by id."""
    names: Names = {"customer_group": {}, "account": {}}
    for target in names:
        indexes = [column.index for column in columns if column.names == target]
        ids = {image[i] for image in images for i in indexes if image[i] is not None}
        names[target] = _look_up(conn, *LOOKED_UP[target], ids)
    return names


def _look_up(conn: Connection, id_column: Any, name_column: Any, ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for part in chunks(sorted(ids)):
        statement = select(id_column, name_column).where(id_column.in_(part))
        found.update(conn.execute(statement).all())
    return found


def _record_changes(
    record: tuple[Any, ...],
    columns: tuple[_Column, ...],
    before: list[Any] | None,
    after: list[Any] | None,
    names: Names,
) -> list[ChangeValues]:
    """One entry per field whose value differs; a row with one side only: one entry.
    `record`: (table_name, row_key, line, action, row_id, …) as `_chunk` reads it."""
    table, key, line, action, row_id = record[:5]
    if before is None and after is None:  # a record whose images were never written
        return [(table, key, line, action, None, None, None, row_id)]
    if before is None or after is None:
        whole = _whole_row(columns, before or after or [], names)
        old, new = (None, whole) if before is None else (whole, None)
        return [(table, key, line, action, None, old, new, row_id)]
    changes = []
    pick = _values_of(table)
    for c, old, new in zip(columns, pick(before), pick(after), strict=True):
        if old != new:
            if not (c.plain and _text_or_null(old) and _text_or_null(new)):
                old, new = _text(c, old, names), _text(c, new, names)
            changes.append((table, key, line, action, c.field, old, new, row_id))
    return changes


def _text_or_null(value: Any) -> bool:
    """Shown as it is (`_text` would return it): a text column's images hold text or null,
    unless edited by hand, and then `_text` turns what they hold into text."""
    return value is None or type(value) is str


def _whole_row(columns: Sequence[_Column], image: list[Any], names: Names) -> str:
    """A created (or deleted) row's fields, as a JSON object of text values, NULLs left out."""
    shown = {
        c.field: _text(c, image[c.index], names) for c in columns if image[c.index] is not None
    }
    return json.dumps(shown, ensure_ascii=False)


def _text(column: _Column, value: Any, names: Names) -> str | None:
    """A value as text people read: names for ids (`#ID` for a row gone since), true/false."""
    if value is None:
        return None
    if column.flag:
        return "true" if value else "false"
    if column.names is not None:
        return names[column.names].get(value, f"#{value}")
    return value if isinstance(value, str) else str(value)
