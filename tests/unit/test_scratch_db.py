"""The scratch database's look-up by `IN (...)` asks in chunks SQLite accepts."""

from custimport.run.scratch_db import LOOKUP_CHUNK, open_scratch, rows_in


def test_a_look_up_of_more_values_than_sqlite_takes_at_once_finds_every_row() -> None:
    db = open_scratch(1000, "CREATE TABLE kept (n INTEGER PRIMARY KEY);")
    db.executemany("INSERT INTO kept VALUES (?)", [(n,) for n in range(0, 5000, 2)])
    asked = list(range(3 * LOOKUP_CHUNK + 7))
    found = [n for (n,) in rows_in(db, "SELECT n FROM kept WHERE n IN ({marks})", asked)]
    assert sorted(found) == [n for n in asked if n % 2 == 0]
    assert list(rows_in(db, "SELECT n FROM kept WHERE n IN ({marks})", [])) == []
    db.close()
