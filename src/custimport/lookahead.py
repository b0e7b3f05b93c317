"""On PostgreSQL, the next batch's look-up runs while this batch is written.

The writer waited for the server twice per batch: to find which rows exist, then
to write. Both are the server's work, and our process sat idle meanwhile (1M
accounts: the look-up was 4.3 s of a 38 s import). So a second connection looks
up batch N+1 in a thread while batch N is planned and written; psycopg releases
the GIL while it waits, so planning goes on.

Why a second connection may answer: it sees only committed rows, and our own
batches since the last commit are invisible to it. But a batch never holds a
key an earlier batch held (a repeated key fails as a duplicate before it reaches
the writer), so those batches cannot hold the rows asked for. What another
import commits after the look-up is caught where it always was: a key taken
meanwhile makes the insert a lost race, and the batch is planned again with its
own look-up. Rows planned again for any reason (a lost race, rows that waited
for a parent) never use a look-up made ahead.
"""

from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.engine import Connection

from custimport.prepare import PreparedBatch
from custimport.rows import PendingRow
from custimport.signals import interrupts_ignored


@runtime_checkable
class LooksAhead(Protocol):
    """A handler whose planning can take a look-up made on another connection."""

    def look_up(self, conn: Connection, rows: list[PendingRow]) -> Any:
        """What planning `rows` looks up first (called in the look-ahead thread)."""
        ...

    def prefetched(self, rows: list[PendingRow], found: Any) -> None:
        """Use `found` when these very rows are planned next (once, then look up again)."""
        ...


def ahead_handler(conn: Connection, handler: object) -> LooksAhead | None:
    """The handler, if its look-ups should run ahead: on PostgreSQL only. On SQLite a
    look-up is in-process, with no waiting to hide; tried there, a thread and a second
    connection made re-importing 1M accounts slower (15-16 s against 14 s)."""
    if conn.dialect.name == "postgresql" and isinstance(handler, LooksAhead):
        return handler
    return None


class Lookahead:
    """Wraps the batches: each is handed out with its look-up done or under way."""

    def __init__(self, conn: Connection, handler: LooksAhead) -> None:
        self.handler = handler
        self._reader = conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custimport-lookup")
        self.held_back = False  # a batch was read but never handed out (the import stopped)

    def batches(self, batches: Iterator[PreparedBatch]) -> Generator[PreparedBatch, None, None]:
        """The same batches in the same order; batch N+1's look-up starts before N is
        handed out."""
        waiting: tuple[PreparedBatch, Future[Any]] | None = None
        try:
            for batch in batches:
                started = self._thread.submit(self.handler.look_up, self._reader, batch.rows)
                if waiting is not None:
                    yield self._ready(*waiting)
                waiting = batch, started
            if waiting is not None:
                last, waiting = waiting, None
                yield self._ready(*last)
        finally:
            self.held_back = waiting is not None

    def _ready(self, batch: PreparedBatch, look_up: Future[Any]) -> PreparedBatch:
        self.handler.prefetched(batch.rows, look_up.result())
        return batch

    def close(self) -> None:
        """Waits for a look-up under way (a few milliseconds), then closes its connection."""
        with interrupts_ignored():
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._reader.close()
