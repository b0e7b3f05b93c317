"""Rows that waited for a parent later in the file: written at the end in one pass, parents first.

A row whose parent is neither in the database nor in its batch waits on disk until
the file has been read. These rows used to be retried in file order until a round
made no progress, and then planned as one batch: a forward chain (each row's
parent is the next row) settled one batch per round, so 100,000 rows took 102 s
(16x the same rows without parents), and a cycle of 100,000 accounts became one
batch that no signal could interrupt and that did not end in 17 minutes
(SPEC §12.4, §12.5).

Now each waiting row's link (own key, parent's key) is noted as it is set aside,
per-key bookkeeping like duplicate detection's, and the rows are ordered once so
that every row comes after the waiting row it needs (parents.order_waiting). Rows
on a cycle of waiting rows fail, then the rows waiting on those (each naming its
parent's line); the rest are written in batches, planned as the file's last
batches (a parent not found by then is missing). Each step is one batch, so a
stop is noticed between any two. The rows stay on disk, each read back by its
position: a spill read in order only would be read once per level of a chain.
"""

import pickle
import tempfile
from array import array
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from custimport.rows.cycles import order_waiting
from custimport.rows.outcomes import FailedRow, PendingRow
from custimport.run.spill import SpilledRows

Link = tuple[Hashable | None, Hashable | None]  # (the row's own key, its parent's key)
Batch = tuple[list[PendingRow], list[FailedRow]]  # rows to write, rows that failed


@runtime_checkable
class WaitsForParents(Protocol):
    """A handler whose rows may wait for another row of the file (accounts: parents)."""

    def link_of(self, data: dict[str, Any]) -> Link:
        """(the row's own key, the key of the row it waits for)."""
        ...

    def fail_waiting(self, row: PendingRow, on_cycle: bool) -> FailedRow:
        """The row's failure: it is on a cycle of waiting rows, or waits on a failed row."""
        ...


def _no_link(_data: dict[str, Any]) -> Link:
    return None, None


class WaitingSpill:
    """Rows set aside in a temporary file, each read back by its position, with their
    links kept in memory; it can forget what was added after a mark."""

    def __init__(self, handler: object) -> None:
        self._link_of = handler.link_of if isinstance(handler, WaitsForParents) else _no_link
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._offsets = array("q")
        self._end = 0
        self.keys: list[Hashable | None] = []
        self.parents: list[Hashable | None] = []

    def __len__(self) -> int:
        return len(self._offsets)

    def extend(self, rows: Iterable[PendingRow]) -> None:
        pieces = []
        end = self._end
        for row in rows:
            piece = pickle.dumps(row.packed(), protocol=pickle.HIGHEST_PROTOCOL)
            pieces.append(piece)
            self._offsets.append(end)
            end += len(piece)
            key, parent = self._link_of(row.data)
            self.keys.append(key)
            self.parents.append(parent)
        if pieces:
            self._file.seek(self._end)
            self._file.write(b"".join(pieces))
            self._end = end

    def mark(self) -> tuple[int, int]:
        """Where the rows end now, for `truncate`."""
        return len(self._offsets), self._end

    def truncate(self, mark: tuple[int, int]) -> None:
        """Forget the rows added since `mark`."""
        count, self._end = mark
        del self._offsets[count:], self.keys[count:], self.parents[count:]
        self._file.truncate(self._end)

    def read(self, positions: Sequence[int]) -> list[PendingRow]:
        """The rows at `positions`, in that order; each run of neighbours is one read."""
        found: dict[int, PendingRow] = {}
        for first, last in _runs(sorted(positions)):
            base = self._offsets[first]
            self._file.seek(base)
            data = memoryview(self._file.read(self._end_of(last) - base))
            for position in range(first, last + 1):
                piece = data[self._offsets[position] - base : self._end_of(position) - base]
                found[position] = PendingRow(*pickle.loads(piece))
        return [found[position] for position in positions]

    def chunks(self, size: int) -> Iterator[list[PendingRow]]:
        """Every row so far, in the order added, `size` at a time."""
        count = len(self)
        for start in range(0, count, size):
            yield self.read(range(start, min(start + size, count)))

    def close(self) -> None:
        self._file.close()

    def _end_of(self, position: int) -> int:
        return self._offsets[position + 1] if position + 1 < len(self._offsets) else self._end


class WaitingRows:
    """The batches that settle every waiting row; `left` counts rows not yet handed out."""

    def __init__(self, handler: object, size: int) -> None:
        self.handler = handler
        self.parents = handler if isinstance(handler, WaitsForParents) else None
        self.size = size
        self.left = 0

    def batches(
        self, waiting: WaitingSpill | SpilledRows, stopped: Callable[[], bool]
    ) -> Generator[Batch, None, None]:
        """Failures first (a cycle's rows, then the rows waiting on them), then the rows
        to write, parents first. A failure is made as its batch is handed out, after the
        batches before it were accounted for, so it can name the line of a parent that
        failed in them. Ends early, with `left` above 0, once `stopped()`."""
        self.left = len(waiting)
        store = waiting if isinstance(waiting, WaitingSpill) else WaitingSpill(self.handler)
        try:
            if store is not waiting:  # rows spilled in order only: noted once more, here
                for rows in waiting.chunks(self.size):
                    if stopped():
                        return
                    store.extend(rows)
            order = order_waiting(store.keys, store.parents)
            for positions, on_cycle in ((order.cycles, True), (order.hanging, False)):
                for chunk in _chunks(positions, self.size):
                    failures = [self._fail(row, on_cycle) for row in store.read(chunk)]
                    self.left -= len(chunk)
                    yield [], failures
            for chunk in _chunks(order.ready, self.size):
                self.left -= len(chunk)
                yield store.read(chunk), []
        finally:
            if store is not waiting:
                store.close()

    def _fail(self, row: PendingRow, on_cycle: bool) -> FailedRow:
        assert self.parents is not None, "only rows with links can wait on a cycle"
        return self.parents.fail_waiting(row, on_cycle)


def _chunks(positions: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(positions), size):
        yield positions[start : start + size]


def _runs(ordered: list[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive positions in an ascending list."""
    index = 0
    while index < len(ordered):
        first = last = ordered[index]
        index += 1
        while index < len(ordered) and ordered[index] == last + 1:
            last = ordered[index]
            index += 1
        yield first, last
