"""Prepared batches in, database writes out: every row accounted for, commits paced.

Rows are counted as created, updated, unchanged or skipped once their transaction
commits; failed rows are final (and logged) at once. A commit happens about once a
second (see COMMIT_EVERY_S), after a batch that had to be written row by row, and at
the end, unless --atomic or --dry-run keep one transaction to the end.
"""

import tempfile
import time
from collections.abc import Callable, Generator
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from custimport.errors import ReportFileError
from custimport.io.source import RowSource
from custimport.rows.contract import BatchResult, Handler
from custimport.rows.mapping import ColumnMap
from custimport.rows.outcomes import Counts, FailedRow, PendingRow
from custimport.run.background import BackgroundPreparer, WorkerFailed, worth_it
from custimport.run.batch_writer import BatchWriter
from custimport.run.job import ImportReport, Observer
from custimport.run.lookahead import Lookahead, ahead_handler
from custimport.run.prepare import PreparedBatch, Preparer, PreparerSettings, source_options
from custimport.run.transaction import Transaction, TransactionLost
from custimport.run.waiting_rows import WaitingRows, WaitingSpill
from custimport.signals import EXIT_SIGINT, StopFlag
from custimport.store import db, runs
from custimport.store.encoding import text_encoding

# Commit about once a second rather than after every batch: on this machine's disk a
# SQLite commit (an fsync) took 20 ms, a fifth of the time of a 100,000-contact import.
# A batch that had to be written row by row is committed at once, so savepoints per
# transaction stay bounded (PostgreSQL slows down past 64 of them).
COMMIT_EVERY_S = 1.0


class Pipeline:
    """Prepared batches in, database writes out; accounts for every row and commits."""

    def __init__(
        self,
        conn: Connection,
        handler: Handler[Any],
        column_map: ColumnMap,
        report: ImportReport,
        observer: Observer,
        stop: StopFlag,
        may_be_empty: frozenset[str] = frozenset(),
        shared: bool = False,
    ) -> None:
        """`may_be_empty`: required fields validation lets empty (rows/change_rules.py).
        `shared`: the connection's transaction holds other files' rows too (several files
        as one transaction, --atomic or --dry-run: service/one_transaction.py); it is
        neither committed nor rolled back here, but handed over (`handed_over`)."""
        assert report.source is not None, "the source is opened before the pipeline"
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
            source_options(report.source, self.request.sheet),
            text_encoding(conn),
            resume_after=report.resumed.after_line if report.resumed else 0,
            resume_skip=report.resumed.skip if report.resumed else frozenset(),
            may_be_empty=may_be_empty,
            phone_region=self.request.phone_region,
            key_field=getattr(handler, "key_field", None),
        )
        self.transaction = Transaction(conn, handler, report.counts)
        self.transaction.shared = shared
        self.handed_over: Counts | None = None  # shared: this file's rows, not yet counted
        self.retrying = False  # rows taken from `deferred` are being written again
        self.keep_one_transaction = self.request.atomic or self.request.dry_run
        assert self.keep_one_transaction or not shared, "shared only with --atomic or --dry-run"
        unguarded = conn.dialect.name == "sqlite" and not self.keep_one_transaction
        # --max-errors needs a savepoint per batch, to take back the rows after the Nth failure
        unguarded = unguarded and self.request.max_errors is None
        self.writer = BatchWriter(self.transaction, handler, unguarded)
        self.cut_at_limit = False  # rows after the Nth failed row were taken back, unread
        self.database_failures = 0
        # the handler, if look-ups run ahead; never in a shared transaction, whose earlier
        # files' rows a second connection cannot see
        self.ahead = None if shared else ahead_handler(conn, handler)
        self.held_back = False  # the look-ahead had read a batch that was never written
        # what the import changed, read on its connection once the rows are in (for
        # --dry-run, just before they are rolled back)
        self.on_finish: Callable[[Connection], None] | None = None
        self.last_commit = time.monotonic()
        # For the run record (SPEC §8 resume): the last line of the batches written in
        # file order, and the first line of a row still waiting (for a parent later in
        # the file, or a primary claim held to the end): every line before both is
        # committed once the transaction is.
        self.accounted_through = self.settings.resume_after
        self.first_waiting: int | None = None
        if report.run is not None:
            self.transaction.before_commit = self._note_commit

    def run(self, source: RowSource) -> None:
        try:
            self._run(source)
        finally:
            self.transaction.close()

    def _run(self, source: RowSource) -> None:
        try:
            self._write_all(source)
            if self.stop.exit_code is None:
                self._write_deferred()
            self._finish()
        except KeyboardInterrupt:
            self._abandon_batch_in_flight()
            self.report.interrupted_exit = EXIT_SIGINT
        except SQLAlchemyError as exc:
            # the connection or the database gave way (lost, full, read-only, a privilege
            # revoked): what was committed stays, and the report says so (SPEC §12.1)
            self._abandon_batch_in_flight()
            self.report.aborted = db.describe_db_error(exc, self.request.database_url)
        except (WorkerFailed, ReportFileError, TransactionLost) as exc:
            self._abandon_batch_in_flight()
            self.report.aborted = str(exc)
        except OSError as exc:  # the import's own temporary files: a full disk, a size limit
            self._abandon_batch_in_flight()
            where = tempfile.gettempdir()
            self.report.aborted = f"cannot write temporary files in {where}: {exc.strerror or exc}"
        except Exception as exc:  # a bug: still report what was committed, then say so
            self._abandon_batch_in_flight()
            self.report.aborted = f"internal error ({type(exc).__name__}): {exc}; please report it"

    def _abandon_batch_in_flight(self) -> None:
        """Roll back what is not committed; batches before it were (unless one transaction)."""
        taken_back = self.transaction.abandon()
        if taken_back.read or self.transaction.deferred or self.retrying:  # read, not counted
            self.report.completed = False
        self.report.committed = not self.keep_one_transaction

    def _write_all(self, source: RowSource) -> None:
        """Read to the end, or until a signal or --max-errors says stop (rows left are unread)."""
        parallel = self.request.parallel
        if parallel or (parallel is None and worth_it(source.info)):
            background = BackgroundPreparer(self.settings)
            self._consume(background.batches(lambda: self.stop.exit_code is not None))
            unread = background.unread
            self.report.stopped_reading = background.stopped
        else:
            preparer = Preparer(self.settings)
            try:
                batches = preparer.batches(
                    source, lambda: self.stop.exit_code is not None, lambda: self.database_failures
                )
                stopped = self._consume(batches)
                unread = preparer.unread or (stopped and preparer.more_rows())
                self.report.stopped_reading = preparer.stopped
            finally:
                preparer.close()
        stopped_reading = self.report.stopped_reading is not None
        unread = unread or self.held_back or self.cut_at_limit
        self.report.completed = not (unread or stopped_reading)
        self.report.cut_short = unread and self.stop.exit_code is None and not stopped_reading

    def _consume(self, batches: Generator[PreparedBatch, None, None]) -> bool:
        """Write batches until they end or a stop is due; True when it stopped early."""
        lookahead = self._start_lookahead()
        handed_out = lookahead.batches(batches) if lookahead is not None else batches
        try:
            for batch in handed_out:
                self._waiting_from(batch.held_from)
                self._write(batch.rows, batch.failures, wire=batch.wire)
                self.report.phones_as_given += batch.phones_as_given
                self.observer.progress(batch.bytes_read, batch.rows_read)
                if self.stop.exit_code is not None or self._too_many_failures():
                    return True
            return False
        finally:
            handed_out.close()
            batches.close()
            if lookahead is not None:
                lookahead.close()
                self.held_back = lookahead.held_back

    def _start_lookahead(self) -> Lookahead | None:
        """A look-ahead, if the handler takes one and a second connection can be had: a
        server or a pooler may allow one connection only, and then the import goes on
        without it."""
        if self.ahead is None:
            return None
        try:
            return Lookahead(self.conn, self.ahead)
        except OperationalError:
            return None

    def _too_many_failures(self) -> bool:
        allowance = self._failure_allowance()
        return allowance is not None and allowance <= 0

    def _failure_allowance(self) -> int | None:
        """How many more rows may fail under --max-errors (None: no limit)."""
        limit = self.request.max_errors
        return None if limit is None else limit - self.report.counts.failed

    def _write(
        self,
        rows: list[PendingRow],
        failures: list[FailedRow],
        final: bool = False,
        wire: bytes | None = None,
    ) -> None:
        """Write one batch and account for it; failed rows are final at once, the others
        count once their transaction commits."""
        allowance = self._failure_allowance()
        if allowance is not None:
            rows, failures = self._cut(rows, failures, failures, allowance, final)
        for failure in failures:
            self.handler.note_failure(failure.data, failure.line_no)
        if allowance is not None:
            rows, failures, result = self._write_within(rows, failures, final, wire, allowance)
        else:
            result = self.writer.write(rows, final, wire) if rows else None
        if not final:
            self._accounted(rows, failures)
        row_by_row = False
        if result is not None:
            self._waiting_from(min((row.line_no for row in result.deferred), default=None))
            self.transaction.add(result)  # a result that was `replayed` stands for all since
            self._database_failed(result.failures)
            failures = sorted(failures + result.failures, key=_line)
            row_by_row = result.row_by_row
        self._hand_out(failures)
        due = time.monotonic() - self.last_commit >= COMMIT_EVERY_S
        if not self.keep_one_transaction and (due or row_by_row):
            self._commit()

    def _accounted(self, rows: list[PendingRow], failures: list[FailedRow]) -> None:
        last = max(rows[-1].line_no if rows else 0, failures[-1].line_no if failures else 0)
        self.accounted_through = max(self.accounted_through, last)

    def _waiting_from(self, line: int | None) -> None:
        if line is not None and (self.first_waiting is None or line < self.first_waiting):
            self.first_waiting = line

    def _note_commit(self, conn: Connection, counts: Counts) -> None:
        """In the transaction, just before it commits: the run's counts and its last line
        committed with every line before it (where --resume goes on)."""
        assert self.report.run is not None
        last_line = self.accounted_through
        if self.first_waiting is not None:
            last_line = min(last_line, self.first_waiting - 1)
        contacts = {"created": counts.contacts_created, "updated": counts.contacts_updated}
        values = runs.count_values(counts.rows(), contacts)
        runs.note_commit(conn, self.report.run, values, last_line, self.accounted_through)

    def _database_failed(self, failures: list[FailedRow]) -> None:
        """Rows the database refused count towards --max-errors' reading limit."""
        self.database_failures += len(failures)
        for failure in failures:  # rows waiting on it can name its line
            self.handler.note_failure(failure.data, failure.line_no)

    def _hand_out(self, failures: list[FailedRow]) -> None:
        """Failed rows are final at once: logged, then counted (and their reasons)."""
        reasons = self.report.reasons
        for failure in failures:
            try:
                self.observer.row_failed(failure)  # logged first: a failed row is in the log
            except ReportFileError as exc:
                self.report.counts.failed += exc.logged  # its rejects line alone is missing
                if exc.logged:
                    reasons.add(failure.line_no, failure.errors)
                raise
            self.report.counts.failed += 1
            reasons.add(failure.line_no, failure.errors)

    def _write_within(
        self,
        rows: list[PendingRow],
        failures: list[FailedRow],
        final: bool,
        wire: bytes | None,
        allowance: int,
    ) -> tuple[list[PendingRow], list[FailedRow], BatchResult | None]:
        """--max-errors N means N (SPEC §12.9): the batch is written in a savepoint, and if
        its failures, found while validating or by the database, pass the allowance, it is
        taken back and written again without the rows after the last allowed failure,
        which then count as unread."""
        while True:
            savepoint = self.conn.begin_nested()
            result = self.writer.write(rows, final, wire) if rows else None
            found = failures + (result.failures if result else [])
            if len(found) <= allowance:
                savepoint.commit()
                return rows, failures, result
            savepoint.rollback()
            rows, failures = self._cut(rows, failures, found, allowance, final)
            wire = None

    def _cut(
        self,
        rows: list[PendingRow],
        failures: list[FailedRow],
        found: list[FailedRow],
        allowance: int,
        final: bool,
    ) -> tuple[list[PendingRow], list[FailedRow]]:
        """The rows and failures up to the last failure allowed among `found`, in the
        batch's order: the file's, or parents first for rows that waited (`final`), whose
        failures not among `rows` (a cycle's) come first."""
        if len(found) <= allowance:
            return rows, failures
        self.cut_at_limit = True
        position = {row.line_no: n for n, row in enumerate(rows)}
        if final:
            ranked = sorted(found, key=lambda f: position.get(f.line_no, -1))
            kept = {f.line_no for f in ranked[:allowance]}
            if allowance > 0:
                end = position.get(ranked[allowance - 1].line_no, -1) + 1
            else:
                end = max(position.get(ranked[0].line_no, 0), 0)
            return rows[:end], [f for f in failures if f.line_no in kept]
        ranked = sorted(found, key=_line)
        last = ranked[allowance - 1].line_no if allowance > 0 else ranked[0].line_no - 1
        return [r for r in rows if r.line_no <= last], [f for f in failures if f.line_no <= last]

    def _commit(self) -> None:
        """Commit (the transaction counts the rows once it has); rows that failed only
        when a serialization failure of the commit made it write them again are handed
        out after it."""
        with self.stop.shield():
            failures = self.transaction.commit()
        self.last_commit = time.monotonic()
        if failures:
            self._database_failed(failures)
            self._hand_out(sorted(failures, key=_line))

    def _write_deferred(self) -> None:
        """Rows whose parent came later in the file, settled in one pass, parents first
        (waiting_rows). A stop or --max-errors is noticed between its batches; rows left
        then were read but never accounted for, so the import is not complete."""
        if not self.transaction.deferred or self._too_many_failures():  # left waiting: see _finish
            return
        waiting = self._take_deferred()
        self.retrying = True  # until every waiting row is written or failed
        settle = WaitingRows(self.handler, self.request.batch_size)
        batches = settle.batches(waiting, lambda: self.stop.exit_code is not None)
        try:
            for rows, failures in batches:
                self._write(rows, failures, final=True)
                if self.stop.exit_code is not None or self._too_many_failures():
                    break
        finally:
            batches.close()
            waiting.close()
        if settle.left:  # still `retrying`: the report says the import did not complete
            self.report.cut_short = self.report.cut_short or self.stop.exit_code is None
            return
        self.retrying = False

    def _take_deferred(self) -> WaitingSpill:
        """The waiting rows, replaced by an empty spill. Committed first: starting the
        transaction again must not add rows to a spill that is gone."""
        if not self.keep_one_transaction:
            self._commit()
        return self.transaction.take_deferred()

    def _finish(self) -> None:
        report = self.report
        if report.completed and not (self.transaction.deferred or self.retrying):
            self.first_waiting = None  # the rows held back to the end are written by now
        if self.transaction.shared:  # the caller commits or rolls back, for every file
            self.handed_over = self.transaction.hand_over()
            report.committed = False  # until the caller commits
        else:
            self._end_transaction()
        report.interrupted_exit = self.stop.exit_code
        if self.transaction.deferred or self.retrying:  # rows left waiting: never settled
            report.completed = False

    def _end_transaction(self) -> None:
        """Commit, or roll back (--dry-run; --atomic with a failed or unread row)."""
        report = self.report
        if self.request.dry_run and self.on_finish is not None:
            self.on_finish(self.conn)
        if self.request.dry_run or (
            self.request.atomic and (report.counts.failed or not report.completed)
        ):
            report.counts.merge(self.transaction.rollback())  # what would have been written
            report.committed = False
        else:
            self._commit()
            report.committed = True
        if not self.request.dry_run and self.on_finish is not None:
            self.on_finish(self.conn)


def _line(failure: FailedRow) -> int:
    return failure.line_no
