"""Target databases: what is in them (counted with raw SQL) and wiping PostgreSQL between runs.

Counts are read with the drivers directly, never through custimport, so a report
that claims more than was written is caught, and so is a run whose history (SPEC §8:
import_run, import_change) disagrees with it. psycopg is imported only when a
PostgreSQL URL is used, so SQLite-only runs need nothing beyond the standard library.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline_common import conninfo

APP_TABLES = (
    "import_change",
    "import_run",
    "contact",
    "account",
    "customer_group",
    "alembic_version",
)
_COUNT_ACCOUNTS = "SELECT count(*), count(parent_account_id) FROM account"
_COUNT_CONTACTS = "SELECT count(*) FROM contact"
# the update variant's marks (accounts_data._updated): every name, every primary's phone
_COUNT_RENAMED = "SELECT count(*) FROM account WHERE name LIKE '% (renamed)'"
_COUNT_NEW_PHONES = "SELECT count(*) FROM contact WHERE phone LIKE '+44 20%'"
_RUN = "SELECT status, journal FROM import_run WHERE id = {}"
_RUN_CHANGES = "SELECT count(*) FROM import_change WHERE run_id = {}"


@dataclass(frozen=True)
class Counts:
    """Rows in the tables an import writes."""

    accounts: int
    parents: int
    contacts: int


@dataclass(frozen=True)
class RunRecord:
    """A run as the database recorded it: status, journal mode and its change records."""

    status: str
    journal: str
    changes: int


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def count_rows(url: str) -> Counts:
    (accounts, parents), (contacts,) = _query(url, (_COUNT_ACCOUNTS, _COUNT_CONTACTS))
    return Counts(accounts, parents, contacts)


def update_marks(url: str) -> tuple[int, int]:
    """Accounts renamed and contact phones changed by the update variant (0, 0 before it)."""
    renamed, phones = _query(url, (_COUNT_RENAMED, _COUNT_NEW_PHONES))
    return int(renamed[0]), int(phones[0])


def run_record(url: str, run: int) -> RunRecord | None:
    """Run `run`'s import_run row and how many import_change rows it has; None if absent."""
    found, (changes,) = _query(url, (_RUN.format(int(run)), _RUN_CHANGES.format(int(run))))
    if not found:
        return None
    status, journal = found
    return RunRecord(str(status), str(journal), int(changes))


def _query(url: str, statements: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The first row of each statement (an empty tuple when there is none), in one connection."""
    return _query_sqlite(url, statements) if is_sqlite(url) else _query_postgres(url, statements)


def _query_sqlite(url: str, statements: tuple[str, ...]) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return [connection.execute(sql).fetchone() or () for sql in statements]
    finally:
        connection.close()


def _query_postgres(url: str, statements: tuple[str, ...]) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(conninfo(url)) as connection:
        return [connection.execute(sql).fetchone() or () for sql in statements]


def wipe_postgres(url: str) -> None:
    """Drop custimport's tables so `custimport db upgrade` starts from an empty database.

    Refuses a database that holds other tables: the URL should name a scratch
    database, and a typo must not cost someone their data.
    """
    import psycopg

    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
        foreign = sorted({name for (name,) in rows} - set(APP_TABLES))
        if foreign:
            raise SystemExit(
                f"error: the PostgreSQL database holds tables custimport does not own "
                f"({', '.join(foreign)}); point --postgres-url at a scratch database"
            )
        connection.execute(f"DROP TABLE IF EXISTS {', '.join(APP_TABLES)} CASCADE")


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(conninfo(url)) as connection:
        (version,) = _one(connection.execute("SHOW server_version").fetchone())
    return str(version)


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if row is None:
        raise RuntimeError("an aggregate query returned no row")
    return row


def settle_postgres(url: str) -> bool:
    """CHECKPOINT before a timed run, so neither side pays for the other's writes.

    Without it the run after the baseline wrote out the baseline's million rows of
    dirty pages and WAL while it was being timed (measured: 42 s against 39 s for
    the same import). Needs the pg_checkpoint role (PostgreSQL 15) or a superuser;
    returns False, and the run goes on, when the role lacks it.
    """
    import psycopg

    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        try:
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True
