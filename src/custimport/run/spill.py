"""Rows set aside on disk until later in the import, so memory stays flat.

Two kinds of rows wait: accounts whose parent comes later in the file (about one
in a hundred of the benchmark's; 10,000 of them kept 15 MB), and a Contact file's
primary claims (half of its rows). Both are read back in the order they came.
"""

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from custimport.rows.outcomes import PendingRow


class SpilledRows:
    """An append-only list of pending rows in a temporary file, read back in chunks."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def extend(self, rows: Iterable[PendingRow]) -> None:
        packed = [row.packed() for row in rows]
        if packed:
            self._file.seek(0, 2)
            pickle.dump(packed, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._count += len(packed)

    def mark(self) -> tuple[int, int]:
        """Where the rows end now, for `truncate`."""
        return self._count, self._file.seek(0, 2)

    def truncate(self, mark: tuple[int, int]) -> None:
        """Forget the rows added since `mark`."""
        self._count, end = mark
        self._file.truncate(end)

    def chunks(self, size: int) -> Iterator[list[PendingRow]]:
        """Every row so far, in the order added, `size` at a time (at most one chunk and
        one stored piece in memory). Rows added meanwhile are not read."""
        end = self._file.seek(0, 2)
        self._file.seek(0)
        chunk: list[PendingRow] = []
        while self._file.tell() < end:
            stored: list[tuple[Any, ...]] = pickle.load(self._file)
            position = self._file.tell()
            chunk.extend(PendingRow(*row) for row in stored)
            while len(chunk) >= size:
                yield chunk[:size]
                chunk = chunk[size:]
            self._file.seek(position)  # the consumer may have added rows meanwhile
        if chunk:
            yield chunk

    def close(self) -> None:
        self._file.close()
