"""Writing each batch, in a savepoint or, on SQLite, without one; when a batch fails
in a way only a new transaction answers, the transaction starts again (transaction.py).

A savepoint per batch made SQLite copy every index page the batch touched to a
statement journal first: a sixth of a million-account import. On SQLite the
import holds the database's write lock from its first statement to each commit,
so no other import can race it, and a batch fails only when the database refuses
a row that planning could not foresee (a trigger, a constraint added by hand: a
rare event). So batches go unguarded; when one is refused, the transaction starts
again: every batch since the last commit is written again, each in its own savepoint
(savepoint_write.run_batch), so only the bad rows fail. PostgreSQL, --atomic and
--dry-run keep a savepoint per batch, and so does SQLite for a while after a refusal
(GUARDED_AFTER_REFUSAL). On PostgreSQL a deadlock or a serialization failure with
another import starts the transaction again too.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows.contract import BatchResult, Handler, LostRace, RowFailure, count_written
from custimport.rows.outcomes import PendingRow
from custimport.run.savepoint_write import run_batch
from custimport.run.transaction import Transaction
from custimport.store.db_errors import is_conflict, refuses_row

# After a batch the database refused, SQLite's next batches are written in a savepoint
# until this many in a row were not: where refusals are frequent (5% of the rows of a
# 200,000-account file), each batch was otherwise planned and written twice.
GUARDED_AFTER_REFUSAL = 10


class BatchRefused(Exception):
    """A batch written without a savepoint failed: part of it is in the transaction."""


def run_batch_unguarded(
    conn: Connection, handler: Handler[Any], rows: Sequence[PendingRow], final: bool = False
) -> BatchResult:
    """Plan and write `rows` with no savepoint; BatchRefused if the write fails."""
    plan = handler.plan(conn, rows, final)
    try:
        handler.write(conn, plan.writes)
    except (RowFailure, LostRace) as exc:
        raise BatchRefused() from exc
    except DBAPIError as exc:
        if not refuses_row(exc):
            raise
        raise BatchRefused() from exc
    count_written(plan.writes, plan.counts)
    return BatchResult(plan.counts, plan.failures, plan.deferred)


class BatchWriter:
    """Writes batches into `transaction`, each in a savepoint or, when `unguarded`, as
    the module says. A result with `replayed` stands for every batch since the last
    commit, written again; it leaves out the rows whose failure was handed out since,
    so no failure is handed out twice."""

    def __init__(self, transaction: Transaction, handler: Handler[Any], unguarded: bool) -> None:
        self.transaction = transaction
        self.conn = transaction.conn
        self.handler = handler
        self.unguarded = unguarded
        self._guarded = 0  # batches still to write in a savepoint although unguarded

    def write(
        self, rows: Sequence[PendingRow], final: bool = False, wire: bytes | None = None
    ) -> BatchResult:
        """`wire`: the pickled PreparedBatch the rows came in, if they crossed the pipe."""
        try:
            if self.unguarded and not self._guarded:
                result = run_batch_unguarded(self.conn, self.handler, rows, final)
            else:
                result = run_batch(self.conn, self.handler, rows, final)
        except BatchRefused:
            self._guarded = GUARDED_AFTER_REFUSAL
            return self.transaction.start_again(rows, final)
        except DBAPIError as error:
            if not is_conflict(error):
                raise
            return self.transaction.start_again(rows, final)
        if result.row_by_row:
            self._guarded = GUARDED_AFTER_REFUSAL
        elif self._guarded:
            self._guarded -= 1
        self.transaction.written(rows, final, wire, result)
        return result
