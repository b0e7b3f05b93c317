"""A database whose transactions are SERIALIZABLE can refuse an import's COMMIT itself
(transaction.py): the import starts its transaction again, writes its batches again
and commits, as it does after a deadlock (SPEC §7).

Made certain with two transactions whose reads and writes cross (write skew): the
import reads table `watched` (a trigger) and inserts accounts; the test's transaction
reads `account` and inserts into `watched`. A deferred trigger holds the import inside
its COMMIT, on an advisory lock the test holds, while the test's transaction commits
first; the server then fails the import's COMMIT with a serialization failure.
"""

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helpers import ACCOUNTS_HEADER, COMMAND, account_row, execute, fetch, seed_groups, write_csv
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres

WAIT_S = 60  # the longest the import may take to reach its COMMIT before the test fails
READ_AND_HOLD = """
CREATE TABLE watched (n integer);
GRANT ALL ON watched TO custimport;
CREATE FUNCTION read_watched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM watched;
    RETURN NEW;
END $$;
CREATE TRIGGER read_watched BEFORE INSERT ON account
    FOR EACH ROW EXECUTE FUNCTION read_watched();
CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(4343);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON account
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""
HELD_IN_COMMIT = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custimport' "
    "AND wait_event = 'advisory' AND query = 'COMMIT'"
)


def wait_until(seen: Callable[[], Any], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not seen():
        if process.poll() is not None:
            raise AssertionError(f"the import ended first: {process.communicate()}")
        assert time.monotonic() < deadline, "the import never reached its COMMIT"
        time.sleep(0.02)


def test_an_import_whose_commit_fails_to_serialize_writes_again_and_commits(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    seed_groups(tmp_path, postgres_url)
    name = make_url(postgres_url).database or ""
    admin = pg_server.superuser_url(name)
    execute(admin, READ_AND_HOLD)
    execute(admin, f'ALTER DATABASE "{name}" SET default_transaction_isolation = serializable')
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("X"), account_row("Y")])
    gate = create_engine(admin, isolation_level="AUTOCOMMIT")
    other = create_engine(postgres_url)
    try:
        with gate.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(4343)"))
            process = subprocess.Popen(
                [COMMAND, str(path), "--model", "Account", "--db", postgres_url, "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                wait_until(lambda: fetch(admin, HELD_IN_COMMIT)[0][0] == 1, process)
                with other.begin() as crossing:  # SERIALIZABLE too: the database's default
                    isolation = crossing.execute(text("SHOW transaction_isolation")).scalar()
                    assert isolation == "serializable"
                    assert crossing.execute(text("SELECT count(*) FROM account")).scalar() == 0
                    crossing.execute(text("INSERT INTO watched VALUES (1)"))
                lock.execute(text("SELECT pg_advisory_unlock(4343)"))
                stdout, stderr = process.communicate(timeout=WAIT_S)
            finally:
                if process.poll() is None:
                    process.kill()
    finally:
        gate.dispose()
        other.dispose()
    assert (process.returncode, stderr) == (0, ""), stdout + stderr
    report = json.loads(stdout)
    assert report["committed"] is True and report["completed"] is True
    assert report["rows"]["created"] == 2 and report["rows"]["failed"] == 0
    assert fetch(postgres_url, "SELECT account_number FROM account ORDER BY 1") == [("X",), ("Y",)]
