"""Writing one batch: one savepoint for the whole batch; only when the database refuses
a row of it, the refused rows are found, in as few statements as it takes.

A handler plans a batch (look-ups, decisions, no writes) and then writes the
planned rows. A row that lost a race with another import (its key appeared between
look-up and insert) makes the batch be planned again, so it is updated instead of
dropped.

If the database refuses a row of the batch (a CHECK constraint added by hand, a
trigger, a character the database's encoding lacks), the savepoint is rolled back
and the batch is split, each part written in a savepoint of its own, until each
refused row stands alone and fails with the database's reason, and every other row
is written. Rows one by one, as this once did, made 5% refused rows cost 10 times a
clean import (20,000 accounts on PostgreSQL: 24 s against 2.6 s): three round
trips a row. Where the refused statement says which of its rows it refused (COPY
does, by line; SQLite's executemany by how far it got), the split is made there: the
rows before it were accepted, and when the statement held one row per write, the
refused one is known without another try. Where it says why (a CHECK constraint or
a NOT NULL column, on PostgreSQL), every row breaking that rule is found at once
(pg_rule_check.py). Elsewhere the part is halved. The rows after a refused one go on
in parts a few times the distance between refusals, so a part rarely holds two. The
parts share one savepoint (part_savepoint.py). 200,000 new accounts, 5% of them
refused by a CHECK constraint, took 3.6 s against 2.9 s clean on PostgreSQL, and
4.3 s against 2.3 s on SQLite (the best of two runs each); row by row they took 99 s
and 22 s.

Only a refused row is split out. A refusal of the whole session (no privilege, a
read-only database, a lost connection: db_errors.refuses_row) would refuse every
row alike; it ends the import at once, as does a deadlock, which transaction.py
answers by writing the transaction again.
"""

from collections.abc import Sequence
from typing import Generic

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows.contract import (
    BatchResult,
    Handler,
    LostRace,
    Plan,
    RowFailure,
    W,
    count_written,
)
from custimport.rows.outcomes import PendingRow, failed
from custimport.store.db_errors import refused_alike, refused_row, refuses_row
from custimport.store.part_savepoint import PartSavepoint

RACE_RETRIES = 3
# After a refused row, the rows that follow are tried in parts of this many times the
# distance to it (at least MIN_PART). On PostgreSQL the rows it accepted before it go
# along with the first part: simulated on 2,000 rows with 100 refused at random, that
# took 169 tries where parts of 4 gaps without the accepted rows took 297, and a try
# costs round trips. On SQLite a try costs only a savepoint, while rows sent again are
# inserted again (the accepted rows carried along made 200,000 accounts with 5% refused
# take 5.1 s against 2.2 clean); there they are written by a try of their own.
PART_PER_GAP = 8
MIN_PART = 16


def run_batch(
    conn: Connection, handler: Handler[W], rows: Sequence[PendingRow], final: bool = False
) -> BatchResult:
    """Plan and write `rows`; every row is counted, failed, or deferred."""
    plan = handler.plan(conn, rows, final)
    for _attempt in range(RACE_RETRIES - 1):
        refusal = write_or_refusal(conn, handler, plan.writes)
        if refusal is None:
            count_written(plan.writes, plan.counts)
            return BatchResult(plan.counts, plan.failures, plan.deferred)
        if not isinstance(refusal, LostRace):
            RefusedRows(conn, handler, plan, final).find(plan.writes, refusal)
            return BatchResult(plan.counts, plan.failures, plan.deferred, row_by_row=True)
        plan = handler.plan(conn, rows, final)
    # lost races every time: the rows are split until each one's race is settled
    RefusedRows(conn, handler, plan, final).find(plan.writes, None)
    return BatchResult(plan.counts, plan.failures, plan.deferred, row_by_row=True)


def write_or_refusal(
    conn: Connection, handler: Handler[W], writes: Sequence[W]
) -> LostRace | RowFailure | DBAPIError | None:
    """Write in a savepoint; what refused a row (the savepoint is then rolled back), or
    None. An error that is not about a row propagates (see the module's last paragraph)."""
    try:
        with conn.begin_nested():
            handler.write(conn, writes)
    except (LostRace, RowFailure) as refusal:
        return refusal
    except DBAPIError as error:
        if not refuses_row(error):
            raise
        return error
    return None


_Part = tuple[list[W], "LostRace | RowFailure | DBAPIError | None", int]


class RefusedRows(Generic[W]):
    """Splits planned writes until every row the database refuses stands alone (failed)
    and every other one is written; parts are written in file order."""

    def __init__(self, conn: Connection, handler: Handler[W], plan: Plan[W], final: bool) -> None:
        self.conn = conn
        self.handler = handler
        self.plan = plan
        self.final = final

    def find(self, writes: list[W], refusal: "LostRace | RowFailure | DBAPIError | None") -> None:
        """`refusal`: what refused `writes` as a whole already (None: try them first)."""
        todo: list[_Part[W]] = [(writes, refusal, 0)]
        with PartSavepoint(self.conn) as savepoint:
            while todo:
                part, refused, races = todo.pop()
                if refused is None:
                    refused = self._try(part, savepoint)
                    if refused is None:
                        count_written(part, self.plan.counts)
                        continue
                todo.extend(reversed(self._split(part, refused, races)))

    def _try(
        self, part: list[W], savepoint: PartSavepoint
    ) -> "LostRace | RowFailure | DBAPIError | None":
        """`write_or_refusal` in the savepoint the parts share."""
        try:
            self.handler.write(self.conn, part)
        except (LostRace, RowFailure) as refusal:
            savepoint.undone()
            return refusal
        except DBAPIError as error:
            if not refuses_row(error):
                raise
            savepoint.undone()
            return error
        savepoint.kept()
        return None

    def _split(
        self, part: list[W], refused: "LostRace | RowFailure | DBAPIError", races: int
    ) -> list[_Part[W]]:
        """The parts to try next for a part that was refused, failing the rows found."""
        if isinstance(refused, LostRace):
            return self._after_race(part, races)
        if len(part) == 1:
            self._fail(part[0], refused)
            return []
        at, exact = _refused_at(refused, len(part))
        alike = refused_alike(refused) if exact else None
        if alike is not None and at in alike:  # every row breaking that rule, known at once
            for index in alike:
                self._fail(part[index], refused)
            failed_now = set(alike)
            rest = [write for index, write in enumerate(part) if index not in failed_now]
            return [(rest, None, 0)] if rest else []
        if exact:
            self._fail(part[at], refused)
            size = max(MIN_PART, PART_PER_GAP * (at + 1))
            accepted, rest = part[:at], part[at + 1 :]
            pieces = [rest[i : i + size] for i in range(0, len(rest), size)] or [[]]
            if len(accepted) <= size and self.conn.dialect.name == "postgresql":
                pieces[0] = accepted + pieces[0]  # sent again with the next part: a try less
            else:
                pieces.insert(0, accepted)
        else:
            cut = at if at > 0 else len(part) // 2
            pieces = [part[:cut], part[cut:]]
        return [(piece, None, 0) for piece in pieces if piece]

    def _after_race(self, part: list[W], races: int) -> list[_Part[W]]:
        """Plan the part again with fresh look-ups; split it when it keeps losing."""
        if races + 1 < RACE_RETRIES:
            again = self.handler.plan(self.conn, [write.row for write in part], self.final)
            self.plan.counts.merge(again.counts)
            self.plan.failures.extend(again.failures)
            self.plan.deferred.extend(again.deferred)
            return [(again.writes, None, races + 1)] if again.writes else []
        if len(part) == 1:
            row = part[0].row
            message = "another import kept changing this row; try again"
            self.plan.failures.append(failed(row, "row", message))
            return []
        half = len(part) // 2
        return [(part[:half], LostRace(), 0), (part[half:], LostRace(), 0)]

    def _fail(self, write: W, refused: "RowFailure | DBAPIError") -> None:
        row = write.row
        if isinstance(refused, RowFailure):
            field_name, message = refused.field_name, refused.message
        else:
            field_name, message = self.handler.describe(refused)
        self.plan.failures.append(failed(row, field_name, message))
        self.handler.note_failure(row.data, row.line_no)  # its dependants can say why


def _refused_at(refused: "RowFailure | DBAPIError", writes: int) -> tuple[int, bool]:
    """(index, exact): the write the refused statement row came from, or the first one it
    can have come from. The statements that say (db_errors.note_refused_row) hold at most
    one row per write, in the writes' order: with one row for each write, the index is
    the write's; with fewer, the write is that one or a later one."""
    found = refused_row(refused)
    if found is None:
        return 0, False
    index, rows = found
    return index, rows == writes
