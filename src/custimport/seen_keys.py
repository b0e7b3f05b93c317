"""The keys a file has shown so far, for "duplicate of line N" (SPEC §3: memory must not
grow with the file beyond this bookkeeping, and this keeps even that on disk).

A dict of a million account numbers took 140 MB; a private temporary SQLite database
(deleted when closed) holds them in a few MB of cache and costs about 2 µs a row.
"""

import sqlite3
from collections.abc import Hashable, Sequence

LOOKUP_CHUNK = 900  # under SQLite's smallest default limit on host parameters


def _text(key: Hashable) -> str:
    """One text per key; tuples (contact keys) by repr, which cannot collide with a str key
    of the same import (a model's keys are all of one kind) or with each other."""
    return key if isinstance(key, str) else repr(key)


class SeenKeys:
    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a temporary on-disk database, private to us
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16000;"
            "CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;"
        )

    def first_lines(self, keyed: Sequence[tuple[Hashable, int]]) -> dict[int, int]:
        """For rows (key, line) in file order: line → the earlier line of the same key.

        Rows not in the result are the first of their key and are remembered. Keys are
        inserted first (in key order, so B-tree pages are visited once each); only when
        some insert was ignored, which a file without duplicates never causes, are the
        stored lines read back.
        """
        texts = sorted((_text(key), line) for key, line in keyed)
        before = self._db.total_changes
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO seen (key, line) VALUES (?, ?)", texts)
        if self._db.total_changes - before == len(texts):
            return {}
        stored = self._stored_lines(sorted({text for text, _ in texts}))
        return {line: stored[text] for text, line in texts if stored[text] != line}

    def _stored_lines(self, texts: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(texts), LOOKUP_CHUNK):
            part = texts[start : start + LOOKUP_CHUNK]
            marks = ", ".join("?" * len(part))
            rows = self._db.execute(f"SELECT key, line FROM seen WHERE key IN ({marks})", part)
            found.update(rows)
        return found

    def close(self) -> None:
        self._db.close()
