"""The import pipeline: read → map → validate → batch → write, with row isolation.

Every row read ends in exactly one outcome. Batches are committed one by one
(unless --atomic or --dry-run keep one transaction to the end), so an interrupted
import keeps every batch before the one in flight. SIGINT and SIGTERM only set a
flag: the batch in flight is finished and committed, and the import stops there.
"""

import signal
import time
from collections.abc import Callable, Hashable, Iterator
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
    record_from,
    require_columns,
)
from custimport.readers import RawRow, RowSource, SourceInfo, open_source
from custimport.rows import Counts, Outcome, PendingRow, RowResult
from custimport.schemas import ModelSpec, validate_row

HANDLERS: dict[str, Callable[[Connection, str, frozenset[str]], Handler[Any]]] = {
    "CustomerGroup": GroupHandler,
    "Account": AccountHandler,
    "Contact": ContactHandler,
}
MODES = ("create_only", "update_only", "create_update")
PROGRESS_EVERY = 2000
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


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

    def row_failed(self, result: RowResult) -> None: ...

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
        with engine.connect() as conn, _trapped_signals() as stop:
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
        self.columns = column_map.columns_by_field
        self.report = report
        self.request = report.request
        self.observer = observer
        self.stop = stop
        self.seen: dict[Hashable, int] = {}
        self.batch: list[PendingRow] = []
        self.batch_results: list[RowResult] = []
        self.deferred: list[PendingRow] = []
        self.keep_one_transaction = self.request.atomic or self.request.dry_run
        self.pending_failures = 0  # failed rows of the batch in flight, not yet recorded

    def run(self, source: RowSource) -> None:
        try:
            self._read_all(source)
            if self.stop.exit_code is None:
                self._flush_deferred()
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
        self._finish()

    def _abandon_batch_in_flight(self) -> None:
        """Roll back what is not committed; batches before it were (unless one transaction)."""
        with suppress(DBAPIError):  # a lost connection: the server rolled back for us
            self.conn.rollback()
        self.report.completed = False
        self.report.committed = not self.keep_one_transaction

    def _read_all(self, source: RowSource) -> None:
        """Read to the end, or until a signal or --max-errors says stop (rows left are unread)."""
        rows_read = 0
        self.report.completed = True
        stopping = False
        for raw in source:
            if stopping:
                self.report.completed = False
                break
            self._take(raw)
            rows_read += 1
            if len(self.batch) + len(self.batch_results) >= self.request.batch_size:
                self._flush()
            if rows_read % PROGRESS_EVERY == 0:
                self.observer.progress(source.bytes_read(), rows_read)
            stopping = self.stop.exit_code is not None or self._too_many_errors()
        self._flush()
        self.observer.progress(source.bytes_read(), rows_read)
        self.report.cut_short = stopping and self.stop.exit_code is None

    def _too_many_errors(self) -> bool:
        limit = self.request.max_errors
        return limit is not None and self.report.counts.failed + self.pending_failures >= limit

    def _take(self, raw: RawRow) -> None:
        """Validate one row; invalid rows fail here and never reach SQL."""
        if raw.error is not None:
            self._fail(raw, "row", raw.error, {})
            return
        record = record_from(raw.values, self.columns)
        data, errors = validate_row(self.request.spec, record)
        if errors:
            self._fail(raw, errors[0][0], "", record, errors)
            return
        key = self.handler.key_of(data)
        if key is not None:
            first = self.seen.setdefault(key, raw.line_no)
            if first != raw.line_no:
                self._fail(
                    raw, _key_field(self.request.spec.name), f"duplicate of line {first}", data
                )
                return
        self.batch.append(PendingRow(raw.line_no, data, raw.cells, raw.values))

    def _fail(
        self,
        raw: RawRow,
        field_name: str,
        message: str,
        data: dict[str, Any],
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        self.handler.note_failure(data, raw.line_no)
        all_errors = errors or [(field_name, message)]
        self.pending_failures += 1
        self.batch_results.append(
            RowResult(raw.line_no, Outcome.FAILED, all_errors, None, raw.cells, raw.values)
        )

    def _flush(self, final: bool = False) -> None:
        """Write the batch in flight, then account for it; commit unless one transaction is kept."""
        rows, self.batch = self.batch, []
        results, self.batch_results = self.batch_results, []
        self.pending_failures = 0
        if rows:
            written, deferred = run_batch(self.conn, self.handler, rows, final)
            results.extend(written)
            self.deferred.extend(deferred)
        if not self.keep_one_transaction:
            self.conn.commit()
        self._record(results)

    def _record(self, results: list[RowResult]) -> None:
        results.sort(key=lambda r: r.line_no)
        for result in results:
            if result.outcome is Outcome.FAILED:
                self.observer.row_failed(result)
            self.report.counts.add(result)

    def _flush_deferred(self) -> None:
        """Rows whose parent came later in the file: retry while that helps, then fail the rest."""
        while self.deferred:
            waiting, self.deferred = self.deferred, []
            for start in range(0, len(waiting), self.request.batch_size):
                self.batch = waiting[start : start + self.request.batch_size]
                self._flush()
            if len(self.deferred) == len(waiting):
                self.batch, self.deferred = self.deferred, []
                self._flush(final=True)
                return

    def _finish(self) -> None:
        report = self.report
        if self.request.dry_run or (
            self.request.atomic and (report.counts.failed or not report.completed)
        ):
            self.conn.rollback()
            report.committed = False
        else:
            self.conn.commit()
            report.committed = True
        report.interrupted_exit = self.stop.exit_code


def _key_field(model: str) -> str:
    return {"Account": "account_number", "Contact": "email", "CustomerGroup": "name"}[model]


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
