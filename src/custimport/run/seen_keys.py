"""The keys a file has shown so far, for "duplicate of line N" (SPEC §3: memory must not
grow with the file beyond this bookkeeping, and this keeps even that on disk).

A dict of a million account numbers took 140 MB; a private temporary SQLite database
(deleted when closed) holds them in a few MB of cache. Keyed by their text, a million
contact keys made a B-tree four times the cache, and looking them up cost 6 µs a row,
a third of the background reader's time. So each key is looked up by a 64-bit hash
(an integer primary key: 14 bytes a key, the whole index in cache), and its text is
appended to a second table by line number, read only when a hash is seen again, to
tell a duplicate from a hash collision. A collision (about one in 10^8 files of a
million rows) is then kept by text in a third table, so the result stays exact.
"""

from collections.abc import Callable, Hashable, Sequence

from custimport.run.scratch_db import open_scratch, rows_in


def _text(key: Hashable) -> str:
    """One text per key; tuples (contact keys) by repr, which cannot collide with a str key
    of the same import (a model's keys are all of one kind) or with each other."""
    return key if isinstance(key, str) else repr(key)


class SeenKeys:
    def __init__(self, hash_of: Callable[[str], int] = hash) -> None:
        """`hash_of`: str's own hash (64 bits, salted per process; this object never
        leaves its process); tests pass a poor one to make collisions happen."""
        self._hash = hash_of
        self._db = open_scratch(
            16000,
            "CREATE TABLE seen (hash INTEGER PRIMARY KEY, line INTEGER NOT NULL);"
            "CREATE TABLE text_of (line INTEGER PRIMARY KEY, key TEXT NOT NULL);"
            "CREATE TABLE collided (key TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;"
            "BEGIN;",  # one transaction for the whole file: nothing here needs to be durable
            autocommit=True,
        )

    def first_lines(self, keyed: Sequence[tuple[Hashable, int]]) -> dict[int, int]:
        """For rows (key, line) in file order: line → the earlier line of the same key.

        Rows not in the result are the first of their key and are remembered. Hashes are
        inserted first (in order, so B-tree pages are visited once each); only when one
        was there already, which a file without duplicates almost never causes, are the
        stored lines and texts read back.
        """
        texts = [(line, _text(key)) for key, line in keyed]
        hash_of = self._hash
        hashed = sorted((hash_of(text), line) for line, text in texts)
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO seen (hash, line) VALUES (?, ?)", hashed)
        self._db.executemany("INSERT INTO text_of (line, key) VALUES (?, ?)", texts)
        if self._db.total_changes - before == 2 * len(texts):
            return {}
        return self._earlier_lines(texts)

    def _earlier_lines(self, texts: list[tuple[int, str]]) -> dict[int, int]:
        """The rows whose hash was there already: duplicates, or (rarely) collisions."""
        first_line = self._first_lines_of(sorted({self._hash(text) for _, text in texts}))
        earlier: dict[int, int] = {}
        for line, text in texts:
            first = first_line[self._hash(text)]
            if first == line:
                continue  # this row put the hash there
            if self._text_of(first) == text:
                earlier[line] = first
            elif (kept := self._keep_collided(text, line)) != line:
                earlier[line] = kept
        return earlier

    def _first_lines_of(self, hashes: list[int]) -> dict[int, int]:
        sql = "SELECT hash, line FROM seen WHERE hash IN ({marks})"
        return dict(rows_in(self._db, sql, hashes))

    def _text_of(self, line: int) -> str:
        row = self._db.execute("SELECT key FROM text_of WHERE line = ?", (line,)).fetchone()
        return str(row[0])

    def _keep_collided(self, text: str, line: int) -> int:
        """The first line of a key whose hash another key took first (this line if new)."""
        self._db.execute("INSERT OR IGNORE INTO collided (key, line) VALUES (?, ?)", (text, line))
        row = self._db.execute("SELECT line FROM collided WHERE key = ?", (text,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()
