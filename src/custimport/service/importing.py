"""The import service: check the file and mapping, open the database, run the pipeline.

read (io/) → map → validate (run/prepare.py, maybe in a worker: run/background.py) → write
(run/pipeline.py and run/transaction.py, with the handlers of rows/). Usage problems raise
before any row is written; every row read ends in exactly one outcome. SIGINT and SIGTERM
only set a flag: the batch in flight is finished and committed, and the import stops there.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from custimport.errors import DatabaseError, UsageError, visible
from custimport.io.change_file import write_change_file
from custimport.io.export_output import ExportInterrupted
from custimport.io.formats import open_source
from custimport.io.source import RowSource
from custimport.rows.accounts import AccountHandler
from custimport.rows.change_rules import ChangeRules, recorded_mapping, settle_rules
from custimport.rows.contacts import ContactHandler
from custimport.rows.contract import Handler
from custimport.rows.groups import GroupHandler
from custimport.rows.mapping import (
    ColumnMap,
    build_column_map,
    load_mapping_file,
    require_columns,
)
from custimport.rows.matching import STORED_KEYS, columns_to_find, in_effect
from custimport.rows.modes import Mode, creates, required_columns, updates
from custimport.rows.outcomes import Counts
from custimport.run.gc_pause import bulk_gc
from custimport.run.job import ImportReport, ImportRequest, Observer
from custimport.run.pipeline import Pipeline
from custimport.service import failure_hints, history, recording
from custimport.signals import StopFlag, interrupts_ignored, trapped_hangup, trapped_signals
from custimport.store import db, match_store
from custimport.store.journal import PREVIEW_TABLE, Journal

__all__ = ["ImportReport", "ImportRequest", "Observer", "run_import"]

HANDLERS: dict[str, Callable[[Connection, Mode, frozenset[str]], Handler[Any]]] = {
    "CustomerGroup": GroupHandler,
    "Account": AccountHandler,
    "Contact": ContactHandler,
}


def run_import(request: ImportRequest, observer: Observer) -> ImportReport:
    """Check the file and mapping, open the database, then import; usage problems raise.
    The one place the user's text for --mode becomes a Mode (an unknown one is exit 2)."""
    started = time.perf_counter()
    with started_import(request, observer) as job:
        _recorded(job.engine, job.report, lambda: _import_rows(job, observer))
        failure_hints.add_model_hint(job.report, job.source.info.header, job.columns)
    job.report.duration_s = time.perf_counter() - started
    return job.report


@dataclass
class StartedImport:
    """An import whose file is open and checked, whose database is ready and whose run is
    recorded: what is left is its rows (`import_rows_on`)."""

    engine: Engine
    source: RowSource
    column_map: ColumnMap
    columns: dict[str, str | None] | None  # the mapping file's
    mode: Mode
    rules: ChangeRules
    report: ImportReport
    journal: Journal | None


@contextmanager
def started_import(
    request: ImportRequest, observer: Observer, engine: Engine | None = None
) -> Iterator[StartedImport]:
    """Everything before the rows; `engine`: one shared by several files (it is left
    open), else the import's own, disposed of at the end."""
    mode = Mode.parse(request.mode)
    matching_of(request)  # an unknown --match-on or --account-ref is exit 2 before anything
    mapping = load_mapping_file(request.mapping_path) if request.mapping_path else None
    rules = settle_rules(
        request.spec, mapping, request.policies, request.defaults, request.empty_cells
    )
    with open_source(
        request.path,
        format=request.format,
        encoding=request.encoding,
        delimiter=request.delimiter,
        sheet=request.sheet,
        header_row=request.header_row,
        name=request.shown_as,
    ) as source:
        columns = mapping.columns if mapping else None
        column_map = _column_map(request, mode, columns, rules, source.info.header)
        rules = rules.for_columns(column_map.present_fields)
        own_engine = engine is None
        if engine is None:
            engine = db.make_engine(request.database_url)
            db.plan_for_key_lookups(engine)
        try:
            with db.translated_errors(request.database_url):
                db.ensure_schema(engine)
                db.check_writable(
                    engine,
                    request.spec.name,
                    mode,
                    creates=creates(mode),
                    updates=updates(mode),
                    records=not request.dry_run,
                    journal=request.journal,
                    temporary=request.changes_path is not None
                    and (request.dry_run or not request.journal),
                )
            report = ImportReport(request, source=source.info)
            report.match_on, account_ref = matching_of(request)
            report.account_ref = None if request.spec.name == "CustomerGroup" else account_ref
            report.unknown_columns = column_map.unknown_columns
            report.synonyms = column_map.synonyms
            with db.translated_errors(request.database_url):
                recorded = recorded_mapping(mapping, rules)
                journal = recording.begin(engine, request, recorded, report, observer.warned)
            observer.started(source.info)
            yield StartedImport(engine, source, column_map, columns, mode, rules, report, journal)
        finally:
            if own_engine:
                with interrupts_ignored():
                    engine.dispose()


def check_header(request: ImportRequest, header: list[str]) -> None:
    """What run_import checks of a file before it opens the database, for a header read
    already: several files in one command (service/several.py) check every file before
    the first is imported. Problems raise a UsageError."""
    mode = Mode.parse(request.mode)
    matching_of(request)
    mapping = load_mapping_file(request.mapping_path) if request.mapping_path else None
    rules = settle_rules(
        request.spec, mapping, request.policies, request.defaults, request.empty_cells
    )
    _column_map(request, mode, mapping.columns if mapping else None, rules, header)


def _column_map(
    request: ImportRequest,
    mode: Mode,
    columns: dict[str, str | None] | None,
    rules: ChangeRules,
    header: list[str],
) -> ColumnMap:
    """The header matched to the model's fields; required columns missing raise (exit 2):
    a mode that cannot create needs the columns its rows find records by (--match-on)."""
    spec = request.spec
    column_map = build_column_map(header, spec.fields, columns, spec.name)
    required = required_columns(spec, mode)
    if not creates(mode):
        required = columns_to_find(spec.name, matching_of(request)[0]) or required
    required = rules.still_required(required)
    require_columns(
        column_map, required, header, lambda: failure_hints.looks_like(spec, header, columns)
    )
    return column_map


def matching_of(request: ImportRequest) -> tuple[str, str]:
    """(--match-on, --account-ref) in effect, in their canonical spelling (SPEC §10)."""
    return in_effect(request.spec.name, request.match_on, request.account_ref)


def _key_tables(request: ImportRequest) -> dict[str, Any]:
    """The stored match keys this import looks rows up by (none for the default keys)."""
    if request.spec.name == "CustomerGroup":
        return {}
    match_on, account_ref = matching_of(request)
    wanted: dict[str, set[str]] = {}  # table → the key columns this import reads
    if account_ref != "account_number":
        wanted.setdefault("account", set()).add(f"{account_ref}_match")
    if request.spec.name == "Account" and match_on != "account_number":
        wanted.setdefault("account", set()).update(f"{f}_match" for f in match_on.split(","))
    if request.spec.name == "Contact" and match_on != "email":
        wanted["contact"] = {f"{match_on}_match"}
    # only those: a key no look-up reads is work for nothing (computed when one does)
    return {
        table: {key: how for key, how in STORED_KEYS[table].items() if key in keys}
        for table, keys in wanted.items()
    }


def _fill_match_keys(engine: Engine, request: ImportRequest, stop: StopFlag) -> None:
    """Before rows are looked up by key: compute the stored keys still NULL (written since
    by imports matching on account_number, or by other programs; store/match_store.py),
    in a transaction of their own. A --dry-run does it too: the keys are derived data,
    no field of any record changes. A signal stops it between chunks; the import then
    reads no row and reports (SPEC §12.5)."""
    if tables := _key_tables(request):
        with engine.begin() as conn:
            match_store.fill_keys(conn, tables, lambda: stop.exit_code is not None)
        # its connection closed: the import's own starts with an empty page cache (a full
        # one, kept from filling 100,000 keys, put the import 35 MiB over its budget)
        engine.pool.dispose()


def _recorded(engine: Any, report: ImportReport, run: Callable[[], None]) -> None:
    """Run the import, then finish its run record whatever happened (an import that
    raised is `aborted`, with the reason)."""
    try:
        run()
    except BaseException as exc:
        with interrupts_ignored():
            recording.finish(engine, report, failure=str(exc) or type(exc).__name__)
        raise
    with interrupts_ignored():
        recording.finish(engine, report)


def _import_rows(job: StartedImport, observer: Observer) -> None:
    try:
        with trapped_signals() as stop, trapped_hangup(stop):
            _fill_match_keys(job.engine, job.report.request, stop)  # the run is recorded: its part
            with _closing(job.engine.connect()) as conn, bulk_gc():
                import_rows_on(conn, job, observer, stop)
    except SQLAlchemyError as exc:
        raise DatabaseError(db.describe_db_error(exc, job.report.request.database_url)) from None


def import_rows_on(
    conn: Connection, job: StartedImport, observer: Observer, stop: StopFlag, shared: bool = False
) -> Counts | None:
    """A started import's rows, written on `conn`. `shared`: its transaction holds several
    files' rows (service/one_transaction.py), and this file's counts are returned for the
    caller to count once it commits or rolls back."""
    report, rules, journal = job.report, job.rules, job.journal
    if shared and (tables := _key_tables(report.request)):  # in the one transaction
        match_store.fill_keys(conn, tables, lambda: stop.exit_code is not None)
    present = job.column_map.present_fields | rules.no_column
    handler = HANDLERS[report.request.spec.name](conn, job.mode, present)
    handler.journal = journal
    handler.rules = rules if rules.active else None
    if isinstance(handler, AccountHandler):
        handler.allow_new_keys = report.request.allow_new_keys
    if isinstance(handler, AccountHandler | ContactHandler):
        handler.match_by(*matching_of(report.request))
    if isinstance(handler, ContactHandler):
        handler.phone_region = report.request.phone_region
    pipeline = Pipeline(
        conn, handler, job.column_map, report, observer, stop, rules.may_be_empty, shared
    )
    if report.request.changes_path is not None and journal is not None:
        pipeline.on_finish = lambda c: _write_change_file(c, journal, report)
    pipeline.run(job.source)
    _add_warnings(report)
    failure_hints.add_group_hint(conn, report, shared)
    return pipeline.handed_over


def _write_change_file(conn: Connection, journal: Journal, report: ImportReport) -> None:
    """The change file (--changes) from the journal's records of this import, read on its
    own connection; a file that cannot be written is a line in the report (the import
    itself stands), and a signal while writing leaves no part of it."""
    path = report.request.changes_path
    assert path is not None
    source = history.PREVIEW if journal.target == PREVIEW_TABLE else history.CHANGE
    request = report.request
    # --atomic with a failed row rolls back: what it would change is nothing (--dry-run)
    nothing = request.atomic and (report.counts.failed > 0 or not report.completed)
    if not request.dry_run:  # committed: read in a plain BEGIN, not holding SQLite's
        conn.execution_options(sqlite_deferred=True)  # write lock while the file is written
    try:
        journal.ready(conn)  # a --no-undo import that wrote nothing, or was rolled back
        changes = iter(()) if nothing else history.changes_on(conn, journal.run_id, source)
        report.changes_written = write_change_file(changes, path)
    except UsageError as exc:
        report.changes_error = str(exc)
    except BrokenPipeError:  # a pipe whose reader stopped reading (`head`)
        report.changes_error = f"cannot write {visible(str(path))}: its reader went away"
    except ExportInterrupted as exc:
        report.changes_error = f"interrupted: nothing was written to {visible(str(path))}"
        report.changes_interrupted = exc.exit_code


@contextmanager
def _closing(conn: Connection) -> Iterator[Connection]:
    """The connection, closed with Ctrl-C ignored: the import has stopped by then, and a
    Ctrl-C inside SQLAlchemy's pool makes it log a traceback (a second Ctrl-C sent just
    as a stopped import closed its connection did)."""
    try:
        yield conn
    finally:
        with interrupts_ignored():
            conn.close()


def _add_warnings(report: ImportReport) -> None:
    if report.counts.generated_keys and report.match_on == "account_number":
        report.warnings.append(
            f"{report.counts.generated_keys} accounts had no account_number and got a "
            "generated one: importing this file again will create them again"
        )
    if report.phones_as_given:
        region = report.request.phone_region
        count = report.phones_as_given
        numbers = "phone number is" if count == 1 else "phone numbers are"
        report.warnings.append(
            f"{count} {numbers} no valid number for region {region} "
            "(nor with their own + prefix): stored as given"
        )
    ignored = report.counts.ignored_contacts
    if ignored:
        report.warnings.append(
            f"primary_contact_* values were ignored on {ignored} rows whose group is not INDIVIDUAL"
        )
