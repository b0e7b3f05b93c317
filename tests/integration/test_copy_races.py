"""Another import's rows appear while a COPY batch is being written (PostgreSQL, SPEC §7).

Made deterministic with PostgreSQL's own locks: a second transaction inserts some
of the file's keys and holds them uncommitted, so custimport's look-ups miss them
and its COPY waits on them; once custimport is seen waiting, the other
transaction commits (the keys are taken: those rows must become updates) or
custimport's connection is killed (the import must stop with one clear line).
SQLite needs no such test: BEGIN IMMEDIATE lets only one import write at a time.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    account_row,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)

pytestmark = pytest.mark.postgres

WAITING_CUSTIMPORT = (
    "SELECT pid FROM pg_stat_activity "
    "WHERE application_name = 'custimport' AND wait_event_type = 'Lock'"
)


@pytest.fixture
def groups(tmp_path: Path, postgres_url: str) -> str:
    seed_groups(tmp_path, postgres_url)
    return postgres_url


@contextmanager
def other_transaction(url: str) -> Iterator[Connection]:
    """A connection with an open transaction, as another import would hold it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.begin()
            yield conn
    finally:
        engine.dispose()


@contextmanager
def once_custimport_waits(url: str, then: Callable[[list[int]], None]) -> Iterator[list[bool]]:
    """Calls `then(pids)` from a thread once custimport waits on a lock (or after 30 s,
    so the test cannot hang); yields a one-item list: whether the wait was seen."""
    seen = [False]

    def watch() -> None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        pids: list[int] = []
        try:
            deadline = time.monotonic() + 30
            with engine.connect() as conn:
                while not pids and time.monotonic() < deadline:
                    pids = list(conn.execute(text(WAITING_CUSTIMPORT)).scalars())
                    time.sleep(0.02)
            seen[0] = bool(pids)
        finally:
            engine.dispose()
            then(pids)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        watcher.join()


def insert_account(conn: Connection, number: str, group: str, name: str) -> None:
    conn.execute(
        text(
            "INSERT INTO account (account_number, name, customer_group_id, created_at, updated_at) "
            "SELECT :number, :name, id, now(), now() FROM customer_group WHERE name = :group"
        ),
        {"number": number, "name": name, "group": group},
    )


def insert_primary_contact(conn: Connection, number: str, first: str, email: str) -> None:
    conn.execute(
        text(
            "INSERT INTO contact (account_id, first_name, last_name, email, is_primary, "
            "created_at, updated_at) SELECT id, :first, 'Theirs', :email, true, now(), now() "
            "FROM account WHERE account_number = :number"
        ),
        {"number": number, "first": first, "email": email},
    )


def test_accounts_another_import_inserted_meanwhile_become_updates(
    tmp_path: Path, groups: str
) -> None:
    rows = [
        account_row(f"R-{i}", group="Retail", first=f"F{i}", last=f"L{i}")
        if i % 2 == 0
        else account_row(f"R-{i}", f"Company {i}")
        for i in range(1, 9)
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    with other_transaction(groups) as other:
        insert_account(other, "R-2", "Enterprise", "Theirs")  # no contact yet: one is created
        insert_account(other, "R-4", "Retail", "Theirs")
        insert_primary_contact(other, "R-4", "Their", "their@x.com")  # updated in place
        insert_account(other, "R-5", "Enterprise", "Theirs")
        with once_custimport_waits(groups, lambda _pids: other.commit()) as seen:
            run = run_import(path, "Account", groups)
    assert seen == [True], "custimport never waited on the other transaction's rows"
    assert run.exit_code == 0, run.stderr
    assert run.rows == {
        "read": 8,
        "created": 5,
        "updated": 3,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert run.report["contacts"] == {"created": 3, "updated": 1}
    assert fetch(
        groups,
        "SELECT a.account_number, a.name, g.name, c.first_name, c.last_name "
        "FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN contact c ON c.account_id = a.id ORDER BY a.account_number",
    ) == [
        (f"R-{i}", f"Account R-{i}", "Retail", f"F{i}", f"L{i}")
        if i % 2 == 0
        else (f"R-{i}", f"Company {i}", "Enterprise", None, None)
        for i in range(1, 9)
    ]


def test_contacts_another_import_inserted_meanwhile_become_updates(
    tmp_path: Path, groups: str
) -> None:
    accounts = [account_row("B-1"), account_row("B-2")]
    run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, accounts), "Account", groups)
    contacts = [
        ["B-1", "Ann", "Lee", "ann@x.com", "555", "no"],
        ["B-1", "Cy", "Oh", "cy@x.com", "", "no"],
        ["B-2", "Bob", "Ray", "bob@x.com", "", "yes"],
    ]
    path = write_csv(tmp_path / "c.csv", CONTACTS_HEADER, contacts)
    with other_transaction(groups) as other:
        other.execute(
            text(
                "INSERT INTO contact (account_id, first_name, last_name, email, is_primary, "
                "created_at, updated_at) SELECT id, 'Annie', 'L', 'ANN@x.com', false, now(), now() "
                "FROM account WHERE account_number = 'B-1'"
            )
        )
        with once_custimport_waits(groups, lambda _pids: other.commit()) as seen:
            run = run_import(path, "Contact", groups)
    assert seen == [True], "custimport never waited on the other transaction's rows"
    assert run.exit_code == 0, run.stderr
    assert (run.rows["created"], run.rows["updated"], run.rows["failed"]) == (2, 1, 0)
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.is_primary "
        "FROM contact c JOIN account a ON a.id = c.account_id ORDER BY c.email",
    ) == [
        ("B-1", "Ann", "Lee", "ann@x.com", "555", False),  # the file's spelling, as any update
        ("B-2", "Bob", "Ray", "bob@x.com", None, True),
        ("B-1", "Cy", "Oh", "cy@x.com", None, False),
    ]


def test_a_connection_killed_during_a_copy_stops_the_import_with_one_line(
    tmp_path: Path, groups: str
) -> None:
    path = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(f"K-{i}") for i in range(50)]
    )

    def kill(pids: list[int]) -> None:
        with other_transaction(groups) as killer:
            for pid in pids:
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.rollback()

    with other_transaction(groups) as other:
        insert_account(other, "K-7", "Enterprise", "Theirs")
        with once_custimport_waits(groups, kill) as seen:
            run = run_import(path, "Account", groups)
    assert seen == [True], "custimport never waited on the other transaction's rows"
    assert run.exit_code == 1
    assert run.stderr.startswith("Error: cannot use the database")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.report["committed"] is True and run.report["completed"] is False
    assert run.rows["created"] == 0
    assert fetch(groups, "SELECT count(*) FROM account") == [(0,)]
