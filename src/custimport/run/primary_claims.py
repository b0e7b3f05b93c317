"""A Contact file's primary claims: the last row that makes a contact primary wins.

"Last" is across the whole file, or re-importing it would move the flag back and
forth between batches. A quick scan of just the account and is_primary columns
first finds the accounts that more than one row claims (`ContestedAccounts`);
a claim of any other account is the only one its account has, so it is decided
as it is read. Claims of contested accounts (rare in real files) are set aside
on disk (`HeldClaims`) and handed out after every other row, each marked whether
a later claim of its account superseded it. Holding every claim instead left the
writer alone with a third of a million-contact file at the end (21.6 s, against
19.3-20.1 s with this scan); reading and validating the whole file twice was
slower still (35.6 s). The scan's sort holds 8 bytes a claim, plus a transient
sorted list (36 MB if a million rows claim), early, while both processes are small.

Under --max-errors the rows after the limit are never read, so the claims must be
known before the first write: that mode reads and validates the file twice
(`LastClaims` filled by a first pass).
"""

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from operator import itemgetter
from typing import Any, TypeVar

from custimport.io.formats import open_source
from custimport.rows.keys import SUPERSEDED
from custimport.rows.outcomes import PendingRow
from custimport.run.scratch_db import open_scratch, rows_in
from custimport.run.spill import SpilledRows
from custimport.schemas import TRUE_WORDS


class LastClaims:
    """Per account, the line of the last row that makes one of its contacts primary.

    On disk: a dict of 300,000 accounts kept 70 MB.
    """

    def __init__(self) -> None:
        self._db = open_scratch(
            4000,
            "CREATE TABLE claim (account TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;",
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
        rows = rows_in(self._db, "SELECT line FROM claim WHERE line IN ({marks})", lines)
        return {line for (line,) in rows}

    def close(self) -> None:
        self._db.close()


class ContestedAccounts:
    """The accounts that two or more rows of the file claim, by a scan of two columns.

    The scan reads raw text: a row counts if its is_primary cell reads true, valid or
    not, so it can only find too many accounts (whose claims then wait for the end of
    the file), never too few. Accounts are compared by hash (8 bytes each, sorted once):
    a collision makes two accounts look contested, the same safe side. Counting them
    in a temporary SQLite table instead took 0.7 s for a third of a million claims.
    """

    def __init__(self) -> None:
        self._contested = array("q")  # sorted hashes of accounts claimed more than once

    def scan(
        self,
        source_options: dict[str, Any],
        account: str,
        is_primary: str,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> None:
        """Find the contested accounts of the file `source_options` opens; a stop asked
        for meanwhile ends the scan early (the import then stops before its first row)."""
        with open_source(**source_options) as source:
            header = source.info.header
            pick = itemgetter(header.index(account), header.index(is_primary))
            if source.cell_lists is not None:  # CSV/TSV: cells as parsed, no RawRow each
                width = len(header)
                pairs: Iterable[tuple[str, str]] = (
                    pick(cells)
                    for cells in heeding(source.cell_lists, interrupted)
                    if len(cells) == width
                )
            else:  # a JSON object may lack either key: that row claims nothing
                pairs = (
                    (raw.values.get(account, ""), raw.values.get(is_primary, ""))
                    for raw in heeding(source, interrupted)
                    if raw.error is None
                )
            claims = (acc for acc, flag in pairs if flag.strip().lower() in TRUE_WORDS)
            claimed = array("q", (hash(acc.strip()) for acc in claims))
        in_order = sorted(claimed)
        del claimed
        twice = {h for h, after in pairwise(in_order) if h == after}
        self._contested = array("q", sorted(twice))

    def contested(self, accounts: Iterable[str]) -> set[str]:
        """Which of these (validated) accounts have more than one claiming row."""
        contested, size = self._contested, len(self._contested)
        found = set()
        for account in accounts:
            at = bisect_left(contested, hash(account))
            if at < size and contested[at] == hash(account):
                found.add(account)
        return found

    def close(self) -> None:
        self._contested = array("q")


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


T = TypeVar("T")
HEED_EVERY = 8192  # rows between two looks at the stop flag: well under a millisecond


def heeding(items: Iterable[T], interrupted: Callable[[], bool]) -> Iterator[T]:
    """`items`, ending early once `interrupted()` says so (SPEC §12.5: a signal is acted on
    within a second in every stage, a scan of the whole file included)."""
    for count, item in enumerate(items, 1):
        if count % HEED_EVERY == 0 and interrupted():
            return
        yield item
