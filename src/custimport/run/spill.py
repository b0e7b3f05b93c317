"""Rows set aside on disk until later in the import, so memory stays flat.

Three kinds of rows wait, all read back in the order they came: a Contact file's
primary claims (half of its rows), accounts whose parent comes later in the file
when they must be noted once more (waiting_rows.py; about one in a hundred of the
benchmark's, and 10,000 of them kept 15 MB), and the batches written since the last
commit, kept to be written again (transaction.py). One file format serves them all:
each batch is a small pickled header and the pickled rows. A batch that came from
the background reader is kept as the bytes it crossed the pipe in (no pickling
again); kept in memory, a second's worth of batches cost the writer 16 MB.
"""

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from custimport.rows.outcomes import PendingRow


class SpilledRows:
    """An append-only list of batches of pending rows in a temporary file, read back
    whole (`batches`) or in chunks of a size (`chunks`)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def extend(
        self, rows: Sequence[PendingRow], final: bool = False, wire: bytes | None = None
    ) -> None:
        """Add `rows` as one batch. `final`: kept with it for the reader. `wire`: the
        pickled PreparedBatch the rows came in, if they crossed the pipe."""
        if not rows:
            return
        from_worker = wire is not None
        if wire is None:
            wire = pickle.dumps([row.packed() for row in rows], pickle.HIGHEST_PROTOCOL)
        self._file.seek(0, 2)
        pickle.dump((len(wire), final, from_worker), self._file, pickle.HIGHEST_PROTOCOL)
        self._file.write(wire)
        self._count += len(rows)

    def batches(self) -> Iterator[tuple[list[PendingRow], bool]]:
        """Every batch so far, in the order added, with its `final`. One batch is in
        memory at a time; batches added meanwhile are not read."""
        end = self._file.seek(0, 2)
        self._file.seek(0)
        while self._file.tell() < end:
            size, final, from_worker = pickle.load(self._file)
            kept: Any = pickle.loads(self._file.read(size))
            position = self._file.tell()
            yield (kept.rows if from_worker else [PendingRow(*row) for row in kept]), final
            self._file.seek(position)  # the consumer may have added rows meanwhile

    def chunks(self, size: int) -> Iterator[list[PendingRow]]:
        """Every row so far, in the order added, `size` at a time (at most one chunk and
        one stored batch in memory). Rows added meanwhile are not read."""
        chunk: list[PendingRow] = []
        for rows, _final in self.batches():
            chunk.extend(rows)
            while len(chunk) >= size:
                yield chunk[:size]
                chunk = chunk[size:]
        if chunk:
            yield chunk

    def clear(self) -> None:
        """Forget every row."""
        self._file.seek(0)
        self._file.truncate()
        self._count = 0

    def close(self) -> None:
        self._file.close()
