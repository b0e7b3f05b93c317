"""Database errors: which fail one row, which end the import, and words a person can act on.

A refused row (a constraint, a value the column or the database's encoding cannot
hold, a trigger that raises) fails that row alone. Anything else is about the
session (no privilege, a read-only database, a lost connection, a full disk) and
would refuse every row the same way: it ends the import at once instead of
failing a million rows one by one. A deadlock or a serialization failure between
two imports is neither: the transaction is rolled back and its batches written
again (batch_writer.py). PostgreSQL says which by SQLSTATE; SQLite by class.

The constraint names come from the naming convention in models.py, so they are
the same on SQLite and PostgreSQL (SQLite reports UNIQUE failures by columns,
hence the second table).
"""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIModule

# SQLSTATE classes and codes of a refused row: 22 data exception (a value too long, a
# character the database's encoding lacks), 23 integrity constraint violation, 44 WITH
# CHECK OPTION; P0001 and P0004: RAISE EXCEPTION and ASSERT in a trigger.
ROW_SQLSTATE_CLASSES = frozenset({"22", "23", "44"})
ROW_SQLSTATES = frozenset({"P0001", "P0004"})
# 40001 serialization failure, 40P01 deadlock detected: the other import goes on once
# this transaction is rolled back, and this one writes its batches again.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
UNTRANSLATABLE = "22P05"
_COPY_CONTEXT = re.compile(r"COPY (\w+), line (\d+)(?:, column (\w+))?")
_BYTES = re.compile(r"byte sequence ((?:0x[0-9a-f]{2} ?)+)")
_ENCODING = re.compile(r'no equivalent in encoding "([^"]+)"')

BY_CONSTRAINT = {
    "uq_account_account_number": ("account_number", "an account with this number already exists"),
    "uq_contact_account_id_lower_email": (
        "email",
        "another contact of this account already has this email",
    ),
    "uq_contact_one_primary_per_account": (
        "is_primary",
        "this account already has a primary contact",
    ),
    "uq_customer_group_name_key": ("name", "a customer group with this name already exists"),
    "fk_account_parent_account_id_account": ("parent_account", "the parent account does not exist"),
    "fk_account_customer_group_id_customer_group": (
        "customer_group",
        "the customer group does not exist",
    ),
    "fk_contact_account_id_account": ("account", "the account does not exist"),
    "ck_account_not_own_parent": ("parent_account", "an account cannot be its own parent"),
}
BY_SQLITE_TEXT = {
    "account.account_number": BY_CONSTRAINT["uq_account_account_number"],
    "contact.account_id, lower(email)": BY_CONSTRAINT["uq_contact_account_id_lower_email"],
    "index 'uq_contact_account_id_lower_email'": BY_CONSTRAINT["uq_contact_account_id_lower_email"],
    "contact.account_id": BY_CONSTRAINT["uq_contact_one_primary_per_account"],
    "index 'uq_contact_one_primary_per_account'": BY_CONSTRAINT[
        "uq_contact_one_primary_per_account"
    ],
    "customer_group.name_key": BY_CONSTRAINT["uq_customer_group_name_key"],
    "FOREIGN KEY constraint failed": ("row", "a referenced record does not exist"),
}


def describe_row_error(error: DBAPIError) -> tuple[str, str]:
    """(field, message) for a constraint violation; the driver's first line otherwise."""
    original = error.orig
    diag = getattr(original, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint in BY_CONSTRAINT:
        return BY_CONSTRAINT[constraint]
    text = str(original)
    if sqlstate(error) == UNTRANSLATABLE:
        return _untranslatable(error, text)
    for needle, described in (*BY_CONSTRAINT.items(), *BY_SQLITE_TEXT.items()):
        if needle in text:
            return described
    first_line = text.strip().splitlines()[0] if text.strip() else type(original).__name__
    return "row", f"the database refused the row: {first_line}"


def sqlstate(error: DBAPIError) -> str | None:
    """PostgreSQL's code for the error (None on SQLite)."""
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def refuses_row(error: BaseException) -> bool:
    """Whether the database refused a row of the statement (fail that row), rather than
    the session (which would refuse every row: end the import)."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    state = sqlstate(error)
    if state is None:
        return isinstance(error, (IntegrityError, DataError))
    return state[:2] in ROW_SQLSTATE_CLASSES or state in ROW_SQLSTATES


def is_conflict(error: BaseException) -> bool:
    """A deadlock or serialization failure: roll back, write the batches again."""
    return isinstance(error, DBAPIError) and sqlstate(error) in CONFLICT_SQLSTATES


def copy_position(error: BaseException) -> tuple[str, int, str | None] | None:
    """(table, 0-based row, column) of the row a COPY refused, from PostgreSQL's context
    line `COPY account, line 38, column name` (a trigger's own context comes first)."""
    context = getattr(getattr(getattr(error, "orig", None), "diag", None), "context", None)
    found = _COPY_CONTEXT.search(context or "")
    if found is None:
        return None
    return found.group(1), int(found.group(2)) - 1, found.group(3)


def _untranslatable(error: DBAPIError, text: str) -> tuple[str, str]:
    """A character the database's encoding (LATIN1, say) has no place for."""
    encoding = _ENCODING.search(text)
    where = copy_position(error)
    column = f"column {where[2]} holds " if where and where[2] else "a value holds "
    found = _BYTES.search(text)
    try:
        raw = bytes(int(b, 16) for b in found.group(1).split()) if found else b""
        character = f"the character {raw.decode('utf-8')!r}"
    except ValueError:
        character = "a character"
    name = encoding.group(1) if encoding else "its encoding"
    return "row", f"{column}{character}, which this database cannot store (encoding {name})"


# The row a statement refused, noted on its error by the code that ran the statement:
# (index among the statement's rows, how many rows it had). Only statements whose rows
# follow the batch's writes in order, at most one row each, are noted (see run/savepoint_write.py).
_REFUSED_ROW = "custimport_refused_row"


def note_refused_row(error: BaseException, index: int, count: int) -> None:
    if 0 <= index < count:
        setattr(error, _REFUSED_ROW, (index, count))


def refused_row(error: BaseException) -> tuple[int, int] | None:
    """(index, rows) of the statement row `error` was about, if the statement said."""
    found = getattr(error, _REFUSED_ROW, None)
    return found if isinstance(found, tuple) else None


# A way to find every row of the statement that breaks the rule `error` is about (see
# pg_rule_check.py): indexes as in note_refused_row, or None when it cannot tell.
_REFUSED_ALIKE = "custimport_refused_alike"


def note_refused_alike(error: BaseException, find: Callable[[], list[int] | None]) -> None:
    setattr(error, _REFUSED_ALIKE, find)


def refused_alike(error: BaseException) -> list[int] | None:
    """Every row refused for the same reason as the one `error` names (asked once the
    failed statement is rolled back), or None."""
    find = getattr(error, _REFUSED_ALIKE, None)
    if find is None:
        return None
    setattr(error, _REFUSED_ALIKE, None)  # asked once
    found = find()
    return found if isinstance(found, list) else None


def as_sqlalchemy_error(conn: Connection, error: Exception, statement: str) -> StatementError:
    """A driver's `error` wrapped the way Connection wraps errors of the statements it runs.

    COPY and SQLite's executemany (see pg_copy.py and repository.py) go around
    SQLAlchemy, but the batch writer tells a refused row from a lost connection
    (OperationalError, connection_invalidated) by SQLAlchemy's classes, and
    describe_row_error reads the driver's error in `.orig`. A connection the driver
    reports dead is invalidated, as Connection would do.
    """
    dialect = conn.dialect
    gone = dialect.is_disconnect(cast("DBAPIModule.Error", error), conn.connection, None)
    wrapped = DBAPIError.instance(
        statement,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=conn.engine.hide_parameters,
        connection_invalidated=gone,
        dialect=dialect,
    )
    if gone:
        conn.invalidate(error)
    return wrapped
