"""Every row of a refused COPY that breaks the same rule, found in one query (PostgreSQL).

A COPY stops at the first row the server refuses, so finding the refused rows of a
batch took a COPY of the rest for each of them, three to four round trips a refused
row: 5% of 200,000 new accounts refused by a CHECK constraint added by hand made an
import take 3.3 times as long as a clean one. When the refusal is a CHECK constraint
or a NOT NULL column (the rules people add by hand), every row of the COPY can be
tested against that very rule at once: a NOT NULL column by its values, a CHECK
constraint by evaluating its expression (as the server stores it) over the rows,
unnested with the columns' own types (only the columns it names: all ten columns of
2,000 accounts, sent as arrays, took 9 ms of psycopg's Python a batch). A rule whose
expression needs a column the COPY does not have, or any other trouble, leaves the
answer to the usual search (batches.RefusedRows). Every row found here breaks the
rule the server named, with the values the COPY would have stored.
"""

import re
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from custimport.store.db_errors import note_refused_alike

if TYPE_CHECKING:
    import psycopg

CHECK_VIOLATION = "23514"
NOT_NULL_VIOLATION = "23502"
EXPRESSION = (
    "SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint "
    "WHERE conname = %s AND conrelid = %s::regclass AND contype = 'c'"
)
COLUMN_TYPES = (
    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
)


def note_rule(
    wrapped: BaseException,
    error: "psycopg.Error",
    driver: "psycopg.Connection[Any]",
    table: str,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
) -> None:
    """Give `wrapped` a way to find all rows breaking the rule `error` names (asked
    only once the caller has rolled the failed COPY back)."""
    diag = error.diag
    column = diag.column_name
    if error.sqlstate == NOT_NULL_VIOLATION and column is not None and column in columns:
        at = list(columns).index(column)
        note_refused_alike(wrapped, lambda: [i for i, row in enumerate(values) if row[at] is None])
    elif error.sqlstate == CHECK_VIOLATION and diag.constraint_name:
        find = partial(_breaking_check, driver, table, columns, values, diag.constraint_name)
        note_refused_alike(wrapped, find)


def _breaking_check(
    driver: "psycopg.Connection[Any]",
    table: str,
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    constraint: str,
) -> list[int] | None:
    """The rows (indexes in `values`) whose columns fail the CHECK expression, or None
    when it cannot be evaluated on them; in a savepoint of its own, so that a failure
    here leaves the caller's transaction as it was."""
    import psycopg

    try:
        with driver.transaction():  # a savepoint, inside the import's transaction
            found = driver.execute(EXPRESSION, (constraint, table)).fetchone()
            if found is None:
                return None
            expression = found[0]
            used = [i for i, c in enumerate(columns) if re.search(rf"\b{c}\b", expression)]
            if not used:
                return None
            types = dict(driver.execute(COLUMN_TYPES, (table,)).fetchall())
            arrays = ", ".join(f"%b::{types[columns[i]]}[]" for i in used)
            query = (
                f"SELECT v.custimport_row FROM unnest({arrays}) WITH ORDINALITY "
                f"AS v({', '.join(columns[i] for i in used)}, custimport_row) "
                f"WHERE NOT ({expression.replace('%', '%%')})"  # % would read as a placeholder
            )
            params = [[row[i] for row in values] for i in used]
            rows = driver.execute(query, params).fetchall()
    except (psycopg.Error, KeyError):
        return None
    return [row[0] - 1 for row in rows]
