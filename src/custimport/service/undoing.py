"""`custimport undo RUN` (SPEC §8): reverse a run in one transaction, all or nothing.

Pass 1 reads the run's journal a chunk at a time, locks and reads the rows it names, and
finds every conflict without changing anything: a row deleted since; a field the run
wrote that no longer holds what it wrote; a row to delete that a row added since refers
to; a restore that would give an account a second primary contact or a second contact
with one e-mail. With conflicts (and no --skip-conflicts) the undo ends there, rolled
back, and lists them. With --skip-conflicts the conflicting rows stay as they are, and so
does every row the run created that a row left in place still refers to, and every
contact the run created whose account is left in place (the cascade): an INDIVIDUAL
account is never left without the primary contact the run gave it.

Pass 2 applies, in the order the foreign keys and the one-primary-per-account index
need: accounts a merge deleted (inserted again, ids and all), contacts (delete the
created; restore the others, those the restore makes primary last; insert the deleted
again), accounts (clear the parents of those to delete, restore, delete), then groups.
A deleted row that cannot come back (store/undo_deleted.py says why) is a conflict, and a
merge is undone whole or not at all, --skip-conflicts or not. A merge's undo without other
conflicts is also checked whole for the one-primary rule (rows/primary_restores.py): a
contact it would make a second primary contact, or an INDIVIDUAL account it would leave
without one, is a conflict found before anything is written.
The undo records itself as a run and marks the run it reverses `undone` in the same
transaction: SIGKILL at any moment leaves nothing changed, and undo again completes it.
SIGINT and SIGTERM are heeded between chunks: the transaction is rolled back.

An undo that left conflicts does not make the run `undone`: it marks each record it
reversed as reversed by it (import_change.undone_by_run_id), and the run keeps its status.
A later undo of the run reads only the records not marked, so once the conflicts are
resolved it reverses the rest, and the run becomes `undone`.

Nothing is created to find that there is nothing to undo: a missing SQLite file or an
empty database has no run N (service.history decides, as for `runs`), and a number
outside the run ids' range (history.check_run_number) is no run before any database is
opened.
"""

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from custimport.errors import DatabaseError, UsageError
from custimport.models import utcnow
from custimport.rows import primary_restores
from custimport.rows.matching import STORED_KEYS
from custimport.service import history
from custimport.signals import StopFlag, interrupts_ignored, trapped_hangup, trapped_signals
from custimport.store import db, match_store, runs, undo_deleted, undo_primaries
from custimport.store import undo as store
from custimport.store.db_errors import describe_row_error, is_conflict
from custimport.store.journal import IMAGE_COLUMNS, KEPT_COLUMNS, STAMP_COLUMNS, decode_image

# pass 2's order: what refers comes before what it refers to
TABLES = ("contact", "account", "customer_group")
# the order conflicts are listed in: the order a run writes its tables
LISTED = ("customer_group", "account", "contact")
Writer = Callable[[Sequence[int]], int]  # writes a chunk of ids, says how many rows it wrote
# A deadlock with an import writing the same rows rolls the undo back; it starts again.
ATTEMPTS = 5
PARTLY = "partly undone by run"  # how a run's message says an undo left some of it
# (table of the rows left in place, their column, table referred to, what they are called)
CASCADE = (
    ("contact", "account_id", "account", "contacts"),
    ("account", "parent_account_id", "account", "child accounts"),
    ("account", "customer_group_id", "customer_group", "accounts"),
)
# why a row is a conflict when a value its record held (alike on both sides) changed since
HELD_REASONS = {"is_primary": "its primary flag changed since"}
REFUSED_STATUSES = {
    "undone": "is already undone (by run {undone_by_run_id})",
    "rolled_back": "was rolled back (--atomic): it changed nothing",
}


class UndoRefused(UsageError):
    """The run cannot be undone (still running, undone, pruned, --no-undo, an undo)."""


class UndoInterrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: the undo was rolled back."""

    def __init__(self, exit_code: int) -> None:
        super().__init__("interrupted")
        self.exit_code = exit_code


@dataclass(frozen=True)
class UndoRequest:
    run_id: int
    database_url: str
    dry_run: bool = False
    skip_conflicts: bool = False
    version: str | None = None  # custimport's, recorded with the undo's own run


@dataclass(frozen=True, slots=True)
class Conflict:
    table: str
    key: str
    reason: str


@dataclass
class UndoReport:
    request: UndoRequest
    model: str = ""
    mode: str = ""  # of the run it reverses: a `merge` is undone whole or not at all
    run: int | None = None  # the undo's own run (none for a dry run, or when nothing changed)
    deleted: int = 0
    restored: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    applied: bool = False  # the changes were committed
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.conflicts else 0

    @property
    def whole(self) -> bool:
        """A merge is one change of two records: with a conflict, --skip-conflicts leaves
        all of it (half a merge undone would be neither the two records nor the one)."""
        return self.mode == "merge"


def undo_run(request: UndoRequest) -> UndoReport:
    """Reverse the run, or say why not (UndoRefused, UnknownRunError; SchemaBehindError for
    a database at an older schema); UndoInterrupted after a signal."""
    started, started_at = time.perf_counter(), utcnow()
    history.check_run_number(request.run_id)  # before any database is asked
    with history.opened(request.database_url) as found:  # creates nothing; checks the schema
        found.run(request.run_id)
    engine = db.make_engine(request.database_url)
    db.plan_for_key_lookups(engine)  # statistics lag behind a journal that just grew
    try:
        with trapped_signals() as stop, trapped_hangup(stop):
            report = _attempts(engine, request, stop, started_at)
    finally:
        with interrupts_ignored():
            engine.dispose()
    report.duration_s = time.perf_counter() - started
    return report


def _attempts(
    engine: Engine, request: UndoRequest, stop: StopFlag, started_at: datetime
) -> UndoReport:
    """The undo, started again after a deadlock with an import writing the same rows, or
    once after a constraint refused a restore (a row changed between the two passes: the
    first pass, run again, sees it and reports the conflict)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with _connection(engine) as conn:
                return _undo(conn, request, stop, started_at)
        except IntegrityError as exc:
            if attempt < 2:
                continue
            _field, reason = describe_row_error(exc)
            message = f"undo of run {request.run_id} failed, nothing was changed: {reason}"
            raise DatabaseError(message) from None
        except DBAPIError as exc:
            if is_conflict(exc) and attempt < ATTEMPTS:
                continue
            raise DatabaseError(db.describe_db_error(exc, request.database_url)) from None
        except SQLAlchemyError as exc:
            raise DatabaseError(db.describe_db_error(exc, request.database_url)) from None
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    try:
        yield conn
    finally:
        with interrupts_ignored():
            conn.close()


def _undo(
    conn: Connection, request: UndoRequest, stop: StopFlag, started_at: datetime
) -> UndoReport:
    with conn.begin() as transaction:  # SQLite: BEGIN IMMEDIATE, other writers wait
        store.plan_each_statement(conn)
        run = _undoable(conn, request.run_id)
        plan = Plan(run.id)
        report = UndoReport(request, model=run.model, mode=run.mode)
        plan.find_conflicts(conn, stop, whole=report.whole)
        report.conflicts = plan.conflicts()
        if report.conflicts and (not request.skip_conflicts or report.whole):
            transaction.rollback()
            return report
        report.deleted, report.restored = plan.apply(conn, stop)
        if request.dry_run:
            transaction.rollback()
            return report
        report.run = _record(conn, request, run, report, started_at)
        if report.conflicts:
            plan.mark_reversed(conn, report.run, stop)
        _heed(stop)  # after the recording: a signal seen before it is always heeded
    report.applied = True
    return report


def _undoable(conn: Connection, run_id: int) -> Any:
    """The run, locked; UndoRefused with the reason when it cannot be undone."""
    run = store.lock_run(conn, run_id)
    if run is None:
        raise history.UnknownRunError(run_id)
    prefix = f"run {run_id} "
    if run.mode == "undo":
        raise UndoRefused(prefix + f"is itself an undo (of run {run.undoes_run_id})")
    if run.status in REFUSED_STATUSES:
        raise UndoRefused(prefix + REFUSED_STATUSES[run.status].format(**run._mapping))
    if run.status == runs.RUNNING and not runs.is_killed(run):
        raise UndoRefused(prefix + f"is still running (pid {run.pid} on {run.host})")
    if run.journal == "off":
        raise UndoRefused(prefix + "was recorded with --no-undo: its changes were not kept")
    if run.journal == "pruned":
        raise UndoRefused(prefix + "can no longer be undone: its changes were pruned")
    return run


def _record(
    conn: Connection, request: UndoRequest, run: Any, report: UndoReport, started_at: datetime
) -> int:
    """The undo's own run, completed, and the reversed run marked `undone` by it, or, when
    conflicts were left, marked as partly undone by it (its status stays)."""
    start = runs.RunStart(
        model=run.model,
        mode="undo",
        options={"skip_conflicts": request.skip_conflicts},
        journal="off",
        undoes_run_id=run.id,
        version=request.version,
    )
    new_run = runs.insert_run(conn, start, status="completed")
    store.set_started(conn, new_run, started_at)
    left = len(report.conflicts)
    counts = {
        "rows_read": report.deleted + report.restored + left,
        "rows_updated": report.restored,
        "rows_skipped": left,
        "rows_deleted": report.deleted,
    }
    message = f"deleted {report.deleted}, restored {report.restored}"
    if left:
        message += f", left {left} conflict{'' if left == 1 else 's'}"
    runs.finish_run(conn, new_run, "completed", counts, message)
    if left:
        store.mark_partly_undone(conn, run.id, new_run, _partly_message(run, new_run, left))
    else:
        store.mark_undone(conn, run.id, new_run)
    return new_run


def _partly_message(run: Any, by_run: int, left: int) -> str:
    """The run's own message (why it stopped, say), then what the undo left of it; the
    note of an earlier partial undo is replaced."""
    rows = "1 row left as a conflict" if left == 1 else f"{left:,} rows left as conflicts"
    note = f"{PARTLY} {by_run}: {rows}"
    own = str(run.message or "")
    own = "" if own.startswith(PARTLY) else own.split(f"; {PARTLY} ")[0]
    return f"{own}; {note}" if own else note


def _referred(conn: Connection, rows: dict[str, list[int]]) -> tuple[dict[str, set[int]], set[int]]:
    """What these rows refer to now, by CASCADE's columns, and the accounts of those that
    are primary contacts; read a chunk at a time (a million conflicts stay ids)."""
    referred: dict[str, set[int]] = {column: set() for _, column, _, _ in CASCADE}
    primaries: set[int] = set()
    for table, ids in rows.items():
        for _row_id, text in store.current_images(conn, table, ids):
            image = decode_image(table, text) or {}
            for source, column, _target, _kind in CASCADE:
                if source == table and image[column] is not None:
                    referred[column].add(image[column])
            if table == "contact" and image["is_primary"]:
                primaries.add(image["account_id"])
    return referred, primaries


def _merge_primary_clashes(conn: Connection, run_id: int) -> list[primary_restores.Clash]:
    """The contacts that undoing the merge `run_id` would make a second primary contact of
    an account, and the INDIVIDUAL accounts it would leave without one."""
    records = [
        primary_restores.ContactRecord(*row) for row in undo_primaries.contact_records(conn, run_id)
    ]
    if not records:
        return []
    ids = [record.row_id for record in records]
    named = sorted(
        primary_restores.accounts_named(records, undo_primaries.contacts_now(conn, ids, []))
    )
    now = undo_primaries.contacts_now(conn, ids, named)
    accounts = {
        account_id: primary_restores.AccountAfter(*values)
        for account_id, values in undo_primaries.accounts_after(conn, run_id, named).items()
    }
    return primary_restores.primary_clashes(records, now, accounts)


def _held(table: str, column: str, before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """The updated record holds the column's value, alike on both sides (journal.Journal.after's
    `held`; the columns an update left alone are NULL on both sides, KEPT_COLUMNS aside)."""
    if before is None or column in KEPT_COLUMNS.get(table, frozenset()):
        return False
    return before[column] is not None and before[column] == after[column]


def _heed(stop: StopFlag) -> None:
    if stop.exit_code is not None:
        raise UndoInterrupted(stop.exit_code)


class Plan:
    """What pass 1 found: the rows the undo leaves (conflicts), by table and id."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.kept: dict[str, dict[int, Conflict]] = {t: {} for t in TABLES}
        self.to_primary = 0  # contacts the restore makes primary again

    def keep(self, table: str, row_id: int, key: str | None, reason: str) -> bool:
        """Leave the row as it is; False if it was left already (its first reason stands)."""
        if row_id in self.kept[table]:
            return False
        self.kept[table][row_id] = Conflict(table, key or f"id {row_id}", sys.intern(reason))
        return True

    def conflicts(self) -> list[Conflict]:
        listed = sorted((LISTED.index(t), row_id, t) for t in TABLES for row_id in self.kept[t])
        return [self.kept[table][row_id] for _, row_id, table in listed]

    # --- pass 1 ---

    def find_conflicts(self, conn: Connection, stop: StopFlag, whole: bool = False) -> None:
        """Every conflict of the run's records; for a merge (`whole`) without any, the
        primary contacts the whole undo would leave (store/undo_primaries.py)."""
        for table in TABLES:
            last = 0
            while chunk := store.records(conn, self.run_id, table, last):
                low, last = last, chunk[-1].row_id
                for record in chunk:
                    if not record.same:
                        self._judge(table, record)
                self._check_references(conn, table, low, last)
                _heed(stop)
            for row_id, key, reason in undo_deleted.deleted_conflicts(conn, self.run_id, table):
                self.keep(table, row_id, key, reason)
        self._cascade(conn)
        if whole and not any(self.kept.values()):
            for clash in _merge_primary_clashes(conn, self.run_id):
                self.keep(clash.table, clash.row_id, clash.key, clash.reason)

    def _judge(self, table: str, record: store.Record) -> None:
        """A conflict when a field the run wrote changed since, or a value its record holds
        on both sides though it stayed (a merge's moved contact's flag: HELD_WHEN_MOVED)."""
        if record.current is None:
            self.keep(table, record.row_id, record.key, "deleted since")
            return
        before = decode_image(table, record.before)
        after = decode_image(table, record.after) or {}
        current = decode_image(table, record.current) or {}
        columns = [column for column in IMAGE_COLUMNS[table] if column not in STAMP_COLUMNS]
        written = [c for c in columns if before is None or before[c] != after[c]]
        held = [c for c in columns if _held(table, c, before, after)]
        changed = [column for column in written if current[column] != after[column]]
        reasons = [HELD_REASONS[c] for c in held if current[c] != after[c]]
        if changed:
            noun = "field" if len(changed) == 1 else "fields"
            reasons.insert(0, f"changed since: {noun} {', '.join(changed)}")
        if reasons:
            self.keep(table, record.row_id, record.key, "; ".join(reasons))

    def _check_references(self, conn: Connection, table: str, low: int, high: int) -> None:
        for row_id, key, kind, count in store.references(conn, self.run_id, table, low, high):
            noun = kind if count == 1 else f"{kind}s"
            self.keep(table, row_id, key, f"referenced by {count} {noun} added since")
        for row_id, key, kind in store.lost_references(conn, self.run_id, table, low, high):
            self.keep(table, row_id, key, f"its {kind} was deleted since")
        if table != "contact":
            return
        for row_id, key, clash in store.contact_restores(conn, self.run_id, low, high):
            if clash is None:
                self.to_primary += 1
            elif clash == "primary":
                self.to_primary += 1
                self.keep(table, row_id, key, "its account has another primary since")
            else:
                self.keep(table, row_id, key, "its e-mail is another contact's since")

    def _cascade(self, conn: Connection) -> None:
        """Rows the run created that a row left in place refers to stay too, and so do the
        contacts it created of an account left in place (its primary contact among them).
        An account keeps one primary: a contact whose restore would be a second primary
        beside one left in place stays, and so does the contact that took the primary flag
        from one left in place without it."""
        frontier = {table: list(self.kept[table]) for table in TABLES}
        while any(frontier.values()):
            referred, primaries = _referred(conn, frontier)
            accounts, contacts = sorted(frontier["account"]), sorted(frontier["contact"])
            frontier = {table: [] for table in TABLES}
            for row_id, key in store.created_contacts_of(conn, self.run_id, accounts):
                if self.keep("contact", row_id, key, "its account is left in place"):
                    frontier["contact"].append(row_id)
            for row_id, key in store.primary_takers_of(conn, self.run_id, contacts):
                reason = "took the primary flag from a contact left in place"
                if self.keep("contact", row_id, key, reason):
                    frontier["contact"].append(row_id)
            for _source, column, target, kind in CASCADE:
                fresh = sorted(referred[column] - self.kept[target].keys())
                reason = f"referenced by {kind} left in place"
                for row_id, key in store.created_keys(conn, self.run_id, target, fresh).items():
                    if self.keep(target, row_id, key, reason):
                        frontier[target].append(row_id)
            for row_id, key in store.primary_restores_in(conn, self.run_id, sorted(primaries)):
                reason = "its account has another primary contact, left in place"
                if self.keep("contact", row_id, key, reason):
                    frontier["contact"].append(row_id)

    # --- pass 2 ---

    def mark_reversed(self, conn: Connection, by_run: int, stop: StopFlag) -> None:
        """Mark every record not left as reversed by the undo `by_run`, a chunk at a time."""
        for table in TABLES:
            for action in ("created", "updated", "deleted"):
                last, kept = 0, self.kept[table]
                while ids := store.record_ids(conn, self.run_id, table, action, last):
                    last = ids[-1]
                    reversed_ids = [row_id for row_id in ids if row_id not in kept]
                    store.mark_reversed(conn, self.run_id, table, reversed_ids, by_run)
                    _heed(stop)

    def apply(self, conn: Connection, stop: StopFlag) -> tuple[int, int]:
        """Delete and restore every record not left; (rows deleted, rows restored)."""
        done = {"deleted": 0, "restored": 0, "cleared": 0}
        for table, action, to_primary, write, counted in self._steps(conn):
            done[counted] += self._each_chunk(conn, table, action, write, stop, to_primary)
        return done["deleted"], done["restored"]

    def _steps(self, conn: Connection) -> list[tuple[str, str, bool, Writer, str]]:
        """Pass 2's order: contacts before their accounts, accounts before their groups;
        a contact made primary again only once every other contact is back."""

        def restore(table: str, to_primary: bool | None = None) -> Writer:
            def restored(ids: Sequence[int]) -> int:
                done = store.restore(conn, self.run_id, table, ids, to_primary=to_primary)
                keys = STORED_KEYS.get(table)
                match_store.refresh_keys(conn, table, keys, ids)  # of the values put back
                return done

            return restored

        def reinsert(table: str) -> Writer:
            return partial(undo_deleted.reinsert, conn, self.run_id, table)

        steps: list[tuple[str, str, bool, Writer, str]] = [
            # rows a merge deleted come back first (accounts) or last (contacts): the rows
            # restored refer to the accounts, and give their e-mails and flags back first
            ("account", "deleted", False, reinsert("account"), "restored"),
            ("contact", "created", False, partial(store.delete, conn, "contact"), "deleted"),
            ("contact", "updated", False, restore("contact", to_primary=False), "restored"),
        ]
        if self.to_primary:
            steps.append(("contact", "updated", True, restore("contact", True), "restored"))
        steps.append(("contact", "deleted", False, reinsert("contact"), "restored"))
        steps.append(("account", "created", False, partial(store.clear_parents, conn), "cleared"))
        for table in ("account", "customer_group"):
            steps.append((table, "updated", False, restore(table), "restored"))
            steps.append((table, "created", False, partial(store.delete, conn, table), "deleted"))
        return steps

    def _each_chunk(
        self,
        conn: Connection,
        table: str,
        action: str,
        write: Writer,
        stop: StopFlag,
        to_primary: bool = False,
    ) -> int:
        done, last, kept = 0, 0, self.kept[table]
        while ids := store.record_ids(conn, self.run_id, table, action, last, to_primary):
            last = ids[-1]
            done += write([row_id for row_id in ids if row_id not in kept])
            _heed(stop)
        return done
