"""Preparing batches in a second process, so reading and validating overlap with writing.

The worker re-opens the file with the format and encoding the importer detected,
runs the same Preparer, and sends each batch through a pipe; the pipe's small
buffer means it works at most about one batch ahead, so memory stays flat. The
worker ignores SIGINT and SIGTERM (the importer decides when to stop and then
ends it) and exits by itself when the importer goes away (its pipe breaks).
"""

import multiprocessing
import pickle
import signal
import sys
import types
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection

from custimport.io.formats import open_source
from custimport.io.source import SourceInfo
from custimport.run.gc_pause import bulk_gc
from custimport.run.prepare import PreparedBatch, Preparer, PreparerSettings

# Below this size a second process costs more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
POLL_S = 0.1  # how often the writer, waiting for a batch, looks at the stop flag


@dataclass(frozen=True)
class _Finished:
    unread: bool  # the worker stopped before the end of the file (--max-errors)
    stopped: str | None  # the file could not be read to its end: where and why


@dataclass(frozen=True)
class _Crashed:
    message: str


class WorkerFailed(Exception):
    """The background reader failed; the message says why."""


def worth_it(info: SourceInfo) -> bool:
    return info.size_bytes >= PARALLEL_MIN_BYTES and (multiprocessing.cpu_count() or 1) > 1


class BackgroundPreparer:
    """Hands out the batches a worker process prepares, in file order."""

    def __init__(self, settings: PreparerSettings) -> None:
        self.settings = settings
        self.unread = False
        self.finished = False
        self.stopped: str | None = None  # the reader could not go on: where and why

    def batches(
        self, interrupted: Callable[[], bool] = lambda: False
    ) -> Generator[PreparedBatch, None, None]:
        """The worker's batches in order; a stop while waiting for one (the worker may be
        scanning the whole file first) ends them within POLL_S, the rest unread."""
        context = multiprocessing.get_context("spawn")  # no inherited database connections
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(target=_work, args=(sender, self.settings), daemon=True)
        with _bare_main():
            worker.start()
        sender.close()  # the worker holds the only writing end: its death ends our reads
        try:
            yield from self._receive(receiver, interrupted)
        finally:
            receiver.close()
            if worker.is_alive():
                worker.kill()
            worker.join()
            if not self.finished:
                self.unread = True  # stopped early: rows were left unread

    def _receive(
        self, receiver: Connection, interrupted: Callable[[], bool]
    ) -> Iterator[PreparedBatch]:
        while True:
            while not receiver.poll(POLL_S):
                if interrupted():
                    return
            try:
                wire = receiver.recv_bytes()
            except EOFError:
                raise WorkerFailed("the background reader stopped unexpectedly") from None
            item = pickle.loads(wire)
            if isinstance(item, PreparedBatch):
                item.wire = wire  # kept by the writer until its commit, in case of a replay
                yield item
            elif isinstance(item, _Finished):
                self.finished = True
                self.unread = item.unread
                self.stopped = item.stopped
                return
            else:
                raise WorkerFailed(item.message)


@contextmanager
def _bare_main() -> Iterator[None]:
    """A spawned child first imports its parent's __main__ module: for us the command
    line (Typer, rich, SQLAlchemy; 24 MB) that the worker never uses. While the worker
    is started, __main__ is an empty module, so the child imports only what `_work`
    needs."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _work(sender: Connection, settings: PreparerSettings) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the importer decides
        signal.signal(signum, signal.SIG_IGN)
    preparer = Preparer(settings)
    try:
        with bulk_gc(), open_source(**settings.source_options) as source:
            for batch in preparer.batches(source, lambda: False, lambda: 0):
                sender.send(batch)
            sender.send(_Finished(preparer.unread, preparer.stopped))
    except (BrokenPipeError, ConnectionResetError):
        return  # the importer is gone or stopped reading
    except Exception as exc:  # anything else is reported by the importer, in one line
        sender.send(_Crashed(f"{type(exc).__name__}: {exc}"))
    finally:
        preparer.close()
