"""SQLite batches without a savepoint each, made safe by writing them again on refusal.

A savepoint per batch made SQLite copy every index page the batch touched to a
statement journal first: a sixth of a million-account import. On SQLite the
import holds the database's write lock from its first statement to each commit,
so no other import can race it, and a batch fails only when the database refuses
a row that planning could not foresee (a trigger, a constraint added by hand: a
rare event). So batches go unguarded, and are kept on disk until the commit; when
one is refused, the transaction is rolled back and every batch since the last
commit is written again, each in its own savepoint (batches.run_batch), so only
the bad rows fail. PostgreSQL, --atomic and --dry-run keep a savepoint per batch.
"""

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from custimport.batches import BatchResult, Handler, LostRace, RowFailure, count_written, run_batch
from custimport.rows import Counts, PendingRow


class BatchRefused(Exception):
    """A batch written without a savepoint failed: part of it is in the transaction."""


def run_batch_unguarded(
    conn: Connection, handler: Handler[Any], rows: Sequence[PendingRow], final: bool = False
) -> BatchResult:
    """Plan and write `rows` with no savepoint; BatchRefused if the write fails."""
    plan = handler.plan(conn, rows, final)
    try:
        handler.write(conn, plan.writes)
    except (IntegrityError, RowFailure, LostRace) as exc:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
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

    The caller must call `committed` after each commit. Failures a replay finds again
    (they were found while planning, before the refusal) are not handed out twice.
    """

    def __init__(self, conn: Connection, handler: Handler[Any], unguarded: bool) -> None:
        self.conn = conn
        self.handler = handler
        self.unguarded = unguarded
        self._log = ReplayLog()
        self._failed_lines: set[int] = set()  # failures handed out since the last commit

    def committed(self) -> None:
        self._log.clear()
        self._failed_lines = set()

    def close(self) -> None:
        self._log.close()

    def write(
        self, rows: Sequence[PendingRow], final: bool = False, wire: bytes | None = None
    ) -> BatchResult:
        """`wire`: the pickled PreparedBatch the rows came in, if they crossed the pipe."""
        if not self.unguarded:
            return run_batch(self.conn, self.handler, rows, final)
        try:
            result = run_batch_unguarded(self.conn, self.handler, rows, final)
        except BatchRefused:
            return self._replay(rows, final)
        self._log.add(rows, final, wire)
        self._failed_lines.update(failure.line_no for failure in result.failures)
        return result

    def _replay(self, rows: Sequence[PendingRow], final: bool) -> BatchResult:
        """Everything since the last commit, again; the result stands for all of it."""
        self.conn.rollback()
        handed_out = self._failed_lines
        total = BatchResult(Counts(), [], [], row_by_row=True, replayed=True)
        for batch_rows, batch_final in [*self._log.batches(), (list(rows), final)]:
            result = run_batch(self.conn, self.handler, batch_rows, batch_final)
            total.counts.merge(result.counts)
            total.failures += [f for f in result.failures if f.line_no not in handed_out]
            total.deferred += result.deferred
        self.committed()  # the caller commits at once after a row-by-row result
        return total
