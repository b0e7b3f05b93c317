"""PostgreSQL look-ups are planned for their own parameters every time.

psycopg prepares a statement after five runs, and PostgreSQL may then keep one
generic plan: a look-up first run while a table was small kept a sequential scan
with an unhashed `= ANY` filter as the table grew (a 100,000-contact import into a
new database took 50 s instead of 4). So the look-ups must never be prepared.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from custimport.store import db, pg_copy, repository, undo
from helpers import ACCOUNTS_HEADER, account_row, run_import, seed_groups, write_csv

pytestmark = pytest.mark.postgres


def test_look_ups_run_many_times_are_never_prepared(tmp_path: Path, postgres_url: str) -> None:
    seed_groups(tmp_path, postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            for _ in range(8):  # psycopg prepares from the sixth run on
                repository.find_accounts(conn, ["A-1", "A-2"])
                repository.find_account_refs(conn, ["A-1"])
                repository.find_contacts_by_email(conn, [(1, "a@example.com")])
                repository.find_contacts_without_email(conn, [1, 2])
            prepared = conn.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements WHERE strpos(statement, 'ANY') > 0"
            ).all()
    finally:
        engine.dispose()
    assert prepared == []


def test_an_import_looks_rows_up_by_index_while_the_table_has_no_statistics(
    tmp_path: Path, postgres_url: str
) -> None:
    """A table that grew from empty to 100,000 rows without being analyzed yet (as in a
    large first import): the planner chose to scan all of it for a batch's look-up. An
    import's own connections probe the account number's index. (At 20,000 rows they
    still read the whole table, through another index: no worse than the scan.)"""
    seed_groups(tmp_path, postgres_url)
    plain = db.make_engine(postgres_url)
    importing = db.make_engine(postgres_url)
    db.plan_for_key_lookups(importing)
    try:
        with plain.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO account (account_number, name, customer_group_id, created_at,"
                " updated_at) SELECT 'A-' || n, 'Name', (SELECT min(id) FROM customer_group),"
                " now(), now() FROM generate_series(1, 100000) AS n"
            )
        numbers = [f"A-{n}" for n in range(1, 2001)]
        assert "Seq Scan on account" in _plan(plain, numbers)  # what went wrong before
        assert "Seq Scan on account" not in _plan(importing, numbers)
        assert "uq_account_account_number" in _plan(importing, numbers)
    finally:
        plain.dispose()
        importing.dispose()


def _plan(engine: Engine, numbers: list[str]) -> str:
    """The plan of the account look-up for these numbers, planned for them (unprepared)."""
    sql = "EXPLAIN " + repository.ACCOUNT_SELECT.format(keys="= ANY(%b)")
    with engine.connect() as conn:
        return "\n".join(row[0] for row in pg_copy.fetch_planned_now(conn, sql, (numbers,)))


@pytest.mark.parametrize("table", ["account", "contact"])
def test_new_ids_look_the_sequence_up_once_not_once_per_id(
    tmp_path: Path, postgres_url: str, table: str
) -> None:
    """The journal names new rows with ids drawn from their table's sequence, an array at a
    time. The planner pulled the look-up of the sequence's name into the aggregate, where
    it ran once per id: 2,000 ids took 6 ms instead of 2 (a million accounts: 2.6 s)."""
    seed_groups(tmp_path, postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            statement = repository.next_ids_sql(conn, table).replace("%s", "2000")
            plan = conn.exec_driver_sql("EXPLAIN VERBOSE " + statement).scalars().all()
            ids = repository.next_ids(conn, table, 2000)
    finally:
        engine.dispose()
    assert any(f"nextval('{table}_id_seq'::regclass)" in line for line in plan), plan
    assert not any("pg_get_serial_sequence" in line for line in plan), plan
    assert len(set(ids)) == 2000 and ids == sorted(ids)


def test_an_undo_reads_its_records_and_their_references_by_key_whatever_the_statistics(
    tmp_path: Path, postgres_url: str
) -> None:
    """Right after an import, PostgreSQL's statistics say the journal is nearly empty. Read
    from two CTEs, an undo's chunk of 2,000 records was joined to its 2,000 locked rows
    by a nested loop (4 million comparisons a chunk), and its check for rows referring to
    the created ones by an anti-join over every record of the run: the undo of 30,000
    created accounts took 19 s against the import's 2.2 s. Each plan must find its rows
    by key: no join filter that throws away more rows than the chunk holds."""
    seed_groups(tmp_path, postgres_url)
    rows = [
        account_row(f"U{i:05d}", parent=f"U{i - 1:05d}" if i % 5 else "", group="Enterprise")
        for i in range(4000)
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", postgres_url, "--json")
    assert run.exit_code == 0, run.stderr
    plans: list[str] = []
    engine = db.make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            run_statement = conn.exec_driver_sql

            def explained(sql: str, params: Any = ()) -> Any:
                if sql.lstrip().startswith("SELECT"):
                    analyzed = run_statement("EXPLAIN ANALYZE " + sql, params)
                    plans.append("\n".join(row[0] for row in analyzed))
                return run_statement(sql, params)

            conn.exec_driver_sql = explained  # type: ignore[method-assign]
            records = undo.records(conn, run.report["run"], "account", 0)
            undo.references(conn, run.report["run"], "account", 0, records[-1].row_id)
            conn.rollback()
    finally:
        engine.dispose()
    assert len(records) == 2000 and len(plans) >= 3
    for plan in plans:
        removed = [int(n) for n in re.findall(r"Rows Removed by Join Filter: (\d+)", plan)]
        assert sum(removed) < 2000, plan
