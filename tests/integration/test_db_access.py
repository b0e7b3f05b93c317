"""What a role may do, found out before the first row (SPEC §12.3; store/access.py).

The README lists the grants an importing role needs on PostgreSQL; these tests run
those very statements (read from the README) and every model and mode with them, then
take one privilege away at a time: an import that needs it stops with exit 2 and one
line naming it, before reading, and one that does not need it runs. A search_path that
finds another schema's `account` first is refused the same way.
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from custimport.errors import DatabaseError
from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    Run,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from pg_server import PostgresServer

README = Path(__file__).resolve().parents[2] / "README.md"
MODES = ("create_only", "create_update", "update_only")


def readme_grants(role: str) -> list[str]:
    """The GRANT statements of the README's PostgreSQL section, for `role`."""
    section = README.read_text(encoding="utf-8").split("## PostgreSQL", 1)[1]
    block = section.split("```sql", 1)[1].split("```", 1)[0]
    statements = [s.strip() for s in block.split(";") if s.strip()]
    assert statements and all(s.startswith("GRANT ") for s in statements), statements
    return [s.replace("app_user", role) for s in statements]


def assert_refused_before_reading(run: Run, *fragments: str) -> None:
    assert run.exit_code == 2, (run.exit_code, run.stdout[-1000:], run.stderr[-1000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not run.stdout.strip() or run.report["rows"]["read"] == 0


@pytest.fixture
def owner_url(tmp_path: Path, postgres_url: str) -> str:
    """A database with groups, accounts (one INDIVIDUAL) and contacts, as its owner made them."""
    seed_groups(tmp_path, postgres_url)
    accounts = [account_row("O-1"), account_row("O-2", group="Retail", first="Al", last="Bo")]
    assert (
        run_import(
            write_csv(tmp_path / "o.csv", ACCOUNTS_HEADER, accounts), "Account", postgres_url
        ).exit_code
        == 0
    )
    contacts = [["O-1", "Cy", "Do", "cy@x.com", "", "yes"]]
    assert (
        run_import(
            write_csv(tmp_path / "oc.csv", CONTACTS_HEADER, contacts), "Contact", postgres_url
        ).exit_code
        == 0
    )
    return postgres_url


@pytest.fixture
def role_url(owner_url: str, pg_server: PostgresServer) -> Iterator[Callable[..., str]]:
    """`grant(*statements)`: the URL of a new login role given these statements (with
    `app_user` standing for it), run by the tables' owner."""
    roles: list[str] = []

    def grant(*statements: str) -> str:
        role = f"importer_{uuid.uuid4().hex[:8]}"
        roles.append(role)
        pg_server.admin_execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'importer-pw'").format(sql.Identifier(role))
        )
        for statement in statements:
            execute(owner_url, statement.replace("app_user", role))
        url = make_url(owner_url).set(username=role, password="importer-pw")
        return url.render_as_string(hide_password=False)

    yield grant
    admin = pg_server.superuser_url(make_url(owner_url).database or "")
    for role in roles:
        execute(admin, f'DROP OWNED BY "{role}"')
        pg_server.admin_execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def files(tmp_path: Path) -> dict[str, Path]:
    """Per model, a file that both creates and updates (parents and primary contacts too)."""
    return {
        "CustomerGroup": write_csv(
            tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "individual"], ["Newgroup", "BUSINESS"]]
        ),
        "Account": write_csv(
            tmp_path / "a.csv",
            ACCOUNTS_HEADER,
            [
                account_row("O-1", "Renamed"),
                account_row("O-2", group="Retail", first="Al", last="Changed"),
                account_row("N-1"),
                account_row("N-2", parent="N-1"),
                account_row("N-3", group="Retail", first="Ed", last="Fu"),
            ],
        ),
        "Contact": write_csv(
            tmp_path / "c.csv",
            CONTACTS_HEADER,
            [
                ["O-1", "Cy", "Changed", "cy@x.com", "", "yes"],
                ["O-1", "Gu", "Ha", "gu@x.com", "", "yes"],
            ],
        ),
    }


@pytest.mark.postgres
def test_a_role_with_exactly_the_readmes_grants_imports_every_model_in_every_mode(
    tmp_path: Path, role_url: Callable[..., str]
) -> None:
    url = role_url(*readme_grants("app_user"))
    for mode in MODES:
        for model, path in files(tmp_path).items():
            run = run_import(path, model, url, "--mode", mode)
            assert (run.exit_code, run.rows["failed"]) == (0, 0), (model, mode, run.stderr)
    assert fetch(url, "SELECT count(*) FROM account") == [(5,)]
    for model in ("CustomerGroup", "Account", "Contact"):
        export = cli("export", "--model", model, "--db", url, "-o", tmp_path / f"{model}.csv")
        assert export.exit_code == 0, export.stderr
    assert cli("db", "current", "--db", url).exit_code == 0


LESS_THAN_THE_README = [
    # (model, mode, the grant taken away, what the one line names, or None: it still runs)
    ("Account", "create_update", "REVOKE INSERT ON contact FROM app_user", "INSERT on contact"),
    ("Account", "create_only", "REVOKE UPDATE ON account FROM app_user", "UPDATE on account"),
    ("Account", "update_only", "REVOKE INSERT ON contact FROM app_user", "INSERT on contact"),
    ("Account", "update_only", "REVOKE INSERT ON account FROM app_user", None),
    ("Contact", "create_only", "REVOKE USAGE ON SEQUENCE contact_id_seq FROM app_user",
     "USAGE on the id sequence of contact"),
    ("Contact", "update_only", "REVOKE INSERT ON contact FROM app_user", None),
    ("Contact", "create_update", "REVOKE SELECT ON customer_group FROM app_user",
     "SELECT on customer_group"),
    ("CustomerGroup", "update_only", "REVOKE INSERT ON customer_group FROM app_user", None),
    ("CustomerGroup", "create_only", "REVOKE UPDATE ON customer_group FROM app_user", None),
    ("CustomerGroup", "create_update", "REVOKE SELECT ON alembic_version FROM app_user",
     "permission denied for table alembic_version"),
]  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize(("model", "mode", "revoke", "named"), LESS_THAN_THE_README)
def test_an_import_missing_a_privilege_it_needs_stops_before_reading(
    tmp_path: Path,
    owner_url: str,
    role_url: Callable[..., str],
    model: str,
    mode: str,
    revoke: str,
    named: str | None,
) -> None:
    url = role_url(*readme_grants("app_user"), revoke)
    before = fetch(owner_url, "SELECT count(*), max(updated_at) FROM account")
    contacts_before = fetch(owner_url, "SELECT count(*), max(updated_at) FROM contact")
    run = run_import(files(tmp_path)[model], model, url, "--mode", mode)
    if named is None:
        assert (run.exit_code, run.rows["failed"]) == (0, 0), run.stderr
        return
    assert_refused_before_reading(run, named, "permission denied")
    assert "importer-pw" not in run.stdout + run.stderr
    assert fetch(owner_url, "SELECT count(*), max(updated_at) FROM account") == before
    assert fetch(owner_url, "SELECT count(*), max(updated_at) FROM contact") == contacts_before


@pytest.mark.postgres
def test_a_search_path_that_finds_another_schemas_account_first_is_refused(
    tmp_path: Path, owner_url: str
) -> None:
    """The import would have written to other.account, unnoticed by the schema version
    check (alembic_version is found in public)."""
    name = make_url(owner_url).database
    execute(owner_url, "CREATE SCHEMA other")
    execute(owner_url, "CREATE TABLE other.account (id serial, account_number text)")
    execute(
        owner_url, f'ALTER ROLE custimport IN DATABASE "{name}" SET search_path = other, public'
    )
    before = fetch(owner_url, "SELECT count(*), max(updated_at) FROM public.account")
    run = run_import(files(tmp_path)["Account"], "Account", owner_url)
    assert_refused_before_reading(run, "search_path", "account in other", "public")
    export = cli("export", "--model", "Account", "--db", owner_url, "-o", tmp_path / "x.csv")
    assert export.exit_code == 2 and "search_path" in export.stderr
    assert fetch(owner_url, "SELECT count(*) FROM other.account") == [(0,)]
    assert fetch(owner_url, "SELECT count(*), max(updated_at) FROM public.account") == before


# --- read-only databases, asked directly (the import asks the same before reading) -------


def refused(url: str) -> str:
    engine = db.make_engine(url)
    try:
        with pytest.raises(DatabaseError) as raised:
            db.check_writable(engine, "Account", "create_update", creates=True, updates=True)
    finally:
        engine.dispose()
    return str(raised.value)


def test_a_sqlite_file_opened_read_only_cannot_take_writes(tmp_path: Path, sqlite_url: str) -> None:
    seed_groups(tmp_path, sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    message = refused(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert "cannot write to the database" in message and "readonly" in message
    engine = db.make_engine(sqlite_url)
    try:
        db.check_writable(
            engine, "Account", "create_update", creates=True, updates=True
        )  # the same file, writable
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgresql_database_with_read_only_transactions_cannot_take_writes(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    seed_groups(tmp_path, postgres_url)
    name = make_url(postgres_url).database
    execute(postgres_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    message = refused(postgres_url)
    assert "read-only" in message and pg_server.password not in message


@pytest.mark.postgres
def test_a_database_without_temporary_tables_imports_and_says_what_changes_needs(
    tmp_path: Path, owner_url: str, role_url: Callable[..., str], pg_server: PostgresServer
) -> None:
    """A common hardening revokes TEMPORARY from PUBLIC: the journal does without temporary
    tables on PostgreSQL, so imports (and --changes from the journal) go on; only --changes
    without a journal (--dry-run, --no-undo) needs them, and says so before reading."""
    database = make_url(owner_url).database or ""
    execute(
        pg_server.superuser_url(database), f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC'
    )
    url = role_url(*readme_grants("app_user"))
    for model, path in files(tmp_path).items():
        run = run_import(path, model, url, "--changes", tmp_path / f"{model}.changes.csv")
        assert (run.exit_code, run.rows["failed"]) == (0, 0), (model, run.stderr)
        assert run.report["changes_file"]["changes"] > 0
    for extra in ("--dry-run", "--no-undo"):
        path = files(tmp_path)["Account"]
        run = run_import(path, "Account", url, extra, "--changes", tmp_path / f"x{extra}.csv")
        assert_refused_before_reading(run, "needs TEMPORARY on the database")
