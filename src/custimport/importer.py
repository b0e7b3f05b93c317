"""The import pipeline: read → map → validate → batch → write, with row isolation.

Every row read ends in exactly one outcome. Batches are committed one by one
(unless --atomic or --dry-run keep one transaction to the end), so an interrupted
import keeps every batch before the one in flight. SIGINT and SIGTERM only set a
flag: the batch in flight is finished and committed, and the import stops there.
"""

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from custimport import db
from custimport.batches import Handler, run_batch
from custimport.errors import DatabaseError, UsageError
from custimport.handle_accounts import AccountHandler
from custimport.handle_contacts import ContactHandler
from custimport.handle_groups import GroupHandler
from custimport.mapping import (
    ColumnMap,
    build_column_map,
    load_mapping_file,
    require_columns,
)
from custimport.parallel import BackgroundPreparer, WorkerFailed, worth_it
from custimport.prepare import Preparer, PreparerSettings, bulk_gc
from custimport.readers import RowSource, SourceInfo, open_source
from custimport.rows import Counts, FailedRow, PendingRow
from custimport.schemas import ModelSpec

HANDLERS: dict[str, Callable[[Connection, str, frozenset[str]], Handler[Any]]] = {
    "CustomerGroup": GroupHandler,
    "Account": AccountHandler,
    "Contact": ContactHandler,
}
MODES = ("create_only", "update_only", "create_update")
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
# Commit about once a second rather than after every batch: on this machine's disk a
# SQLite commit (an fsync) took 20 ms, a fifth of the time of a 100,000-contact import.
# A batch that had to be written row by row is committed at once, so savepoints per
# transaction stay bounded (PostgreSQL slows down past 64 of them).
COMMIT_EVERY_S = 1.0


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    spec: ModelSpec
    database_url: str
    mode: str = "create_update"
    mapping_path: Path | None = None
    dry_run: bool = False
    atomic: bool = False
    max_errors: int | None = None
    batch_size: int = 2000
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    parallel: bool | None = None  # prepare batches in a second process; None: by file size


@dataclass
class ImportReport:
    request: ImportRequest
    counts: Counts = field(default_factory=Counts)
    completed: bool = False
    committed: bool = False
    interrupted_exit: int | None = None
    aborted: str | None = None  # the database failed mid-import (one line, no password)
    cut_short: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: SourceInfo | None = None
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted_exit is not None:
            return self.interrupted_exit
        return 1 if self.counts.failed or self.cut_short or self.aborted else 0


class Observer(Protocol):
    """Reporting watches from the side: failed rows and progress."""

    def started(self, source: SourceInfo) -> None: ...

    def row_failed(self, failure: FailedRow) -> None: ...

    def progress(self, bytes_read: int, rows_read: int) -> None: ...


def run_import(request: ImportRequest, observer: Observer) -> ImportReport:
    """Check the file and mapping, open the database, then import; usage problems raise."""
    if request.mode not in MODES:
        raise UsageError(f"unknown mode {request.mode!r}; use one of {', '.join(MODES)}")
    mapping = load_mapping_file(request.mapping_path) if request.mapping_path else None
    started = time.perf_counter()
    with open_source(
        request.path,
        format=request.format,
        encoding=request.encoding,
        delimiter=request.delimiter,
        sheet=request.sheet,
    ) as source:
        column_map = build_column_map(source.info.header, request.spec.fields, mapping)
        require_columns(column_map, request.spec.required_columns(request.mode), source.info.header)
        engine = db.make_engine(request.database_url)
        try:
            with db.translated_errors(request.database_url):
                db.ensure_schema(engine)
            report = ImportReport(request, source=source.info)
            report.unknown_columns = column_map.unknown_columns
            observer.started(source.info)
            _import_rows(engine, source, column_map, report, observer)
        finally:
            engine.dispose()
    report.duration_s = time.perf_counter() - started
    return report


def _import_rows(
    engine: Any, source: RowSource, column_map: ColumnMap, report: ImportReport, observer: Observer
) -> None:
    try:
        with engine.connect() as conn, _trapped_signals() as stop, bulk_gc():
            handler = HANDLERS[report.request.spec.name](
                conn, report.request.mode, column_map.present_fields
            )
            pipeline = _Pipeline(conn, handler, column_map, report, observer, stop)
            pipeline.run(source)
            _add_handler_warnings(handler, report)
    except SQLAlchemyError as exc:
        raise DatabaseError(db.describe_db_error(exc, report.request.database_url)) from None


class _StopFlag:
    """Set by a signal handler; read between rows."""

    def __init__(self) -> None:
        self.exit_code: int | None = None


@contextmanager
def _trapped_signals() -> Iterator[_StopFlag]:
    flag = _StopFlag()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if flag.exit_code is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, the transaction rolls back
        flag.exit_code = EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM

    try:
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield flag
        return
    try:
        yield flag
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Pipeline:
    """Prepared batches in, database writes out; accounts for every row and commits."""

    def __init__(
        self,
        conn: Connection,
        handler: Handler[Any],
        column_map: ColumnMap,
        report: ImportReport,
        observer: Observer,
        stop: _StopFlag,
    ) -> None:
        self.conn = conn
        self.handler = handler
        self.report = report
        self.request = report.request
        self.observer = observer
        self.stop = stop
        self.settings = PreparerSettings(
            self.request.spec,
            column_map.columns_by_field,
            handler.key_of,
            self.request.batch_size,
            self.request.max_errors,
        )
        self.preparer = Preparer(self.settings)
        self.deferred: list[PendingRow] = []
        self.keep_one_transaction = self.request.atomic or self.request.dry_run
        self.database_failures = 0
        self.uncommitted = Counts()  # rows written since the last commit
        self.last_commit = time.monotonic()

    def run(self, source: RowSource) -> None:
        try:
            self._write_all(source)
            if self.stop.exit_code is None:
                self._write_deferred()
        except KeyboardInterrupt:
            self._abandon_batch_in_flight()
            self.report.interrupted_exit = EXIT_SIGINT
            return
        except DBAPIError as exc:
            if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
                raise
            # the connection or the database gave way: what was committed stays, say so
            self._abandon_batch_in_flight()
            self.report.aborted = db.describe_db_error(exc, self.request.database_url)
            return
        except WorkerFailed as exc:
            self._abandon_batch_in_flight()
            self.report.aborted = f"reading the file failed: {exc}"
            return
        self._finish()

    def _abandon_batch_in_flight(self) -> None:
        """Roll back what is not committed; batches before it were (unless one transaction)."""
        with suppress(DBAPIError):  # a lost connection: the server rolled back for us
            self.conn.rollback()
        self.report.completed = False
        self.report.committed = not self.keep_one_transaction

    def _write_all(self, source: RowSource) -> None:
        """Read to the end, or until a signal or --max-errors says stop (rows left are unread)."""
        parallel = self.request.parallel
        background = None
        if parallel or (parallel is None and worth_it(source.info)):
            background = BackgroundPreparer(source.info, self.request.sheet, self.settings)
            batches = background.batches()
        else:
            batches = self.preparer.batches(
                source, lambda: self.stop.exit_code is not None, lambda: self.database_failures
            )
        stopped = False
        try:
            for batch in batches:
                self._write(batch.rows, batch.failures)
                self.observer.progress(batch.bytes_read, batch.rows_read)
                if self.stop.exit_code is not None or self._too_many_failures():
                    stopped = True
                    break
        finally:
            batches.close()
        if background is not None:
            unread = background.unread
        else:
            unread = self.preparer.unread or (stopped and self.preparer.more_rows())
        self.report.completed = not unread
        self.report.cut_short = unread and self.stop.exit_code is None

    def _too_many_failures(self) -> bool:
        limit = self.request.max_errors
        return limit is not None and self.report.counts.failed >= limit

    def _write(
        self, rows: list[PendingRow], failures: list[FailedRow], final: bool = False
    ) -> None:
        """Write one batch and account for it; failed rows are final at once, the others
        count once their transaction commits."""
        for failure in failures:
            self.handler.note_failure(failure.data, failure.line_no)
        row_by_row = False
        if rows:
            result = run_batch(self.conn, self.handler, rows, final)
            self.uncommitted.merge(result.counts)
            self.deferred.extend(result.deferred)
            self.database_failures += len(result.failures)
            failures = sorted(failures + result.failures, key=lambda failure: failure.line_no)
            row_by_row = result.row_by_row
        for failure in failures:
            self.observer.row_failed(failure)
        self.report.counts.failed += len(failures)
        due = time.monotonic() - self.last_commit >= COMMIT_EVERY_S
        if not self.keep_one_transaction and (due or row_by_row):
            self._commit()

    def _commit(self) -> None:
        """Commit, and only then count the rows as created, updated, unchanged or skipped."""
        self.conn.commit()
        self.report.counts.merge(self.uncommitted)
        self.uncommitted = Counts()
        self.last_commit = time.monotonic()

    def _write_deferred(self) -> None:
        """Rows whose parent came later in the file: retry while that helps, then fail the rest."""
        size = self.request.batch_size
        while self.deferred:
            waiting, self.deferred = self.deferred, []
            for start in range(0, len(waiting), size):
                self._write(waiting[start : start + size], [])
            if len(self.deferred) == len(waiting):
                # no progress: what is left waits on a cycle or a missing parent; one batch,
                # so that a cycle is seen whole
                last, self.deferred = self.deferred, []
                self._write(last, [], final=True)
                return

    def _finish(self) -> None:
        report = self.report
        if self.request.dry_run or (
            self.request.atomic and (report.counts.failed or not report.completed)
        ):
            self.conn.rollback()
            report.counts.merge(self.uncommitted)  # what would have been written
            report.committed = False
        else:
            self._commit()
            report.committed = True
        report.interrupted_exit = self.stop.exit_code


def _add_handler_warnings(handler: Any, report: ImportReport) -> None:
    if report.counts.generated_keys:
        report.warnings.append(
            f"{report.counts.generated_keys} accounts had no account_number and got a "
            "generated one: importing this file again will create them again"
        )
    ignored = getattr(handler, "ignored_contact_rows", 0)
    if ignored:
        report.warnings.append(
            f"primary_contact_* values were ignored on {ignored} rows whose group is not INDIVIDUAL"
        )
