"""Engines, transactions and migrations.

SQLite gets the documented transaction recipe (Python's sqlite3 driver would
otherwise not emit BEGIN before SAVEPOINT, so a released savepoint could survive
an outer ROLLBACK and a dry run would write), foreign keys, a busy timeout and
BEGIN IMMEDIATE so two imports at once queue instead of failing. Migrations are
found inside the installed package (or the source tree) and run from code.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from custimport.config import default_database_path, has_unencoded_at, masked_url, url_secrets
from custimport.errors import DatabaseError, MigrationBlockedError, SchemaBehindError
from custimport.store import access as db_access

# psycopg logs a warning of its own when a connection dies in the middle of a batch;
# the import reports that failure itself, in one line, so the driver's stays quiet.
logging.getLogger("psycopg").addHandler(logging.NullHandler())
logging.getLogger("psycopg").propagate = False

SQLITE_BUSY_TIMEOUT_S = 60.0
# SQLite's page cache, in KiB. The default 2 MB holds a tenth of the account_number
# index of a million accounts, so each batch re-read most index pages it touched from
# the OS (a million-account import: 13 s of system time in 50 s). 32 MB cut the
# writer's CPU time by 15% and stays inside the 200 MB budget of the whole import.
SQLITE_CACHE_KIB = 32 * 1024
# The newest migration. Every import checks the database against it; reading it from
# the migration scripts would cost importing Alembic (a quarter second) on each run,
# so a test keeps this equal to the scripts' head.
SCHEMA_HEAD = "0005"
APP_TABLES = frozenset({"customer_group", "account", "contact"})
# Text goes to and from PostgreSQL as UTF-8 whatever the database's own encoding. Left to
# the server's, a LATIN1 database made psycopg encode each value itself, and a character
# LATIN1 lacks raised UnicodeEncodeError in the client, past every row's error handling
# (an import ended with "internal error"); the server now refuses that one row with its
# own error. A SQL_ASCII database has no encoding at all, and psycopg returned its text as
# bytes (`db upgrade`, import and export failed with TypeError); as UTF-8 it stores and
# returns exactly what it was given.
SERVER_TEXT = {"client_encoding": "utf8"}
# A PostgreSQL advisory lock (a key of custimport's own, "custscm" in ASCII) held by the
# transaction that creates or migrates the schema. Two imports into an empty database
# both found no tables and both created them: one failed on pg_type's unique index. The
# second now waits for the first to commit and then finds the schema at head.
SCHEMA_LOCK_KEY = 0x6375737473636D


def migrations_path() -> Path:
    """The packaged migrations (wheel), else the repository's `migrations/` (editable install)."""
    package = Path(str(files("custimport")))  # the package's folder, at any module depth
    packaged = package / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    source_tree = package.resolve().parents[1] / "migrations"  # src/custimport -> repository
    if (source_tree / "env.py").is_file():
        return source_tree
    raise DatabaseError("the database migrations are missing from this installation")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their directory checked and the recipe applied."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseError(
            "not a valid database URL (special characters in a password must be URL-encoded, "
            "e.g. @ as %40 and / as %2F)"
        ) from None
    if has_unencoded_at(url):
        raise DatabaseError(
            f"the password in the database URL {masked_url(url)} holds an unencoded @: "
            "write it as %40 (and / as %2F, : as %3A)"
        )
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        _check_sqlite_location(parsed.database)
    connect_args: dict[str, Any] = (
        {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if is_sqlite
        else {"application_name": "custimport", "connect_timeout": 15, **SERVER_TEXT}
    )
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseError(f"unsupported database URL {masked_url(url)}: {exc}") from None
    if is_sqlite:
        _apply_sqlite_recipe(engine)
    return engine


def _check_sqlite_location(database: str | None) -> None:
    """The embedded default's folder is created on first use; a folder named by --db or
    $CUSTIMPORT_DATABASE_URL must exist (a typo should not silently start a new database)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser().resolve()
    folder = path.parent
    if not folder.exists() and path == default_database_path().resolve():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the database folder {folder}: {exc.strerror}"
            ) from None
    if not folder.exists():
        raise DatabaseError(f"the database folder {folder} does not exist")
    if not folder.is_dir():
        raise DatabaseError(f"the database folder {folder} is not a directory")


def _apply_sqlite_recipe(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not manage transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # read-only work (history) passes execution_options(sqlite_deferred=True): a plain
        # BEGIN, which in WAL mode neither waits for nor blocks an import that is writing
        deferred = conn.get_execution_options().get("sqlite_deferred", False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


# An import asks PostgreSQL only for rows by key, in batches. While a table grows from
# empty its statistics lag (autovacuum analyzes it at most once a minute), and the
# planner scanned all of `account` for each batch's 2,000 account numbers: 15 ms at
# 60,000 rows, 57 ms at 270,000; later it started parallel workers for the same
# look-up (20 ms): 10 s of executor time in a million-account import (from
# pg_stat_statements), where an index look-up of 2,000 keys takes 1.5 ms.
KEY_LOOKUP_SETTINGS = ("SET enable_seqscan = off", "SET max_parallel_workers_per_gather = 0")


def plan_for_key_lookups(engine: Engine) -> None:
    """Every PostgreSQL connection of this engine prefers indexes and never starts
    parallel workers (see KEY_LOOKUP_SETTINGS); for the engine of an import only."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for statement in KEY_LOOKUP_SETTINGS:
                cursor.execute(statement)
        dbapi_connection.commit()


def alembic_config(connection: Connection) -> Any:
    from alembic.config import Config  # Alembic loads only when migrations run

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


def head_revision() -> str | None:
    """The head of the migration scripts themselves (SCHEMA_HEAD must equal it)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Migrate to head in one transaction; returns (revision before, revision after).

    On SQLite, Alembic's batch mode rebuilds a table by copying it, which foreign keys
    that point at it would refuse; SQLite's documented procedure is to switch them off
    for the change (outside the transaction) and to check them before committing.
    """
    from alembic import command

    is_sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if is_sqlite:
            _driver(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                _hold_schema_lock(connection)
                before = current_revision(connection)
                tables = set(inspect(connection).get_table_names())
                command.upgrade(alembic_config(connection), "head")
                if is_sqlite:
                    _check_foreign_keys(connection)
                after = current_revision(connection)
        finally:
            if is_sqlite:
                _driver(connection).execute("PRAGMA foreign_keys=ON")
    if before is None and not tables & APP_TABLES:
        _use_write_ahead_log(engine)
    return before, after


def _hold_schema_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for any other custimport creating or migrating this database's
    schema, and hold it off until this transaction ends; the revision is read after it.
    (SQLite's BEGIN IMMEDIATE already lets one writer at a time in.)"""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")


def _driver(connection: Connection) -> Any:
    """The sqlite3 connection itself, for pragmas that must run outside a transaction."""
    return connection.connection.driver_connection


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise MigrationBlockedError(
            f"the upgrade would leave {len(broken)} broken references in {', '.join(tables)}; "
            "nothing was changed"
        )


def _use_write_ahead_log(engine: Engine) -> None:
    """SQLite files custimport creates use WAL journaling: readers (an export, `inspect`
    of the database) do not block an import, and an import of 100,000 accounts took 14%
    less time than with the rollback journal. A database someone else created keeps its
    journal mode (WAL does not suit every file system)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    connection = engine.raw_connection()
    try:
        connection.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
    finally:
        connection.close()


def ensure_schema(engine: Engine) -> None:
    """Create a brand-new database's schema; refuse one that is behind (SPEC §2), or whose
    tables the search_path finds in another schema (db_access.check_search_path)."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        revision = current_revision(connection)
        if revision is not None:
            db_access.check_search_path(connection)
        connection.rollback()
    if not tables & APP_TABLES and revision is None:
        upgrade(engine)
        return
    head = SCHEMA_HEAD
    if revision is None:
        raise DatabaseError(
            "the database has tables but no custimport schema version; "
            "point --db at a custimport database or an empty one"
        )
    if revision != head:
        raise SchemaBehindError(
            f"the database schema is at revision {revision}, this custimport needs {head}: "
            "run `custimport db upgrade`"
        )


def check_writable(
    engine: Engine,
    model: str,
    mode_name: str,
    *,
    creates: bool,
    updates: bool,
    records: bool = False,
    journal: bool = False,
    temporary: bool = False,
) -> None:
    """Refuse, before the first row, a database that would refuse this import's writes: a
    read-only one, or a role without the privileges `model` needs to create and/or update
    (as its mode decides) (SPEC §12.3). Raises DatabaseError with one line and no password."""
    with translated_errors(engine.url.render_as_string(hide_password=False)):
        db_access.check_writable(
            engine,
            model,
            mode_name,
            creates=creates,
            updates=updates,
            records=records,
            journal=journal,
            temporary=temporary,
        )


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Turn driver errors on connect into one line without the password."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseError(describe_db_error(exc, url)) from None


def describe_db_error(exc: BaseException, url: str) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    for secret in url_secrets(url):
        first_line = first_line.replace(secret, "***")
    return f"cannot use the database {masked_url(url)}: {first_line}{_read_only_mount(url)}"


def _read_only_mount(url: str) -> str:
    """A hint when a SQLite file's folder is on a read-only file system: SQLite then says
    only "unable to open database file" (a WAL database needs to write beside it)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database:
            return ""
        folder = Path(parsed.database.removeprefix("file:").split("?")[0]).expanduser().parent
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (ArgumentError, ValueError, OSError):
        return ""
    return " (its folder is on a read-only file system)" if read_only else ""


def missing_sqlite_file(url: str) -> bool:
    """A SQLite URL naming a file that is not there (connecting would create it): the
    commands that only read (`runs`, `duplicates`) must not leave one behind."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False  # make_engine says what is wrong with it
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return False
    if name.startswith("file:"):
        name = name.removeprefix("file:").split("?")[0]
    return not Path(name).expanduser().exists()
