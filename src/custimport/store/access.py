"""What this session may do in the database, found out before the first row is read.

SPEC §12.3: a database the import cannot write to is exit 2 with nothing written,
never a report of rows that all failed (or, on PostgreSQL, of a privilege that was
missing only for the first new row, after thousands of committed updates). What an
import writes depends on its model and mode, so that is what is checked:

* SQLite: a real write, rolled back (an UPDATE of the schema version to itself).
  Permission bits alone do not say it: root writes through them, while a `?mode=ro`
  URL or a read-only mount refuses root too.
* PostgreSQL: read-only transactions (default_transaction_read_only, or a hot standby),
  then the privileges the import's statements need, each asked of the server for the
  table its search_path resolves (`has_table_privilege`), and USAGE on the id sequence
  of every table it inserts into.

It also checks that the search_path resolves custimport's tables in the schema that
holds its alembic_version: a search_path with another schema's `account` first made
an import write there.
"""

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from custimport.config import masked_url
from custimport.errors import DatabaseError

TABLES = ("customer_group", "account", "contact")
# What each model's writes need, by what its modes do (see the handlers' `write`).
CREATES: dict[str, dict[str, tuple[str, ...]]] = {
    "CustomerGroup": {"customer_group": ("INSERT",)},
    # UPDATE account: a new account is linked to a parent created in its batch afterwards
    "Account": {"account": ("INSERT", "UPDATE"), "contact": ("INSERT",)},
    "Contact": {"contact": ("INSERT", "UPDATE")},  # UPDATE: the previous primary is demoted
}
UPDATES: dict[str, dict[str, tuple[str, ...]]] = {
    "CustomerGroup": {"customer_group": ("UPDATE",)},
    # INSERT contact: an INDIVIDUAL account without a primary contact gets one on update
    "Account": {"account": ("UPDATE",), "contact": ("INSERT", "UPDATE")},
    "Contact": {"contact": ("UPDATE",)},
}


# The history (SPEC §8): every import but a dry run records its run, and, unless
# --no-undo, its changes; the run is looked up first (an earlier run of the same file).
HISTORY: dict[str, tuple[str, ...]] = {"import_run": ("SELECT", "INSERT", "UPDATE")}
JOURNAL: dict[str, tuple[str, ...]] = {"import_change": ("SELECT", "INSERT", "UPDATE")}


def needed(
    model: str, *, creates: bool, updates: bool, records: bool = False, journal: bool = False
) -> dict[str, list[str]]:
    """{table: privileges} an import of `model` may use, SELECT on every table it reads
    included; whether it creates and updates rows is what its mode decides (rows/modes),
    whether it `records` its run and `journal`s its changes, its options."""
    wanted: dict[str, list[str]] = {}
    reads = ("customer_group",) if model == "CustomerGroup" else TABLES
    for table in reads:
        wanted[table] = ["SELECT"]
    kinds = [
        (CREATES[model], creates),
        (UPDATES[model], updates),
        (HISTORY, records),
        (JOURNAL, records and journal),
    ]
    for kind, applies in kinds:
        for table, privileges in kind.items() if applies else ():
            wanted.setdefault(table, [])
            wanted[table] += [p for p in privileges if p not in wanted[table]]
    return wanted


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
    """Raise DatabaseError (one line, no password) if this import's writes would be refused.
    `temporary`: it keeps its changes in a temporary table (--changes without a journal)."""
    with engine.connect() as conn:
        try:
            if conn.dialect.name == "sqlite":
                reason = _sqlite_read_only(conn)
            else:
                wanted = needed(
                    model, creates=creates, updates=updates, records=records, journal=journal
                )
                who = f"a {model} import in {mode_name} mode"
                reason = _postgresql_read_only(conn) or _missing_privileges(conn, wanted, who)
                reason = reason or (_no_temporary_tables(conn) if temporary else None)
        finally:
            conn.rollback()
    if reason:
        url = masked_url(engine.url.render_as_string(hide_password=False))
        raise DatabaseError(f"cannot write to the database {url}: {reason}")


def _no_temporary_tables(conn: Connection) -> str | None:
    """--changes with --dry-run or --no-undo keeps the changes in a temporary table."""
    allowed = conn.exec_driver_sql(
        "SELECT has_database_privilege(current_database(), 'TEMPORARY')"
    ).scalar_one()
    if allowed:
        return None
    return (
        "--changes with --dry-run or --no-undo needs TEMPORARY on the database "
        "(GRANT TEMPORARY ON DATABASE ... TO the role), which this role lacks"
    )


def _sqlite_read_only(conn: Connection) -> str | None:
    """A write of the file, rolled back: what really happens, for root as for anyone."""
    from sqlalchemy.exc import OperationalError

    try:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
    except OperationalError as error:
        text = str(error.orig)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return f"{text} (the file or its folder is read-only, or the URL opens it so)"
        raise
    return None


def _postgresql_read_only(conn: Connection) -> str | None:
    read_only, standby = conn.exec_driver_sql(
        "SELECT current_setting('transaction_read_only') = 'on', pg_is_in_recovery()"
    ).one()
    if standby:
        return "the server is a read-only standby (hot standby); import into the primary"
    if read_only:
        return "its transactions are read-only (default_transaction_read_only is on)"
    return None


def _missing_privileges(conn: Connection, wanted: dict[str, list[str]], who: str) -> str | None:
    """The privileges this import needs (`needed`) that the role lacks, asked in one query."""
    checks: list[tuple[str, str]] = []
    for table, privileges in wanted.items():
        checks += [(f"{privilege} on {table}", table) for privilege in privileges]
    inserts = [t for t, p in wanted.items() if "INSERT" in p and t not in JOURNAL]  # keyed by run
    columns = [f"has_table_privilege(%(t{i})s, %(p{i})s)" for i in range(len(checks))]
    params: dict[str, str] = {}
    for i, (what, table) in enumerate(checks):
        params[f"t{i}"], params[f"p{i}"] = table, what.split()[0]
    for j, table in enumerate(inserts):
        columns.append(
            f"has_sequence_privilege(pg_get_serial_sequence(%(s{j})s, 'id'), 'USAGE,UPDATE')"
        )
        params[f"s{j}"] = table
    granted = conn.exec_driver_sql(f"SELECT {', '.join(columns)}", params).one()
    asked = [what for what, _ in checks] + [f"USAGE on the id sequence of {t}" for t in inserts]
    missing = [what for what, has in zip(asked, granted, strict=True) if not has]
    if not missing:
        return None
    role = conn.exec_driver_sql("SELECT current_user").scalar()
    return (
        f"permission denied: role {role} lacks {', '.join(missing)}, which {who} "
        "needs (the README's PostgreSQL section lists the grants)"
    )


def check_search_path(conn: Connection) -> None:
    """Refuse a search_path that resolves one of custimport's tables in a schema other than
    the one holding its alembic_version (the import would read and write there)."""
    if conn.dialect.name != "postgresql":
        return
    names = ("alembic_version", *TABLES)
    query = ", ".join(
        f"(SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.oid = to_regclass('{name}'))"
        for name in names
    )
    schemas = dict(zip(names, conn.exec_driver_sql(f"SELECT {query}").one(), strict=True))
    home = schemas["alembic_version"]
    elsewhere = [
        f"{name} in {schema}" for name, schema in schemas.items() if schema not in (home, None)
    ]
    if home is not None and elsewhere:
        raise DatabaseError(
            f"the search_path finds {', '.join(elsewhere)}, but custimport's schema is in "
            f"{home}: put {home} first in the search_path (or drop the other tables)"
        )
