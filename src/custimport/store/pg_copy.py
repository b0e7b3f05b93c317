"""PostgreSQL statements that go around SQLAlchemy, on the same connection and transaction.

COPY: batches of new rows in one statement, inside the caller's savepoint. And
look-ups that must be planned afresh each time (`fetch_planned_now`).

psycopg's executemany pipeline was half the time of importing 100,000 accounts
into PostgreSQL; COPY of the same rows took a third of that. COPY is binary, with
each column's type taken from the models (`binary_types`). COPY goes around
SQLAlchemy (through the same connection, so the same transaction), which is why
its errors are wrapped here into the exceptions SQLAlchemy raises for its own
statements. SQLite keeps executemany: it is in-process and already fast.
"""

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeEngine

from custimport.models import Base
from custimport.store.db_errors import as_sqlalchemy_error, copy_position, note_refused_row
from custimport.store.pg_rule_check import note_rule

if TYPE_CHECKING:
    import psycopg


def copies(conn: Connection, rows: Sequence[Any]) -> bool:
    """COPY for a PostgreSQL batch; a single row (the row-by-row fallback) keeps INSERT."""
    return conn.dialect.name == "postgresql" and len(rows) > 1


def copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    taken_key_is_race: bool,
) -> int:
    """COPY `values` into `table` in the connection's transaction; returns rows written.

    COPY is all or nothing and has no ON CONFLICT. Where the INSERT it replaces says
    ON CONFLICT DO NOTHING (`taken_key_is_race`), a key taken meanwhile returns 0, which
    callers already read as a lost race; they must then raise (LostRace does), because
    the failed COPY has aborted the savepoint. Any other error is raised as SQLAlchemy
    raises it for its own statements, noting which of `values` the server refused (its
    context says `COPY account, line 38`): callers pass rows in the order of their
    writes, at most one each, so the batch writer can split the batch there.
    """
    import psycopg  # loaded only on PostgreSQL: SQLite imports should not pay for it

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(binary_types(table, tuple(columns)))
            written = 0
            for row in values:
                copy.write_row(row)
                written += 1
    except psycopg.errors.UniqueViolation as error:
        if taken_key_is_race:
            return 0
        raise _refused(conn, error, statement, len(values)) from error
    except psycopg.Error as error:
        wrapped = _refused(conn, error, statement, len(values))
        note_rule(wrapped, error, driver, table, columns, values)
        raise wrapped from error
    return written


def _refused(conn: Connection, error: "psycopg.Error", statement: str, rows: int) -> StatementError:
    wrapped = as_sqlalchemy_error(conn, error, statement)
    position = copy_position(wrapped)
    if position is not None:
        note_refused_row(wrapped, position[1], rows)
    return wrapped


@cache
def binary_types(table: str, columns: tuple[str, ...]) -> list[str]:
    """The PostgreSQL type of each column, from the models, for a binary COPY.

    In text format psycopg wrote every value out as text and the server parsed it
    back, timestamps above all: binary COPY of 300,000 accounts took 0.6 µs of client
    CPU a row where text took 3.4, and 8.5 µs of wall time where text took 10.
    """
    table_columns = Base.metadata.tables[table].c
    return [_binary_type(table_columns[column].type) for column in columns]


def _binary_type(column_type: TypeEngine[Any]) -> str:
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, DateTime) and column_type.timezone:
        return "timestamptz"
    if isinstance(column_type, String):
        return "text"  # varchar's binary form is text's
    raise TypeError(f"no binary COPY type for {column_type!r}")


def fetch_planned_now(
    conn: Connection, statement: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """The rows of a look-up planned for these very parameters, never from a cached plan.

    psycopg prepares a statement it has run five times, and PostgreSQL may then keep
    one generic plan for it. Look-ups made while a table was small kept a sequential
    scan with an unhashed `= ANY` filter as the table grew: 0.9 s a query once a new
    database held 100,000 contacts (a 100,000-contact import took 50 s). Unprepared,
    each look-up is planned with its arrays as constants and the table as it is now.
    """
    import psycopg

    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    try:
        with driver.cursor() as cursor:
            cursor.execute(statement, params, prepare=False)
            return cursor.fetchall()
    except psycopg.Error as error:
        raise as_sqlalchemy_error(conn, error, statement) from error


def run_planned_now(conn: Connection, statement: str, params: Sequence[Any]) -> int:
    """`fetch_planned_now` for a statement that returns no rows; its row count. The
    journal's statements join a growing import_change: a generic plan kept from its first
    batches scanned it whole (100,000 updates took 27 s instead of 4)."""
    import psycopg

    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    try:
        with driver.cursor() as cursor:
            cursor.execute(statement, params, prepare=False)
            return int(cursor.rowcount)
    except psycopg.Error as error:
        raise as_sqlalchemy_error(conn, error, statement) from error
