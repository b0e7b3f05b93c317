"""Several files as one transaction (SPEC §11): `--atomic` and `--dry-run` cover them all.

With --dry-run, an Account file sees the groups the CustomerGroup file of the same
command would create (that is the point), and with --atomic a failed row in the last
file takes back the first files' rows too. So every file's rows go into one transaction
on one connection, committed at the end (--atomic, with no failed or unread row in any
file) or rolled back (--dry-run always; --atomic otherwise, every run then `rolled_back`).

- Every file's run is recorded first (service/recording.py, on connections of their own,
  each committed at once, as SPEC §8 asks), before the transaction takes its first
  lock: SQLite allows one writer, and the run records would otherwise wait behind it.
  Their ends are recorded after it ended, for the same reason.
- Each file's pipeline runs in its shared mode (run/pipeline.py): it hands its counts over
  instead of committing, looks nothing up on a second connection (the look-ahead could
  not see the earlier files' rows), and a transaction it would have to start again (a
  deadlock with another import) ends the whole import instead (TransactionLost): the
  earlier files' rows are in it and cannot be written again.
- A file that is aborted or interrupted rolls the transaction back, and the files after
  it are not imported; their recorded runs end `rolled_back`, naming why, as do the files
  before it. Every run records the counts it committed: none, when rolled back
  (service/recording.py), so no run of it offers a resume or has rows to undo.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from custimport.io.source import SourceInfo
from custimport.rows.outcomes import Counts, FailedRow
from custimport.run.gc_pause import bulk_gc
from custimport.run.job import ImportRequest, Observer
from custimport.service import failure_hints, recording
from custimport.service.importing import StartedImport, import_rows_on, started_import
from custimport.service.several_job import FileOutcome, SeveralReport
from custimport.signals import StopFlag, interrupts_ignored, trapped_hangup, trapped_signals
from custimport.store import db

ObserverFor = Callable[[ImportRequest], AbstractContextManager[Observer]]
NOT_REACHED = "not imported: an earlier file of the same transaction stopped the import"


class _Waiting:
    """What a file's import tells its observer before its rows, kept until they begin:
    every file is started before the first row, and a terminal shows one progress bar
    at a time (the real observer is opened then, and closed after the file's rows)."""

    def __init__(self) -> None:
        self.source: SourceInfo | None = None
        self.warnings: list[str] = []

    def started(self, source: SourceInfo) -> None:
        self.source = source

    def warned(self, message: str) -> None:
        self.warnings.append(message)

    def row_failed(self, failure: FailedRow) -> None:
        raise AssertionError("no row is written before the rows begin")

    def progress(self, bytes_read: int, rows_read: int) -> None:
        pass

    def told(self, observer: Observer) -> None:
        for message in self.warnings:
            observer.warned(message)
        if self.source is not None:
            observer.started(self.source)


@dataclass
class _File:
    outcome: FileOutcome
    job: StartedImport
    waiting: _Waiting
    handed_over: Counts | None = None  # its rows, in the transaction (None: not written)


def run_as_one(requests: Sequence[ImportRequest], observer_for: ObserverFor) -> SeveralReport:
    """Import the files in order in one transaction; commit or roll back at the end."""
    result = SeveralReport([FileOutcome(request) for request in requests])
    engine = db.make_engine(requests[0].database_url)
    db.plan_for_key_lookups(engine)
    try:
        with ExitStack() as stack:
            files: list[_File] = []
            try:
                for outcome in result.outcomes:
                    waiting = _Waiting()
                    job = stack.enter_context(started_import(outcome.request, waiting, engine))
                    files.append(_File(outcome, job, waiting))
                _write_all(files, engine, observer_for)
            except BaseException as exc:
                _finish_runs(files, engine, str(exc) or type(exc).__name__)
                raise
            _finish_runs(files, engine)
    finally:
        with interrupts_ignored():
            engine.dispose()
    return result


def _write_all(files: list[_File], engine: Engine, observer_for: ObserverFor) -> None:
    url = files[0].job.report.request.database_url
    with (
        trapped_signals() as stop,
        trapped_hangup(stop),
        _closing(engine.connect()) as conn,
        bulk_gc(),
    ):
        try:
            written = _write_files(files, conn, stop, observer_for)
            keep = written and _all_clean(files)
            with stop.shield():
                if keep:
                    conn.commit()
                else:
                    conn.rollback()
        except SQLAlchemyError as exc:  # the commit, or a hint's read, failed
            keep = False
            with suppress(SQLAlchemyError):
                conn.rollback()
            last = [f for f in files if f.outcome.report is not None][-1]
            last.job.report.aborted = db.describe_db_error(exc, url)
    for file in files:
        report = file.job.report
        if file.handed_over is not None:
            report.counts.merge(file.handed_over)  # written if kept, else what would have been
        report.committed = keep


def _write_files(
    files: list[_File], conn: Connection, stop: StopFlag, observer_for: ObserverFor
) -> bool:
    """Each file's rows into the transaction, until one stops the rest; True when every
    file was written to its end."""
    for file in files:
        report = file.job.report
        file.outcome.report = report
        began = time.perf_counter()
        with observer_for(report.request) as observer:
            file.waiting.told(observer)
            file.handed_over = import_rows_on(conn, file.job, observer, stop, shared=True)
        failure_hints.add_model_hint(report, file.job.source.info.header, file.job.columns)
        report.duration_s = time.perf_counter() - began
        if file.handed_over is None or report.interrupted_exit is not None or report.aborted:
            return False  # aborted (the transaction is gone) or interrupted
    return True


def _all_clean(files: list[_File]) -> bool:
    """Commit: not a dry run, and every row of every file read and none failed."""
    reports = [file.job.report for file in files]
    if any(report.request.dry_run for report in reports):
        return False
    return all(report.completed and not report.counts.failed for report in reports)


def _finish_runs(files: list[_File], engine: Engine, failure: str | None = None) -> None:
    """Each recorded run's end, once the transaction is over (its locks released). The
    files reached before the one that stopped the import, and those never reached, were
    rolled back with it (`rolled_back`: nothing to undo or resume); `failure` (what
    escaped the transaction) is the last reached file's."""
    reached = [file for file in files if file.outcome.report is not None]
    with interrupts_ignored():
        for file in files:
            if file.outcome.report is None:
                recording.finish(engine, file.job.report, note=failure or NOT_REACHED)
            else:
                stopped = failure if file is reached[-1] else None
                recording.finish(engine, file.job.report, failure=stopped)


@contextmanager
def _closing(conn: Connection) -> Iterator[Connection]:
    try:
        yield conn
    finally:
        with interrupts_ignored():
            conn.close()
