"""Writing batches, and writing again every batch since the last commit when that is
the way on: after a SQLite batch that went without a savepoint was refused, and after
a deadlock or serialization failure with another import.

A savepoint per batch made SQLite copy every index page the batch touched to a
statement journal first: a sixth of a million-account import. On SQLite the
import holds the database's write lock from its first statement to each commit,
so no other import can race it, and a batch fails only when the database refuses
a row that planning could not foresee (a trigger, a constraint added by hand: a
rare event). So batches go unguarded, and are kept on disk until the commit; when
one is refused, the transaction is rolled back and every batch since the last
commit is written again, each in its own savepoint (batches.run_batch), so only
the bad rows fail. PostgreSQL, --atomic and --dry-run keep a savepoint per batch,
and so does SQLite for a while after a refusal (GUARDED_AFTER_REFUSAL).

On PostgreSQL two imports of the same keys in different orders each wait for the
other's uncommitted rows, and the server breaks the deadlock by failing one
statement. Rolling back only that batch is not enough: the batches before it since
the last commit still hold what the other import waits for, and writing the batch
again would deadlock again. So the whole transaction is rolled back, which lets the
other import through, and its batches are written again from the log, planned
afresh (SPEC §7: retried like a lost race); a serialization failure (a database
whose transactions are SERIALIZABLE) likewise needs a new transaction. So PostgreSQL
keeps the log too: writing each batch's rows to the temporary file cost the writer
27 ms of a 7 s import of 200,000 accounts (profiled).

Rows whose failure was already handed out are not written again: the report counted
them failed, and another import may have changed what made them fail.
"""

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows.contract import BatchResult, Handler, LostRace, RowFailure, count_written
from custimport.rows.outcomes import Counts, PendingRow
from custimport.run.batches import run_batch
from custimport.store.db_errors import is_conflict, refuses_row

# After a batch the database refused, SQLite's next batches are written in a savepoint
# until this many in a row were not: where refusals are frequent (5% of the rows of a
# 200,000-account file), each batch was otherwise planned and written twice.
GUARDED_AFTER_REFUSAL = 10
# Deadlocks in a row before the import gives up (each costs the server's
# deadlock_timeout, a second by default, and lets the other import commit meanwhile).
CONFLICT_RETRIES = 20


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


class ReplayLog:
    """The batches written since the last commit, in a temporary file, in order.

    A batch that came from the worker is kept as the bytes it crossed the pipe in
    (no pickling again); kept in memory, a second's worth cost the writer 16 MB.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def add(self, rows: Sequence[PendingRow], final: bool, wire: bytes | None) -> None:
        if wire is None:
            wire = pickle.dumps([row.packed() for row in rows], pickle.HIGHEST_PROTOCOL)
            from_worker = False
        else:
            from_worker = True
        self._file.seek(0, 2)
        pickle.dump((len(wire), final, from_worker), self._file)
        self._file.write(wire)

    def batches(self) -> Iterator[tuple[list[PendingRow], bool]]:
        end = self._file.seek(0, 2)
        self._file.seek(0)
        while self._file.tell() < end:
            size, final, from_worker = pickle.load(self._file)
            kept = pickle.loads(self._file.read(size))
            yield (kept.rows if from_worker else [PendingRow(*row) for row in kept]), final

    def clear(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    def close(self) -> None:
        self._file.close()


class BatchWriter:
    """Writes batches, each in a savepoint or, when `unguarded`, as the module says.

    The caller must call `committed` after each commit. A replay leaves out the rows
    whose failure was handed out since then, so no failure is handed out twice.
    """

    def __init__(self, conn: Connection, handler: Handler[Any], unguarded: bool) -> None:
        self.conn = conn
        self.handler = handler
        self.unguarded = unguarded
        self._log = ReplayLog()
        self._failed_lines: set[int] = set()  # failures handed out since the last commit
        self._guarded = 0  # batches still to write in a savepoint although unguarded

    def committed(self) -> None:
        self._log.clear()
        self._failed_lines = set()

    def close(self) -> None:
        self._log.close()

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
            return self._replay(rows, final)
        except DBAPIError as error:
            if not is_conflict(error):
                raise
            return self._replay(rows, final)
        if result.row_by_row:
            self._guarded = GUARDED_AFTER_REFUSAL
        elif self._guarded:
            self._guarded -= 1
        self._log.add(rows, final, wire)
        self._failed_lines.update(failure.line_no for failure in result.failures)
        return result

    def _replay(self, rows: Sequence[PendingRow], final: bool) -> BatchResult:
        """Everything since the last commit, again; the result stands for all of it."""
        conflicts = 0
        while True:
            self.conn.rollback()
            try:
                total = self._write_again(rows, final)
            except DBAPIError as error:
                conflicts += 1
                if not is_conflict(error) or conflicts == CONFLICT_RETRIES:
                    raise
                continue
            self.committed()  # the caller commits at once after a row-by-row result
            return total

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
