"""Personal data and secrets (issue: hardening, point 5): error logs and rejects files are
private and never overwrite anything; database passwords never reach the screen.
"""

import os
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg import sql

from helpers import COMMAND, GROUPS_HEADER, Run, cli, fetch, run_import, write_csv
from hostile_support import assert_usage_error, count
from pg_server import PostgresServer

SPECIAL_PASSWORD = "p@ss:w/rd%"
ENCODED_PASSWORD = quote(SPECIAL_PASSWORD, safe="")  # p%40ss%3Aw%2Frd%25


def mixed_groups(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Good", "BUSINESS"], ["Bad", "NOPE"]])


def mode_of(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would make every new file world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


# --- error logs and rejects ----------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_error_log_and_rejects_are_private_even_with_an_open_umask(
    tmp_path: Path, sqlite_url: str
) -> None:
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--rejects", "r.csv")
    assert run.exit_code == 1
    assert mode_of(run.report["error_log"]) == 0o600
    assert mode_of(run.report["rejects"]) == 0o600


def test_existing_files_are_never_overwritten(tmp_path: Path, sqlite_url: str) -> None:
    for name in ("errors.log", "errors-2.log", "rejects.csv"):
        (tmp_path / name).write_text(f"precious {name}\n", encoding="utf-8")
    run = run_import(
        mixed_groups(tmp_path),
        "CustomerGroup",
        sqlite_url,
        "--error-log",
        "errors.log",
        "--rejects",
        "rejects.csv",
    )
    assert run.exit_code == 1
    assert Path(run.report["error_log"]).name == "errors-3.log"
    assert Path(run.report["rejects"]).name == "rejects-2.csv"
    for name in ("errors.log", "errors-2.log", "rejects.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == f"precious {name}\n"
    assert "line 3" in (tmp_path / "errors-3.log").read_text(encoding="utf-8")


def test_the_default_error_log_name_never_overwrites_either(
    tmp_path: Path, sqlite_url: str
) -> None:
    now = datetime.now()
    taken = [
        tmp_path / f"import_errors_CustomerGroup_{now + timedelta(seconds=s):%Y%m%d-%H%M%S}.log"
        for s in range(-1, 6)
    ]
    for path in taken:
        path.write_text("precious\n", encoding="utf-8")
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url)
    assert run.exit_code == 1
    log = Path(run.report["error_log"])
    assert log not in taken and log.parent == tmp_path
    assert all(path.read_text(encoding="utf-8") == "precious\n" for path in taken)


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
def test_a_symlink_at_the_error_log_path_is_not_followed(
    tmp_path: Path, sqlite_url: str, dangling: bool
) -> None:
    target = tmp_path / "elsewhere" / "victim.txt"
    target.parent.mkdir()
    if not dangling:
        target.write_text("precious\n", encoding="utf-8")
    (tmp_path / "trap.log").symlink_to(target)
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--error-log", "trap.log")
    assert run.exit_code == 1
    assert Path(run.report["error_log"]).name == "trap-2.log"
    assert (
        (target.read_text(encoding="utf-8") == "precious\n")
        if not dangling
        else not target.exists()
    )


def test_an_error_log_folder_gets_the_default_name_inside_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "logs").mkdir()
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--error-log", "logs")
    log = Path(run.report["error_log"])
    assert log.parent.name == "logs" and log.name.startswith("import_errors_CustomerGroup_")
    assert mode_of(log) == 0o600


@pytest.mark.parametrize("option", ["--error-log", "--rejects"])
def test_an_error_log_in_a_missing_folder_is_refused_before_anything_is_written(
    tmp_path: Path, sqlite_url: str, option: str
) -> None:
    run = cli(
        mixed_groups(tmp_path),
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        option,
        tmp_path / "missing" / "out.txt",
    )
    assert_usage_error(run, "missing")
    assert not (tmp_path / "custimport.db").exists() or count(sqlite_url, "customer_group") == 0


# --- SQLite locations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("/proc/custimport.db", "unable to open database file"),
        ("/proc/custimport-nope/c.db", "the database folder /proc/custimport-nope does not exist"),
        ("/dev/null/c.db", "the database folder /dev/null is not a directory"),
    ],
    ids=["unwritable folder", "missing folder", "a file as folder"],
)
def test_an_sqlite_database_where_none_can_be_is_a_clear_usage_error(
    tmp_path: Path, location: str, reason: str
) -> None:
    run = cli(mixed_groups(tmp_path), "--model", "CustomerGroup", "--db", f"sqlite:///{location}")
    assert_usage_error(run, reason)


def test_an_sqlite_url_naming_a_folder_is_a_clear_usage_error(tmp_path: Path) -> None:
    run = cli(mixed_groups(tmp_path), "--model", "CustomerGroup", "--db", f"sqlite:///{tmp_path}")
    assert_usage_error(run, "unable to open database file")


# --- passwords --------------------------------------------------------------------------------


def assert_no_secret(run: Run, *secrets: str) -> None:
    shown = run.stdout + run.stderr
    unwrapped = shown.replace("\n", "")  # the summary wraps long lines
    for secret in secrets:
        assert secret not in shown and secret not in unwrapped, shown
    assert "Traceback" not in shown


@pytest.fixture
def special_role(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A role whose password is `p@ss:w/rd%`, owning a fresh database: (role, database)."""
    suffix = uuid.uuid4().hex[:10]
    role, database = f"special_{suffix}", f"special_db_{suffix}"
    pg_server.admin_execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(SPECIAL_PASSWORD)
        )
    )
    pg_server.admin_execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(database), sql.Identifier(role)
        )
    )
    yield role, database
    pg_server.drop_database(database)
    pg_server.admin_execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def special_url(
    pg_server: PostgresServer, role: str, database: str, password: str, port: int = 0
) -> str:
    port = port or pg_server.port
    return f"postgresql+psycopg://{role}:{password}@{pg_server.host}:{port}/{database}"


@pytest.mark.postgres
def test_a_url_encoded_special_password_works_and_is_masked_in_the_summary(
    tmp_path: Path, pg_server: PostgresServer, special_role: tuple[str, str]
) -> None:
    role, database = special_role
    url = special_url(pg_server, role, database, ENCODED_PASSWORD)
    run = cli(mixed_groups(tmp_path), "--model", "CustomerGroup", "--db", url)
    assert run.exit_code == 1
    assert f"{role}:***@{pg_server.host}:{pg_server.port}/{database}" in run.stdout.replace(
        "\n", ""
    )
    assert_no_secret(run, SPECIAL_PASSWORD, ENCODED_PASSWORD, "p@ss", "rd%")
    assert fetch(url, "SELECT name FROM customer_group") == [("Good",)]
    for command in (["db", "current"], ["db", "upgrade"]):
        shown = cli(*command, "--db", url)
        assert shown.exit_code == 0
        assert f"{role}:***@" in shown.stdout
        assert_no_secret(shown, SPECIAL_PASSWORD, ENCODED_PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("wrong password", "password authentication failed"),
        ("unknown database", "does not exist"),
        ("server down", "Connection refused"),
    ],
)
def test_driver_errors_show_the_url_masked_and_never_the_password(
    tmp_path: Path,
    pg_server: PostgresServer,
    special_role: tuple[str, str],
    problem: str,
    reason: str,
) -> None:
    role, database = special_role
    password, port = ENCODED_PASSWORD, 0
    if problem == "wrong password":
        password = quote("p@ss:w/rd%-but-wrong", safe="")
    elif problem == "unknown database":
        database = "no_such_database"
    else:
        port = free_port()
    url = special_url(pg_server, role, database, password, port)
    for args in (
        [mixed_groups(tmp_path), "--model", "CustomerGroup"],
        ["db", "upgrade"],
        ["db", "current"],
    ):
        run = cli(*args, "--db", url)
        assert_usage_error(run, reason, f"{role}:***@")
        assert_no_secret(run, SPECIAL_PASSWORD, password, "p@ss", "rd%")


@pytest.mark.postgres
def test_the_password_from_the_environment_is_masked_too(
    tmp_path: Path,
    pg_server: PostgresServer,
    special_role: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role, database = special_role
    wrong = quote("env:p@ss/wrong", safe="")
    monkeypatch.setenv("CUSTIMPORT_DATABASE_URL", special_url(pg_server, role, database, wrong))
    run = cli(mixed_groups(tmp_path), "--model", "CustomerGroup")
    assert_usage_error(run, "password authentication failed", f"{role}:***@")
    assert_no_secret(run, wrong, "env:p@ss/wrong")


@pytest.mark.postgres
def test_a_password_in_the_query_string_is_masked_too(
    tmp_path: Path, pg_server: PostgresServer, special_role: tuple[str, str]
) -> None:
    role, database = special_role
    url = (
        f"postgresql+psycopg://{role}@{pg_server.host}:{pg_server.port}/{database}"
        f"?password={ENCODED_PASSWORD}"
    )
    good = cli(mixed_groups(tmp_path), "--model", "CustomerGroup", "--db", url)
    assert good.exit_code == 1
    assert_no_secret(good, ENCODED_PASSWORD, SPECIAL_PASSWORD)
    bad = cli(mixed_groups(tmp_path), "--model", "CustomerGroup", "--db", url + "-wrong")
    assert_usage_error(bad, "password authentication failed")
    assert_no_secret(bad, ENCODED_PASSWORD, SPECIAL_PASSWORD)


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        (
            f"postgresql+psycopg://someone:{SPECIAL_PASSWORD}@127.0.0.1:5432/crm",
            [SPECIAL_PASSWORD, "'w'"],
        ),
        (
            "postgresql+psycopg://someone:corr3ct@h0rse:Battery9/staple@127.0.0.1:5432/crm",
            ["corr3ct", "h0rse", "Battery9", "staple"],
        ),
        ("postgresql+psycopg://someone:hunter2@127.0.0.1:port/crm", ["hunter2"]),
    ],
    ids=["raw special password", "raw password with @", "port not a number"],
)
@pytest.mark.parametrize("command", ["import", "db upgrade"])
def test_an_unparsable_database_url_is_a_usage_error_without_the_password(
    tmp_path: Path, url: str, secrets: list[str], command: str
) -> None:
    args = [str(mixed_groups(tmp_path)), "--model", "CustomerGroup"]
    if command == "db upgrade":
        args = ["db", "upgrade"]
    done = subprocess.run(
        [COMMAND, *args, "--db", url], capture_output=True, text=True, timeout=60, check=False
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    assert_usage_error(run)
    assert_no_secret(run, *secrets)
