"""A Contact file's primary claims: the last row that makes a contact primary wins.

"Last" is across the whole file, or re-importing it would move the flag back and
forth between batches. Which claim is last is only known at the end of the file,
so the rows that claim (valid, not duplicates, is_primary true) are set aside on
disk as they are prepared and handed out after every other row, each marked
whether a later row of its account superseded it. Holding them costs a pickle
round trip; the alternative, reading and validating the file twice before the
first write, doubled the time of a Contact import.

Under --max-errors the rows after the limit are never read, so the claims must be
known before the first write: that mode still reads the file twice (`LastClaims`
filled by a first pass).
"""

import sqlite3
from collections.abc import Iterator, Sequence

from custimport.rows import PendingRow
from custimport.spill import SpilledRows

LOOKUP_CHUNK = 900  # under SQLite's smallest default limit on host parameters
SUPERSEDED = "primary_superseded"  # the data key the Contact handler reads


class LastClaims:
    """Per account, the line of the last row that makes one of its contacts primary.

    On disk: a dict of 300,000 accounts kept 70 MB.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a temporary on-disk database, private to us
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000;"
            "CREATE TABLE claim (account TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;"
        )

    def record(self, claims: Sequence[tuple[str, int]]) -> None:
        """(account, line) pairs in file order: a later line replaces an earlier one."""
        with self._db:
            self._db.executemany(
                "INSERT INTO claim (account, line) VALUES (?, ?) "
                "ON CONFLICT (account) DO UPDATE SET line = excluded.line",
                claims,
            )

    def done_recording(self) -> None:
        self._db.execute("CREATE INDEX claim_line ON claim (line)")

    def winners(self, lines: Sequence[int]) -> set[int]:
        """Which of these claiming lines are their account's last claim."""
        found: set[int] = set()
        for start in range(0, len(lines), LOOKUP_CHUNK):
            part = lines[start : start + LOOKUP_CHUNK]
            marks = ", ".join("?" * len(part))
            rows = self._db.execute(f"SELECT line FROM claim WHERE line IN ({marks})", part)
            found.update(line for (line,) in rows)
        return found

    def close(self) -> None:
        self._db.close()


def mark_superseded(rows: Sequence[PendingRow], winners: set[int]) -> None:
    """Claims that are not their account's last are written without taking the flag."""
    for row in rows:
        if row.line_no not in winners:
            row.data[SUPERSEDED] = True


class HeldClaims:
    """Claiming rows set aside until the end of the file, on disk."""

    def __init__(self) -> None:
        self._rows = SpilledRows()
        self._last = LastClaims()

    def hold(self, rows: Sequence[PendingRow]) -> None:
        """Set these rows (in file order, all claiming) aside."""
        if rows:
            self._last.record([(row.data["account"], row.line_no) for row in rows])
            self._rows.extend(rows)

    def released(self, size: int) -> Iterator[list[PendingRow]]:
        """The held rows in file order, `size` at a time, the superseded ones marked."""
        self._last.done_recording()
        for rows in self._rows.chunks(size):
            mark_superseded(rows, self._last.winners([row.line_no for row in rows]))
            yield rows

    def close(self) -> None:
        self._rows.close()
        self._last.close()
