"""The import's transaction, with one owner: it commits, rolls back, and starts again.

Rows count as created, updated, unchanged or skipped only once the commit that holds
them has returned; a commit that fails counts nothing (SPEC §12.1). Until then they
are this transaction's: their counts, the rows set aside to wait for a parent later
in the file, the failures handed out, and the batches themselves, kept on disk to be
written again when the transaction must start again:

- after a SQLite batch written without a savepoint was refused (batch_writer.py):
  the transaction is rolled back and every batch since the last commit is written
  again, each in its own savepoint (savepoint_write.run_batch), so only the bad rows
  fail;
- after a deadlock or serialization failure with another import on PostgreSQL. Two
  imports of the same keys in different orders each wait for the other's uncommitted
  rows, and the server breaks the deadlock by failing one statement. Rolling back
  only that batch is not enough: the batches before it since the last commit still
  hold what the other import waits for, and writing the batch again would deadlock
  again. So the whole transaction is rolled back, which lets the other import
  through, and its batches are written again, planned afresh (SPEC §7: retried like
  a lost race). In a database whose transactions are SERIALIZABLE the failure can
  come from the COMMIT itself, and is answered the same way.

Writing each batch's rows to the temporary file cost the writer 27 ms of a 7 s import
of 200,000 accounts on PostgreSQL (profiled). Rows whose failure was already handed
out are not written again: the report counted them failed, and another import may
have changed what made them fail.
"""

from collections.abc import Callable, Sequence
from contextlib import suppress
from itertools import chain
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from custimport.rows.contract import BatchResult, Handler
from custimport.rows.outcomes import Counts, FailedRow, PendingRow
from custimport.run.savepoint_write import run_batch
from custimport.run.spill import SpilledRows
from custimport.run.waiting_rows import WaitingSpill
from custimport.store.db_errors import is_conflict

# Deadlocks in a row before the import gives up (each costs the server's
# deadlock_timeout, a second by default, and lets the other import commit meanwhile).
CONFLICT_RETRIES = 20


class TransactionLost(Exception):
    """The transaction had to start again, but it holds other files' rows too (several
    files as one transaction, SPEC §11), which this import cannot write again: the
    whole import is rolled back instead."""


class Transaction:
    """The unit of work of an import: what was written since the last commit.

    `counted`: where rows are counted once a commit returns (the report's counts).
    `deferred`: every row set aside to wait for a parent; rows set aside since the last
    commit are taken back when the transaction starts again.
    """

    def __init__(self, conn: Connection, handler: Handler[Any], counted: Counts) -> None:
        self.conn = conn
        self.handler = handler
        self.counted = counted
        self.uncommitted = Counts()  # rows written since the last commit
        self.deferred = WaitingSpill(handler)
        self._deferred_at_commit = self.deferred.mark()
        self._log = SpilledRows()  # the batches written since the last commit
        self._failed_lines: set[int] = set()  # failures handed out since the last commit
        # called in the transaction just before each commit, with the counts the commit
        # makes true: the run record says what was committed, by the same commit
        self.before_commit: Callable[[Connection, Counts], None] | None = None
        # the connection's transaction holds other files' rows (several files as one
        # transaction): it is never rolled back to start again (TransactionLost)
        self.shared = False

    def written(
        self, rows: Sequence[PendingRow], final: bool, wire: bytes | None, result: BatchResult
    ) -> None:
        """A batch is in the transaction: keep it, to write it again if need be.
        `wire`: the pickled PreparedBatch the rows came in, if they crossed the pipe."""
        self._log.extend(rows, final, wire)
        self._failed_lines.update(failure.line_no for failure in result.failures)

    def add(self, result: BatchResult) -> None:
        """Count a batch's rows and set its waiting rows aside, until the commit."""
        self.uncommitted.merge(result.counts)
        self.deferred.extend(result.deferred)

    def start_again(self, rows: Sequence[PendingRow] = (), final: bool = False) -> BatchResult:
        """Roll back, and write every batch since the last commit again, then `rows`;
        the result stands for all of it (`add` it). Conflicts meanwhile start it again."""
        if self.shared:
            raise TransactionLost(
                "a conflict with another import (a deadlock or a serialization failure) "
                "broke the one transaction of these files: nothing was committed; "
                "import them again"
            )
        conflicts = 0
        while True:
            self.conn.rollback()
            self.uncommitted = Counts()
            self.deferred.truncate(self._deferred_at_commit)
            try:
                again = self._write_again(rows, final)
            except DBAPIError as error:
                conflicts += 1
                if not is_conflict(error) or conflicts == CONFLICT_RETRIES:
                    raise
                continue
            self._log.extend(rows, final)  # the log holds every batch since the commit again
            self._failed_lines.update(failure.line_no for failure in again.failures)
            return again

    def commit(self) -> list[FailedRow]:
        """Commit, and only then count the rows since the last commit: a commit that fails
        (a full disk) leaves them uncounted (SPEC §12.1). A serialization failure of the
        COMMIT itself starts the transaction again and commits that; the failures it
        found, not handed out before, are returned."""
        failures: list[FailedRow] = []
        conflicts = 0
        while True:
            try:
                self._commit()
                return failures
            except DBAPIError as error:
                conflicts += 1
                if not is_conflict(error) or conflicts == CONFLICT_RETRIES:
                    raise
            again = self.start_again()
            self.add(again)
            failures += again.failures  # a later start leaves these out: handed out

    def rollback(self) -> Counts:
        """Roll back, at the end of the import; the counts of the rows taken back (what
        would have been written). The log is left alone: nothing is written again, and
        its file, on a full disk, may fail to flush (close() hides that)."""
        self.conn.rollback()
        return self._forget_counts()

    def hand_over(self) -> Counts:
        """The counts of this file's rows, left in the connection's transaction for the
        caller to commit or roll back with other files' (several files as one)."""
        self._log.clear()
        return self._forget_counts()

    def abandon(self) -> Counts:
        """As `rollback`, as far as it goes (a lost connection: the server rolled back)."""
        with suppress(SQLAlchemyError):
            self.conn.rollback()
        return self._forget_counts()

    def take_deferred(self) -> WaitingSpill:
        """The waiting rows, replaced by an empty spill. The caller commits first (unless
        the import is one transaction): starting again must not add rows to a spill that
        is gone."""
        taken, self.deferred = self.deferred, WaitingSpill(self.handler)
        self._deferred_at_commit = self.deferred.mark()
        return taken

    def close(self) -> None:
        for spill in (self.deferred, self._log):  # throwaway files: a full disk that
            with suppress(OSError):  # failed their last write fails closing too
                spill.close()

    def _commit(self) -> None:
        if self.before_commit is not None:
            total = Counts()
            total.merge(self.counted)
            total.merge(self.uncommitted)
            self.before_commit(self.conn, total)
        committed = False
        try:
            self.conn.commit()
            committed = True
        except KeyboardInterrupt:  # it came after the commit itself had returned
            committed = not self.conn.in_transaction()
            raise
        finally:
            if committed:
                self.counted.merge(self._forget_counts())
                self._deferred_at_commit = self.deferred.mark()
                self._log.clear()

    def _forget_counts(self) -> Counts:
        """The transaction ended: its counts, and what was handed out, are not its any more."""
        forgotten, self.uncommitted = self.uncommitted, Counts()
        self._failed_lines = set()
        return forgotten

    def _write_again(self, rows: Sequence[PendingRow], final: bool) -> BatchResult:
        handed_out = self._failed_lines
        total = BatchResult(Counts(), [], [], row_by_row=True, replayed=True)
        for batch_rows, batch_final in chain(self._log.batches(), [(list(rows), final)]):
            again = [row for row in batch_rows if row.line_no not in handed_out]
            if not again:
                continue
            result = run_batch(self.conn, self.handler, again, batch_final)
            total.counts.merge(result.counts)
            total.failures += result.failures
            total.deferred += result.deferred
        return total
