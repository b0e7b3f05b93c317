"""A private temporary SQLite database, for bookkeeping that must not grow in memory
with the file (seen_keys.py: a million keys in a dict took 140 MB; primary_claims.py:
300,000 accounts' claims took 70 MB).

"" opens a temporary on-disk database, deleted when closed. It is used by one thread
at a time, though not always the one that made it: on PostgreSQL the look-ahead thread
reads batches (lookahead.py). Nothing in it needs to be durable, so it keeps no journal
and never waits for the disk.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

LOOKUP_CHUNK = 900  # under SQLite's smallest default limit on host parameters


def open_scratch(cache_kib: int, schema: str, *, autocommit: bool = False) -> sqlite3.Connection:
    """A new scratch database with `schema` (a script) run in it. `autocommit`: the
    caller begins and ends transactions itself."""
    db = sqlite3.connect("", check_same_thread=False)
    if autocommit:
        db.isolation_level = None
    db.executescript(
        f"PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{cache_kib};"
        + schema
    )
    return db


def rows_in(db: sqlite3.Connection, sql: str, values: Sequence[Any]) -> Iterator[Any]:
    """The rows of `sql`, whose one `IN ({marks})` takes `values`, asked in chunks."""
    for start in range(0, len(values), LOOKUP_CHUNK):
        part = values[start : start + LOOKUP_CHUNK]
        yield from db.execute(sql.format(marks=", ".join("?" * len(part))), part)
