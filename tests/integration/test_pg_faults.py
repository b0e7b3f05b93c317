"""PostgreSQL at the edges: what the server does to an import from outside (SPEC §7, §12).

Each fault is made for real on the test server, at a moment the test observes (rows
committed, pg_stat_activity showing the import waiting on a lock), never after a sleep:
the look-ahead's connection ended by an administrator or by idle_session_timeout, three
imports of the same keys in different orders at once (deadlocks between them), databases
whose encoding is LATIN1 or SQL_ASCII, roles with exactly the privileges the README lists,
and a search_path that finds another schema's `account` table first.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from custimport.rows.outcomes import PendingRow
from custimport.run.lookahead import Lookahead
from custimport.run.prepare import PreparedBatch
from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    CONTACTS_HEADER,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres

WAIT_S = 60  # the longest any observed state may take to appear before the test fails


def wait_until(
    seen: Callable[[], Any], what: str, process: subprocess.Popen[str] | None = None
) -> Any:
    """Poll `seen()` until it is truthy; fail after WAIT_S or if `process` ended first."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = seen()
        if found:
            return found
        if process is not None and process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the import ended before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.02)


def start_import(path: Path, model: str, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [COMMAND, str(path), "--model", model, "--db", url, "--json", "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, json.loads(stdout) if stdout.strip() else {}, stderr


def accounts_state(url: str) -> list[tuple[Any, ...]]:
    """Everything an account import decides, without ids and timestamps."""
    return fetch(
        url,
        "SELECT a.account_number, a.name, g.name, p.account_number, "
        "c.first_name, c.last_name, c.email, c.is_primary "
        "FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN account p ON p.id = a.parent_account_id "
        "LEFT JOIN contact c ON c.account_id = a.id ORDER BY 1, 5",
    )


def superuser_url(pg_server: PostgresServer, url: str) -> str:
    return pg_server.superuser_url(make_url(url).database or "postgres")


@contextmanager
def connection(url: str) -> Iterator[Connection]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


# --- three imports of the same keys in different orders (SPEC §7) ------------------------


def shuffled_accounts(tmp_path: Path, name: str, numbers: list[int], seed: int) -> Path:
    """Accounts from a shared pool, in a random order: every third INDIVIDUAL with its
    primary contact, every tenth the child of the account before it in the pool."""
    rows = []
    for i in numbers:
        if i % 3 == 0:
            rows.append(account_row(f"S-{i:05d}", group="Retail", first=f"F{i}", last=f"L{i}"))
        else:
            parent = f"S-{i - 1:05d}" if i % 10 == 1 else ""
            rows.append(account_row(f"S-{i:05d}", f"Company {i}", parent=parent))
    random.Random(seed).shuffle(rows)
    return write_csv(tmp_path / name, ACCOUNTS_HEADER, rows)


def overlapping(size: int) -> list[list[int]]:
    """Three lists of keys from a pool of `size`, each key in two of them."""
    third = size // 3
    return [
        [*range(0, 2 * third)],
        [*range(third, size)],
        [*range(2 * third, size), *range(0, third)],
    ]


def run_three_at_once(files: list[Path], model: str, url: str) -> list[dict[str, Any]]:
    """The three imports at once; each must end with exit 0, no row failed, nothing said."""
    processes = [start_import(path, model, url, "--batch-size", "100") for path in files]
    results = [finish(process) for process in processes]
    for code, report, stderr in results:
        assert (code, stderr) == (0, ""), stderr
        assert report["rows"]["failed"] == 0 and report["completed"] is True
    return [report for _, report, _ in results]


def one_primary_per_individual_account(url: str) -> bool:
    return fetch(
        url,
        "SELECT count(*) FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "WHERE (g.group_type = 'INDIVIDUAL') <> (1 = (SELECT count(*) FROM contact c "
        "WHERE c.account_id = a.id AND c.is_primary))",
    ) == [(0,)]


WAIT_IN_TRIGGER = """
CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'Wait' THEN
        PERFORM pg_advisory_xact_lock_shared(4242);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER wait_for_the_test BEFORE INSERT ON account
    FOR EACH ROW EXECUTE FUNCTION wait_for_the_test();
"""
WAITING_IN_TRIGGER = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custimport' "
    "AND wait_event = 'advisory'"
)


def test_two_imports_that_deadlock_both_finish_with_every_account_once(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    """Made certain: each import inserts one key and then waits (in a trigger, on a lock the
    test holds) before the other key, which the other import inserted first. Released, each
    waits for the other's uncommitted key, and the server fails one of them (SPEC §7: retried
    like a lost race): both end with exit 0, each account exists once."""
    seed_groups(tmp_path, postgres_url)
    admin = superuser_url(pg_server, postgres_url)
    execute(admin, WAIT_IN_TRIGGER)
    first = write_csv(
        tmp_path / "xy.csv", ACCOUNTS_HEADER, [account_row("X"), account_row("Y", "Wait")]
    )
    second = write_csv(
        tmp_path / "yx.csv", ACCOUNTS_HEADER, [account_row("Y"), account_row("X", "Wait")]
    )
    with connection(admin) as gate:
        gate.execute(text("SELECT pg_advisory_lock(4242)"))
        processes = [start_import(path, "Account", postgres_url) for path in (first, second)]
        for process in processes:
            wait_until(lambda: fetch(admin, WAITING_IN_TRIGGER)[0][0] == 2, "both waiting", process)
        gate.execute(text("SELECT pg_advisory_unlock(4242)"))
        results = [finish(process) for process in processes]
    # one deadlock is made; under load the loser's writing again can race the winner's
    # blocked insert into one more, answered the same way
    assert deadlocks(postgres_url) >= 1
    for code, report, stderr in results:
        assert (code, stderr) == (0, ""), stderr
        assert report["rows"]["failed"] == 0
    assert sum(report["rows"]["created"] for _, report, _ in results) == 2
    assert fetch(postgres_url, "SELECT account_number FROM account ORDER BY 1") == [("X",), ("Y",)]


def deadlocks(url: str) -> int:
    """Deadlocks the server broke in this database."""
    query = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    return int(fetch(url, query)[0][0])


def test_three_imports_of_the_same_accounts_in_different_orders_all_finish(
    tmp_path: Path, postgres_url: str
) -> None:
    """In different orders, imports wait for each other's uncommitted keys, and deadlock
    (about twenty times in this test): every import ends with exit 0, and every account
    exists once, with its parent and its one primary contact."""
    seed_groups(tmp_path, postgres_url)
    files = [
        shuffled_accounts(tmp_path, f"s{n}.csv", keys, n)
        for n, keys in enumerate(overlapping(3000))
    ]
    reports = run_three_at_once(files, "Account", postgres_url)
    assert sum(report["rows"]["created"] for report in reports) == 3000
    assert sum(report["contacts"]["created"] for report in reports) == 1000
    assert fetch(postgres_url, "SELECT count(*), count(DISTINCT account_number) FROM account") == [
        (3000, 3000)
    ]
    assert one_primary_per_individual_account(postgres_url)
    children = {f"S-{i:05d}": f"S-{i - 1:05d}" for i in range(3000) if i % 10 == 1 and i % 3}
    linked = fetch(
        postgres_url,
        "SELECT a.account_number, p.account_number FROM account a "
        "JOIN account p ON p.id = a.parent_account_id",
    )
    assert dict(linked) == children


def test_three_imports_of_the_same_contacts_in_different_orders_all_finish(
    tmp_path: Path, postgres_url: str
) -> None:
    seed_groups(tmp_path, postgres_url)
    accounts = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(f"B-{i}") for i in range(50)]
    )
    assert run_import(accounts, "Account", postgres_url).exit_code == 0
    files = []
    for n, keys in enumerate(overlapping(1500)):
        rows = [[f"B-{i % 50}", f"F{i}", f"L{i}", f"p{i}@example.com", "", ""] for i in keys]
        random.Random(n).shuffle(rows)
        files.append(write_csv(tmp_path / f"c{n}.csv", CONTACTS_HEADER, rows))
    reports = run_three_at_once(files, "Contact", postgres_url)
    assert sum(report["rows"]["created"] for report in reports) == 1500
    assert fetch(postgres_url, "SELECT count(*), count(DISTINCT lower(email)) FROM contact") == [
        (1500, 1500)
    ]


# --- the look-ahead's connection lost (lookahead.py) -------------------------------------


class QueryingHandler:
    """Stands in for a handler: each look-up is a real query on the look-ahead's connection,
    which waits while the test holds advisory lock 77."""

    def __init__(self) -> None:
        self.looked_up: list[int] = []
        self.prefetched_for: list[int] = []

    def look_up(self, conn: Connection, rows: list[PendingRow]) -> int:
        conn.exec_driver_sql("SET lock_timeout = 0")
        conn.exec_driver_sql("SELECT pg_advisory_lock_shared(77), pg_advisory_unlock_shared(77)")
        self.looked_up.append(rows[0].line_no)
        return rows[0].line_no

    def prefetched(self, found: Any) -> None:
        self.prefetched_for.append(found)


def numbered_batches(count: int) -> Iterator[PreparedBatch]:
    for line in range(1, count + 1):
        yield PreparedBatch([PendingRow(line, {}, [])])


@pytest.fixture
def import_conn(postgres_url: str) -> Iterator[Connection]:
    """A connection as the import holds it (the look-ahead opens its second one)."""
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def look_ahead_pid(admin: str, conn: Connection) -> int:
    """The look-ahead's backend: the import's other connection."""
    own = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = 'custimport' AND pid <> :own"
    found = fetch(admin, query, own=own)
    assert len(found) == 1, found
    return int(found[0][0])


def terminate(admin: str, pid: int) -> None:
    assert fetch(admin, "SELECT pg_terminate_backend(:pid)", pid=pid) == [(True,)]


def test_a_look_ahead_whose_connection_is_ended_between_look_ups_hands_out_every_batch(
    import_conn: Connection, postgres_url: str, pg_server: PostgresServer
) -> None:
    """Ended while idle: the next look-up fails, and every one after it would have been
    refused by SQLAlchemy until a rollback; the batches go on without looking ahead."""
    admin = superuser_url(pg_server, postgres_url)
    handler = QueryingHandler()
    lookahead = Lookahead(import_conn, handler)
    try:
        handed_out = lookahead.batches(numbered_batches(5))
        assert next(handed_out).rows[0].line_no == 1
        wait_until(lambda: 2 in handler.looked_up, "batch 2 looked up ahead")
        terminate(admin, look_ahead_pid(admin, import_conn))
        later = [batch.rows[0].line_no for batch in handed_out]
    finally:
        lookahead.close()
    assert later == [2, 3, 4, 5]
    assert handler.prefetched_for == [1, 2]  # 3 to 5 are looked up on the import's own


def test_a_look_ahead_whose_connection_is_ended_during_a_look_up_hands_out_every_batch(
    import_conn: Connection, postgres_url: str, pg_server: PostgresServer
) -> None:
    admin = superuser_url(pg_server, postgres_url)
    handler = QueryingHandler()
    with connection(admin) as gate:
        gate.execute(text("SELECT pg_advisory_lock(77)"))
        lookahead = Lookahead(import_conn, handler)
        try:
            handed_out = lookahead.batches(numbered_batches(4))
            query = (
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'custimport' "
                "AND wait_event = 'advisory'"
            )
            with ThreadPoolExecutor(max_workers=1) as consumer:
                first = consumer.submit(next, handed_out)  # the generator starts the look-up
                pid = wait_until(lambda: fetch(admin, query), "the look-up waiting")[0][0]
                terminate(admin, pid)
                lines = [first.result(timeout=WAIT_S).rows[0].line_no]
            gate.execute(text("SELECT pg_advisory_unlock(77)"))
            lines += [batch.rows[0].line_no for batch in handed_out]
        finally:
            lookahead.close()
    assert lines == [1, 2, 3, 4]
    assert handler.prefetched_for == []


LOCKED_NUMBER = "L-0"


def lookahead_file(tmp_path: Path) -> Path:
    """3,000 accounts (parents, primary contacts) in 30 batches of 100: a row the database
    refuses in batch 2 (a batch with a refused row is committed at once), and in batch 11
    an update of account L-0, which the test keeps locked while it acts."""
    rows = []
    for i in range(3000):
        if i % 3 == 0:
            rows.append(account_row(f"K-{i:04d}", group="Retail", first=f"F{i}", last=f"L{i}"))
        else:
            parent = f"K-{i - 1:04d}" if i % 10 == 1 else ""
            rows.append(account_row(f"K-{i:04d}", f"Company {i}", parent=parent))
    rows[152] = account_row("K-0152", "Refused Ltd")
    rows[1003] = account_row(LOCKED_NUMBER, "New name")
    return write_csv(tmp_path / "lookahead.csv", ACCOUNTS_HEADER, rows)


def prepared_database(tmp_path: Path, url: str) -> str:
    seed_groups(tmp_path, url)
    locked = write_csv(tmp_path / "locked.csv", ACCOUNTS_HEADER, [account_row(LOCKED_NUMBER)])
    assert run_import(locked, "Account", url).exit_code == 0
    execute(url, "ALTER TABLE account ADD CONSTRAINT refused CHECK (name <> 'Refused Ltd')")
    return url


@contextmanager
def account_locked(admin: str) -> Iterator[None]:
    """Account L-0 locked by another transaction until the block ends."""
    engine = create_engine(admin)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT 1 FROM account WHERE account_number = :n FOR UPDATE"),
                {"n": LOCKED_NUMBER},
            )
            yield
            conn.rollback()
    finally:
        engine.dispose()


WAITING_FOR_A_LOCK = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'custimport' "
    "AND wait_event_type = 'Lock'"
)
CUSTIMPORT_PIDS = "SELECT pid FROM pg_stat_activity WHERE application_name = 'custimport'"


def assert_same_as_a_clean_run(
    tmp_path: Path,
    pg_server: PostgresServer,
    path: Path,
    result: tuple[int, dict[str, Any], str],
    url: str,
) -> None:
    """Exit 1 for the one refused row, the whole file read, one line on stderr, and the
    database a run without the fault makes."""
    code, report, stderr = result
    assert code == 1 and "1 rows failed" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert report["completed"] is True and report["committed"] is True
    assert report["rows"] == {
        "read": 3000,
        "created": 2998,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    (tmp_path / "clean").mkdir()
    clean = prepared_database(tmp_path / "clean", pg_server.create_database())
    assert run_import(path, "Account", clean).rows == report["rows"]
    assert accounts_state(url) == accounts_state(clean)


def test_an_import_whose_look_ahead_connection_is_ended_goes_on_without_it(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    admin = superuser_url(pg_server, postgres_url)
    prepared_database(tmp_path, postgres_url)
    path = lookahead_file(tmp_path)
    with account_locked(admin):
        process = start_import(path, "Account", postgres_url, "--batch-size", "100")
        waiting = wait_until(
            lambda: fetch(admin, WAITING_FOR_A_LOCK), "the update waiting", process
        )
        assert fetch(postgres_url, "SELECT count(*) FROM account")[0][0] > 100  # committed
        others = [pid for (pid,) in fetch(admin, CUSTIMPORT_PIDS) if pid != waiting[0][0]]
        assert len(others) == 1, others
        terminate(admin, others[0])
    assert_same_as_a_clean_run(tmp_path, pg_server, path, finish(process), postgres_url)


def test_an_import_whose_look_ahead_connection_times_out_goes_on_without_it(
    tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    """The role's idle_session_timeout ends the look-ahead's idle connection while the
    import waits for a lock (the import's own connection is busy, so it stays)."""
    admin = superuser_url(pg_server, postgres_url)
    prepared_database(tmp_path, postgres_url)
    name = make_url(postgres_url).database
    execute(admin, f"ALTER ROLE custimport IN DATABASE \"{name}\" SET idle_session_timeout = '2s'")
    path = lookahead_file(tmp_path)
    with account_locked(admin):
        process = start_import(path, "Account", postgres_url, "--batch-size", "100")
        wait_until(lambda: fetch(admin, WAITING_FOR_A_LOCK), "the update waiting", process)
        wait_until(lambda: len(fetch(admin, CUSTIMPORT_PIDS)) == 1, "the look-ahead ended", process)
    assert_same_as_a_clean_run(tmp_path, pg_server, path, finish(process), postgres_url)


# --- databases whose encoding is not UTF-8 --------------------------------------------


@pytest.fixture
def encoded_database(pg_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """`make(encoding)`: the URL of a new empty database in that server encoding."""
    names: list[str] = []

    def make(encoding: str) -> str:
        name = f"test_{encoding.lower()}_{len(names)}_{id(names) % 100000}"
        names.append(name)
        pg_server.admin_execute(
            sql.SQL(
                "CREATE DATABASE {} OWNER {} ENCODING {} LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0"
            ).format(sql.Identifier(name), sql.Identifier(pg_server.user), sql.Literal(encoding))
        )
        return pg_server.app_url(name)

    yield make
    for name in names:
        pg_server.drop_database(name)


SNOWMAN = "\u2603"  # not in LATIN1


def failures(report: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
    """{line: [(field, message), ...]} from the import's error log."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not report["error_log"]:
        return found
    line = 0
    for text_line in Path(report["error_log"]).read_text(encoding="utf-8").splitlines():
        if text_line.startswith("line "):
            line = int(text_line.split()[1])
            found[line] = []
        elif text_line.startswith("  error: "):
            field_name, message = text_line.removeprefix("  error: ").split(": ", 1)
            found[line].append((field_name, message))
    return found


def assert_refused_for_latin1(report: dict[str, Any], lines: set[int]) -> None:
    """Exactly these lines failed, each saying which character and why."""
    found = failures(report)
    assert set(found) == lines, found
    for errors in found.values():
        assert len(errors) == 1, errors
        assert f"the character '{SNOWMAN}'" in errors[0][1], errors
        assert "encoding LATIN1" in errors[0][1], errors


def test_a_latin1_database_refuses_only_the_account_rows_it_cannot_hold(
    tmp_path: Path, encoded_database: Callable[[str], str]
) -> None:
    """New accounts in one COPY, updates, new and updated primary contacts: each row with a
    character LATIN1 lacks fails alone, with that reason; what LATIN1 holds (é) is stored."""
    url = encoded_database("LATIN1")
    seed_groups(tmp_path, url)
    before = [
        account_row("E-1", "Old one"),
        account_row("E-2", group="Retail", first="Ann", last="Old"),
        account_row("E-3", "Old three"),
        account_row("E-4", group="Retail", first="Bo", last="Old"),
    ]
    assert (
        run_import(write_csv(tmp_path / "e.csv", ACCOUNTS_HEADER, before), "Account", url).exit_code
        == 0
    )
    rows = [
        account_row("N-1", "Café Ltd"),
        account_row("N-2", f"Snow {SNOWMAN} Ltd"),  # line 3: the accounts' COPY
        account_row("N-3", "Plain Ltd"),
        account_row("N-4", group="Retail", first="Zoë", last="Lee"),
        account_row("N-5", group="Retail", first=f"Zo{SNOWMAN}", last="Lee"),  # 6: contacts' COPY
        account_row("E-1", f"New {SNOWMAN}"),  # line 7: an update
        account_row("E-2", group="Retail", first=f"Ann{SNOWMAN}", last="New"),  # 8: contact update
        account_row("E-3", "New three é"),
        account_row("E-4", group="Retail", first="Bö", last="New"),
    ]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", url)
    assert run.exit_code == 1, run.stderr
    assert run.rows == {
        "read": 9,
        "created": 3,
        "updated": 2,
        "unchanged": 0,
        "skipped": 0,
        "failed": 4,
    }
    assert_refused_for_latin1(run.report, {3, 6, 7, 8})
    assert accounts_state(url) == [
        ("E-1", "Old one", "Enterprise", None, None, None, None, None),
        ("E-2", "Account E-2", "Retail", None, "Ann", "Old", None, True),
        ("E-3", "New three é", "Enterprise", None, None, None, None, None),
        ("E-4", "Account E-4", "Retail", None, "Bö", "New", None, True),
        ("N-1", "Café Ltd", "Enterprise", None, None, None, None, None),
        ("N-3", "Plain Ltd", "Enterprise", None, None, None, None, None),
        ("N-4", "Account N-4", "Retail", None, "Zoë", "Lee", None, True),
    ]


def test_a_latin1_database_refuses_a_single_new_account_it_cannot_hold(
    tmp_path: Path, encoded_database: Callable[[str], str]
) -> None:
    """A batch of one row is an INSERT, not a COPY."""
    url = encoded_database("LATIN1")
    seed_groups(tmp_path, url)
    rows = [account_row("S-1", f"{SNOWMAN}"), account_row("S-2", "Crème")]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", url, "--batch-size", "1")
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 1, 1)
    assert_refused_for_latin1(run.report, {2})
    assert fetch(url, "SELECT account_number, name FROM account") == [("S-2", "Crème")]


def test_a_latin1_database_refuses_only_the_contact_rows_it_cannot_hold(
    tmp_path: Path, encoded_database: Callable[[str], str]
) -> None:
    url = encoded_database("LATIN1")
    seed_groups(tmp_path, url)
    accounts = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("B-1"), account_row("B-2")]
    )
    assert run_import(accounts, "Account", url).exit_code == 0
    old = [["B-1", "Ann", "Lee", "ann@x.com", "", "no"], ["B-2", "Cy", "Oh", "cy@x.com", "", "no"]]
    assert (
        run_import(write_csv(tmp_path / "c0.csv", CONTACTS_HEADER, old), "Contact", url).exit_code
        == 0
    )
    rows = [
        ["B-1", "Dee", "Lëe", "dee@x.com", "", "no"],
        ["B-1", "Eve", f"L{SNOWMAN}", "eve@x.com", "", "no"],  # line 3: the contacts' COPY
        ["B-2", "Fay", "Ray", "fay@x.com", "", "yes"],
        ["B-1", "Ann", f"Lee{SNOWMAN}", "ann@x.com", "", "no"],  # line 5: an update
        ["B-2", "Cy", "Öh", "cy@x.com", "", "no"],
    ]
    run = run_import(write_csv(tmp_path / "c.csv", CONTACTS_HEADER, rows), "Contact", url)
    assert run.exit_code == 1, run.stderr
    assert (run.rows["created"], run.rows["updated"], run.rows["failed"]) == (2, 1, 2)
    assert_refused_for_latin1(run.report, {3, 5})
    assert fetch(url, "SELECT first_name, last_name, is_primary FROM contact ORDER BY 1") == [
        ("Ann", "Lee", False),
        ("Cy", "Öh", False),
        ("Dee", "Lëe", False),
        ("Fay", "Ray", True),
    ]


def test_a_latin1_database_fails_alone_a_row_whose_key_or_reference_it_cannot_hold(
    tmp_path: Path, encoded_database: Callable[[str], str]
) -> None:
    """A key is looked up before it is written: the server refused that look-up, and the
    whole import ended with nothing written. Each model, each key and reference field."""
    url = encoded_database("LATIN1")
    groups = [["Enterprise", "BUSINESS"], [f"Grp{SNOWMAN}", "BUSINESS"], ["Retail", "INDIVIDUAL"]]
    run = run_import(
        write_csv(tmp_path / "g.csv", ["name", "group_type"], groups), "CustomerGroup", url
    )
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 2, 1)
    assert_refused_for_latin1(run.report, {3})
    accounts = [
        account_row("A-1", "Fine"),
        account_row(f"A-2{SNOWMAN}", "Bad number"),
        account_row("A-3", "Bad group", group=f"Ent{SNOWMAN}"),
        account_row("A-4", "Bad parent", parent=f"P{SNOWMAN}"),
        account_row("A-6", "Fine too", parent="A-1"),
    ]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, accounts), "Account", url)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 2, 3), run.report
    assert_refused_for_latin1(run.report, {3, 4, 5})
    contacts = [
        ["A-1", "Bo", "Ek", "bo@x.com", "", "no"],
        [f"A-1{SNOWMAN}", "Cy", "Ek", "cy@x.com", "", "no"],
    ]
    run = run_import(write_csv(tmp_path / "c.csv", CONTACTS_HEADER, contacts), "Contact", url)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 1, 1), run.report
    assert_refused_for_latin1(run.report, {3})
    assert fetch(url, "SELECT account_number FROM account ORDER BY 1") == [("A-1",), ("A-6",)]
    assert fetch(url, "SELECT email FROM contact") == [("bo@x.com",)]


def test_a_sql_ascii_database_is_upgraded_imported_into_and_exported_from(
    tmp_path: Path, encoded_database: Callable[[str], str]
) -> None:
    """SQL_ASCII stores bytes without an encoding: custimport's text goes in and comes back
    as UTF-8, exactly as given."""
    url = encoded_database("SQL_ASCII")
    upgrade = cli("db", "upgrade", "--db", url)
    assert upgrade.exit_code == 0, upgrade.stderr
    seed_groups(tmp_path, url)
    rows = [
        account_row("U-1", f"Snow {SNOWMAN} Café"),
        account_row("U-2", group="Retail", first="Zoë", last=f"Lee {SNOWMAN}"),
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    first = run_import(path, "Account", url)
    assert (first.exit_code, first.rows["created"]) == (0, 2), first.stderr
    exported = tmp_path / "export.csv"
    export = cli("export", "--model", "Account", "--db", url, "-o", exported)
    assert export.exit_code == 0, export.stderr
    assert f"Snow {SNOWMAN} Café" in exported.read_text(encoding="utf-8")
    again = run_import(exported, "Account", url)
    assert (again.exit_code, again.rows["unchanged"]) == (0, 2), again.stderr
    as_utf8 = f"{url}?client_encoding=utf8"  # psycopg reads SQL_ASCII text as bytes otherwise
    assert accounts_state(as_utf8) == [
        ("U-1", f"Snow {SNOWMAN} Café", "Enterprise", None, None, None, None, None),
        ("U-2", "Account U-2", "Retail", None, "Zoë", f"Lee {SNOWMAN}", None, True),
    ]
