"""On PostgreSQL, the next batch is looked up and planned while this batch is written.

The writer waited for the server twice per batch: to find which rows exist, then
to write. Both are the server's work, and our process sat idle meanwhile (1M
accounts: the look-up was 4.3 s of a 38 s import). So a second connection looks
up batch N+1 in a thread while batch N is planned and written; psycopg releases
the GIL while it waits, so the writer goes on. The thread then plans N+1's rows
too (the handler's `look_up` returns a draft), in the time the writer waits for
the server to write N: a million-account import took 35-36 s where it took 38-44.

Why a second connection may answer: it sees only committed rows, and our own
batches since the last commit are invisible to it. But a batch never holds a
key an earlier batch held (a repeated key fails as a duplicate before it reaches
the writer), so those batches cannot hold the rows asked for. What another
import commits after the look-up is caught where it always was: a key taken
meanwhile makes the insert a lost race, and the batch is planned again with its
own look-up. Rows planned again for any reason (a lost race, rows that waited
for a parent) never use a look-up made ahead. A parent is another matter: it may
be in our own uncommitted batches, so a parent the second connection did not find
is asked for again on the import's own connection before the batch is written.

Why a look-up made ahead gives up on a lock after a second: schema changes queue
for their lock behind this import's open transaction, and the second connection's
SELECT queues behind them, while the import waits for that SELECT: a deadlock the
server cannot see (a hung import, seen when a table was dropped during one). The
batch is then looked up on the import's own connection.

The second connection is only ever a help. If it cannot be had, or is lost at any
moment (ended by an administrator, or by the role's idle_session_timeout while the
import waited for a lock), the import goes on without it: each batch is then looked
up on the import's own connection, as before there was a look-ahead. A lost
connection is discarded, never asked again (SQLAlchemy would refuse every later use
of it until a rollback, which ended an import with exit 2 and no report).
"""

import sys
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from custimport.rows.outcomes import PendingRow
from custimport.run.prepare import PreparedBatch
from custimport.signals import interrupts_ignored

_MISSED = object()  # a look-up that could not be made
_Fetched = tuple[PreparedBatch, Any]
LOCK_TIMEOUT = "1s"  # see the module's last paragraph
# While the thread plans (Python, holding the GIL), the writer's answers from the server
# wait for the GIL up to the interpreter's switch interval, 5 ms, at each of a batch's
# round trips. At 1 ms, a million-account import took 33.5 and 34.5 s where it took
# 34.8 and 37.7 s (alternating runs).
SWITCH_INTERVAL_S = 0.001


@runtime_checkable
class LooksAhead(Protocol):
    """A handler whose planning can take a look-up made on another connection."""

    def look_up(self, conn: Connection, rows: list[PendingRow]) -> Any:
        """What planning `rows` looks up, and what can be planned from it without the
        import's own connection (called in the look-ahead thread, while the import's
        thread plans the batch before: it must leave the handler as it is, and return
        what it found for `plan` to take over)."""
        ...

    def prefetched(self, found: Any) -> None:
        """Use `found` when the rows it was looked up for are planned next (once, then
        look up again)."""
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
        self._reader = _open_reader(conn.engine)  # None: the import goes on without it
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custimport-lookup")
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._switch_interval))
        self.held_back = False  # a batch was read but never handed out (the import stopped)

    def batches(self, batches: Iterator[PreparedBatch]) -> Generator[PreparedBatch, None, None]:
        """The same batches in the same order. The thread reads batch N+1 (unpickling a
        batch from the background reader was 1.5 s of the writer's time) and looks it
        up while N is handed out; `batches` is only ever advanced by the thread."""
        fetching: Future[_Fetched | None] | None = self._thread.submit(self._fetch, batches)
        try:
            while fetching is not None:
                fetched, fetching = fetching.result(), None
                if fetched is None:
                    return
                batch, found = fetched
                fetching = self._thread.submit(self._fetch, batches)
                if found is not _MISSED:
                    self.handler.prefetched(found)
                yield batch
        finally:
            self.held_back = self._settle(fetching)

    def _fetch(self, batches: Iterator[PreparedBatch]) -> "_Fetched | None":
        """In the thread: the next batch and its look-up (None at the end of the batches)."""
        batch = next(batches, None)
        if batch is None:
            return None
        return batch, self._look_up(batch.rows)

    def _look_up(self, rows: list[PendingRow]) -> Any:
        """The handler's look-up on the second connection, or _MISSED: the handler then
        looks the rows up on the import's own connection."""
        reader = self._reader
        if reader is None:
            return _MISSED
        try:
            return self.handler.look_up(reader, rows)
        except SQLAlchemyError:  # a lock it would not wait for, or the connection gave way
            if not _usable(reader):
                self._reader = None
                _discard(reader)
            return _MISSED

    @staticmethod
    def _settle(fetching: "Future[_Fetched | None] | None") -> bool:
        """Waits for a read under way when the import stops (the caller closes `batches`
        next, which must not run in two threads at once); True if it read a batch."""
        if fetching is None:
            return False
        with interrupts_ignored():
            try:
                return fetching.result() is not None
            except Exception:  # the import is stopping already; the reader's own error
                return False  # leaves the file unread, which the pipeline reports

    def close(self) -> None:
        """Waits for a look-up under way (a few milliseconds), then closes its connection."""
        with interrupts_ignored():
            self._thread.shutdown(wait=True, cancel_futures=True)
            sys.setswitchinterval(self._switch_interval)
            if self._reader is not None:
                _discard(self._reader, invalidate=False)


def _open_reader(engine: Engine) -> Connection | None:
    """The second connection (autocommit, reads only), or None when it is refused."""
    try:
        reader = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError:  # a server or pooler that allows one connection per client
        return None
    try:
        if engine.dialect.name == "postgresql":
            reader.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    except SQLAlchemyError:
        _discard(reader)
        return None
    return reader


def _usable(reader: Connection) -> bool:
    """Whether a connection whose statement failed can still be asked (a lock timeout
    leaves it so; a terminated session does not)."""
    try:
        if reader.invalidated or reader.closed:
            return False
        driver = reader.connection.driver_connection
    except SQLAlchemyError:
        return False
    return not (getattr(driver, "closed", False) or getattr(driver, "broken", False))


def _discard(reader: Connection, invalidate: bool = True) -> None:
    """Close the connection. A lost one is invalidated first: handed back to the pool,
    its reset would fail and the pool would log a traceback on stderr."""
    with suppress(SQLAlchemyError):
        if invalidate and not reader.closed:
            reader.invalidate()
        reader.close()
