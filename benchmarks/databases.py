"""Target databases: what is in them (counted with raw SQL) and wiping PostgreSQL between runs.

Counts are read with the drivers directly, never through custimport, so a report
that claims more than was written is caught. psycopg is imported only when a
PostgreSQL URL is used, so SQLite-only runs need nothing beyond the standard library.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline_common import conninfo

APP_TABLES = ("contact", "account", "customer_group", "alembic_version")
_COUNT_ACCOUNTS = "SELECT count(*), count(parent_account_id) FROM account"
_COUNT_CONTACTS = "SELECT count(*) FROM contact"


@dataclass(frozen=True)
class Counts:
    """Rows in the tables an import writes."""

    accounts: int
    parents: int
    contacts: int


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def count_rows(url: str) -> Counts:
    return _count_sqlite(url) if is_sqlite(url) else _count_postgres(url)


def _count_sqlite(url: str) -> Counts:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        accounts, parents = connection.execute(_COUNT_ACCOUNTS).fetchone()
        (contacts,) = connection.execute(_COUNT_CONTACTS).fetchone()
    finally:
        connection.close()
    return Counts(accounts, parents, contacts)


def _count_postgres(url: str) -> Counts:
    import psycopg

    with psycopg.connect(conninfo(url)) as connection:
        accounts, parents = _one(connection.execute(_COUNT_ACCOUNTS).fetchone())
        (contacts,) = _one(connection.execute(_COUNT_CONTACTS).fetchone())
    return Counts(accounts, parents, contacts)


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
