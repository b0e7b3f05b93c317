"""Database problems give one clear line and the right exit code, never the password (SPEC §2, §7)."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    EXAMPLES,
    account_row,
    cli,
    fetch,
    seed_groups,
    write_csv,
)
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres


def groups_file() -> Path:
    return EXAMPLES / "customer_groups.csv"


def assert_one_line_without_password(stderr: str, password: str) -> None:
    assert stderr.startswith("Error: ")
    assert len(stderr.strip().splitlines()) == 1
    assert password not in stderr
    assert "Traceback" not in stderr


def test_wrong_password_exits_2_before_anything_is_written(postgres_url: str) -> None:
    url = make_url(postgres_url).set(password="wrong-pw-123").render_as_string(hide_password=False)
    run = cli(groups_file(), "--model", "CustomerGroup", "--db", url)
    assert run.exit_code == 2
    assert_one_line_without_password(run.stderr, "wrong-pw-123")
    assert "password authentication failed" in run.stderr


def test_unknown_database_exits_2(pg_server: PostgresServer) -> None:
    url = pg_server.app_url("no_such_database")
    run = cli(groups_file(), "--model", "CustomerGroup", "--db", url)
    assert run.exit_code == 2
    assert_one_line_without_password(run.stderr, pg_server.password)
    assert "no_such_database" in run.stderr


def test_db_commands_report_connection_problems_the_same_way(pg_server: PostgresServer) -> None:
    url = pg_server.app_url("no_such_database")
    for command in (["db", "upgrade"], ["db", "current"]):
        run = cli(*command, "--db", url)
        assert run.exit_code == 2
        assert_one_line_without_password(run.stderr, pg_server.password)


def test_db_upgrade_creates_the_schema_on_postgresql(postgres_url: str) -> None:
    run = cli("db", "upgrade", "--db", postgres_url)
    assert run.exit_code == 0, run.stderr
    assert "s3cret-pw" not in run.stdout
    assert fetch(postgres_url, "SELECT version_num FROM alembic_version") == [(db.SCHEMA_HEAD,)]
    indexes = {
        name
        for (name,) in fetch(
            postgres_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
        )
    }
    assert {
        "uq_contact_account_id_lower_email",
        "uq_contact_one_primary_per_account",
        "uq_customer_group_name_key",
    } <= indexes


def test_a_connection_dropped_mid_import_exits_1_with_what_was_committed(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    seed_groups(tmp_path, postgres_url)
    total = 200_000
    path = write_csv(
        tmp_path / "big.csv", ACCOUNTS_HEADER, [account_row(f"D-{i:07d}") for i in range(total)]
    )
    process = subprocess.Popen(
        [
            COMMAND,
            str(path),
            "--model",
            "Account",
            "--db",
            postgres_url,
            "--json",
            "--batch-size",
            "500",
            "--changes",
            str(tmp_path / "changes.csv"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while fetch(postgres_url, "SELECT count(*) FROM account")[0][0] == 0:
        assert time.monotonic() < deadline and process.poll() is None, "the import never committed"
        time.sleep(0.05)
    pg_server.admin_execute(
        sql.SQL(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = {}"
        ).format(sql.Literal("custimport"))
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("Error: cannot use the database")
    lines = stderr.strip().splitlines()  # nothing from the driver itself
    assert lines[1:] == [
        f"Error: {tmp_path / 'changes.csv'} was not written: the import stopped before its end"
    ], stderr
    assert not (tmp_path / "changes.csv").exists()
    assert pg_server.password not in stderr + stdout
    report = json.loads(stdout)
    assert report["completed"] is False and report["committed"] is True
    assert report["changes_file"]["changes"] is None
    created = report["rows"]["created"]
    assert 0 < created < total
    assert fetch(postgres_url, "SELECT count(*) FROM account") == [(created,)]
