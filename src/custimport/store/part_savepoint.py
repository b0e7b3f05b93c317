"""One savepoint, kept and moved by the driver, for the parts of a batch the database refused.

Finding the rows the database refuses takes one try of a part of the batch for each of
them (batches.RefusedRows). With SQLAlchemy's begin_nested each try cost a SAVEPOINT and a
RELEASE or ROLLBACK TO: on PostgreSQL two of the four round trips of a try, on SQLite
most of the Python (27,200 savepoint statements were 7 of the 31 s of a 200,000-account
SQLite import with 5% refused rows, profiled). A savepoint rolled back to stays
established, so a refused try costs only its ROLLBACK TO; a kept one is released and the
next one made in the same round trip on PostgreSQL. SQLAlchemy is not told: it only
sees statements inside its transaction, and every savepoint made here is released or
rolled back to before control returns to it (or the transaction is abandoned with the
error that stopped the batch).
"""

from typing import Any

from sqlalchemy.engine import Connection

from custimport.store.db_errors import as_sqlalchemy_error

NAME = "custimport_part"


class PartSavepoint:
    """`with PartSavepoint(conn) as savepoint:` then, after each try, `kept()` or `undone()`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._driver: Any = None

    def __enter__(self) -> "PartSavepoint":
        if not self.conn.in_transaction():
            self.conn.begin()  # on SQLite, the recipe's BEGIN IMMEDIATE (db.py)
        self._driver = self.conn.connection.driver_connection
        self._run(f"SAVEPOINT {NAME}")
        return self

    def kept(self) -> None:
        """What the last try wrote stays; the next try gets a savepoint of its own."""
        if self.conn.dialect.name == "postgresql":
            self._run(f"RELEASE SAVEPOINT {NAME}; SAVEPOINT {NAME}")  # one round trip
        else:
            self._run(f"RELEASE SAVEPOINT {NAME}")
            self._run(f"SAVEPOINT {NAME}")

    def undone(self) -> None:
        """What the last try wrote is undone; the savepoint stays for the next one."""
        self._run(f"ROLLBACK TO SAVEPOINT {NAME}")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self._run(f"RELEASE SAVEPOINT {NAME}")

    def _run(self, statement: str) -> None:
        try:
            self._driver.execute(statement)
        except self.conn.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(self.conn, error, statement) from error
