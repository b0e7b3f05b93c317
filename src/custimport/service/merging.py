"""`custimport merge --model Account|Contact KEEP DUPLICATE` (SPEC §10): two records
become one, recorded as a run (mode `merge`) whose journal `undo` reverses.

Everything happens in one transaction: the run's record, the rows' writes and their
journal (rows updated: before- and after-images; rows deleted: their whole row), so a
merge killed at any moment leaves nothing, and history never disagrees with the data.
A dry run makes every write and rolls back, recording no run. What the merge does to
the rows is decided by rows/account_merge.py and rows/merge_rules.py from the rows as
read; service/merge_plans.py finds them, and here they are written and journaled.
Usage problems (an unknown key, KEEP the same as DUPLICATE, a contact key naming several
contacts, contacts of two accounts) are found before anything is written: exit 2.
"""

import time
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from custimport.config import masked_url
from custimport.errors import DatabaseError, UsageError, visible
from custimport.models import utcnow
from custimport.rows.matching import stale_keys
from custimport.rows.merge_rules import Plan
from custimport.service import merge_plans
from custimport.service.merge_job import MergeReport, MergeRequest
from custimport.store import db, runs
from custimport.store import merge as store
from custimport.store.db_errors import describe_row_error
from custimport.store.journal import HELD_WHEN_MOVED, Journal

MODELS = ("Account", "Contact")


def check_request(request: MergeRequest) -> None:
    """Usage problems seen without the database."""
    if request.spec.name not in MODELS:
        raise UsageError(f"merge takes Account or Contact records, not {request.spec.name}")
    keep, duplicate = request.keep.strip(), request.duplicate.strip()
    if not keep or not duplicate:
        raise UsageError("KEEP and DUPLICATE must both name a record")
    if keep == duplicate:
        raise UsageError(f"KEEP and DUPLICATE are the same record ({visible(keep)})")


def merge_records(request: MergeRequest) -> MergeReport:
    started = time.perf_counter()
    check_request(request)
    url = request.database_url
    if db.missing_sqlite_file(url):
        raise UsageError(f"no database at {masked_url(url)}: nothing to merge")
    engine = db.make_engine(url)
    try:
        with db.translated_errors(url):
            db.ensure_schema(engine)
        report = _transaction(engine, request)
    finally:
        engine.dispose()
    report.duration_s = time.perf_counter() - started
    return report


def _transaction(engine: Engine, request: MergeRequest) -> MergeReport:
    """The merge in one transaction (SQLite: BEGIN IMMEDIATE), rolled back for a dry run."""
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            report = _merge(conn, request)
            if request.dry_run:
                transaction.rollback()
            return report
    except IntegrityError as exc:
        _field, reason = describe_row_error(exc)
        raise DatabaseError(f"the merge failed, nothing was changed: {reason}") from None
    except SQLAlchemyError as exc:
        raise DatabaseError(db.describe_db_error(exc, request.database_url)) from None


def _merge(conn: Connection, request: MergeRequest) -> MergeReport:
    if request.spec.name == "Account":
        kept, merged, plan = merge_plans.account_plan(conn, request)
    else:
        kept, merged, plan = merge_plans.contact_plan(conn, request)
    report = MergeReport(
        request,
        kept=kept,
        merged=merged,
        filled=plan.filled,
        moved_contacts=plan.moved_contacts,
        merged_contacts=plan.merged_contacts,
        moved_children=plan.moved_children,
        updated=len(plan.contacts) + len(plan.accounts),
        deleted=len(plan.deleted_contacts) + (plan.deleted_account is not None),
        conflicts=plan.conflicts,
        dropped=plan.dropped,
    )
    journal = None
    if not request.dry_run:
        start = runs.RunStart(
            model=request.spec.name,
            mode="merge",
            options={"keep": kept, "duplicate": merged},
            version=request.version,
        )
        report.run = runs.insert_run(conn, start, status=runs.RUNNING)
        journal = Journal(report.run)
    _apply(conn, plan, journal)
    if report.run is not None:
        counts = {
            "rows_read": report.updated + report.deleted,
            "rows_updated": report.updated,
            "rows_deleted": report.deleted,
        }
        message = f"merged {merged} into {kept}"
        runs.finish_run(conn, report.run, "completed", counts, message)
    return report


def _apply(conn: Connection, plan: Plan, journal: Journal | None) -> None:
    """Deleted contacts go first (a kept contact may take the e-mail or the primary flag of
    the one merged into it), the duplicate account last (nothing refers to it by then)."""
    now = utcnow()
    _delete(conn, journal, "contact", plan.deleted_contacts)
    _update(conn, journal, "contact", plan.contacts, now)
    _update(conn, journal, "account", plan.accounts, now)
    if plan.deleted_account is not None:
        _delete(conn, journal, "account", [plan.deleted_account])


def _update(
    conn: Connection,
    journal: Journal | None,
    table: str,
    changes: dict[int, dict[str, Any]],
    now: Any,
) -> None:
    """Contacts moved to the kept account are journaled apart, their primary flag held on
    both sides of their records (journal.HELD_WHEN_MOVED: a later change is a conflict)."""
    moved = {
        i: values for i, values in changes.items() if table == "contact" and "account_id" in values
    }
    rest = {i: values for i, values in changes.items() if i not in moved}
    _journaled_update(conn, journal, table, moved, now, HELD_WHEN_MOVED)
    _journaled_update(conn, journal, table, rest, now, frozenset())


def _journaled_update(
    conn: Connection,
    journal: Journal | None,
    table: str,
    changes: dict[int, dict[str, Any]],
    now: Any,
    held: frozenset[str],
) -> None:
    if not changes:
        return
    ids = sorted(changes)
    if journal is not None:
        journal.before(conn, table, [(row_id, None) for row_id in ids])
    keyed = {row_id: {**values, **stale_keys(table, values)} for row_id, values in changes.items()}
    store.update_rows(conn, table, keyed, now)
    if journal is not None:
        journal.after(conn, table, ids, held)


def _delete(conn: Connection, journal: Journal | None, table: str, ids: list[int]) -> None:
    if not ids:
        return
    if journal is not None:
        journal.deleted(conn, table, [(row_id, None) for row_id in ids])
    store.delete_rows(conn, table, ids)
