"""Two imports at once into one database (SPEC §7): no crash, no duplicates, nothing dropped."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from custimport.store.db import SCHEMA_LOCK_KEY
from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    account_row,
    fetch,
    seed_groups,
    write_csv,
)


def accounts_range(tmp_path: Path, name: str, start: int, stop: int) -> Path:
    rows = []
    for i in range(start, stop):
        if i % 3 == 0:
            rows.append(account_row(f"C-{i:05d}", group="Retail", first=f"F{i}", last=f"L{i}"))
        else:
            rows.append(account_row(f"C-{i:05d}", parent=f"C-{i - 1:05d}" if i % 10 == 1 else ""))
    return write_csv(tmp_path / name, ACCOUNTS_HEADER, rows)


def run_together(*commands: list[str]) -> list[tuple[int, dict[str, object], str]]:
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        results.append((process.returncode, json.loads(stdout) if stdout else {}, stderr))
    return results


def import_command(path: Path, model: str, db_url: str) -> list[str]:
    return [
        COMMAND,
        str(path),
        "--model",
        model,
        "--db",
        db_url,
        "--json",
        "--quiet",
        "--batch-size",
        "100",
    ]


def test_overlapping_account_imports_at_once_create_each_account_once(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    first = accounts_range(tmp_path, "a.csv", 0, 3000)
    second = accounts_range(tmp_path, "b.csv", 1500, 4500)
    results = run_together(
        import_command(first, "Account", db_url), import_command(second, "Account", db_url)
    )
    for code, report, stderr in results:
        assert code == 0, stderr
        assert "Traceback" not in stderr
        rows = report["rows"]
        assert rows["read"] == 3000 and rows["failed"] == 0  # type: ignore[index]
    created = sum(report["rows"]["created"] for _, report, _ in results)  # type: ignore[index]
    assert created == 4500
    assert fetch(db_url, "SELECT count(*), count(DISTINCT account_number) FROM account") == [
        (4500, 4500)
    ]
    assert fetch(db_url, "SELECT count(*) FROM contact") == [(1500,)]
    assert fetch(
        db_url,
        "SELECT count(*) FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "WHERE g.group_type = 'INDIVIDUAL' AND 1 <> (SELECT count(*) FROM contact c "
        "WHERE c.account_id = a.id AND c.is_primary)",
    ) == [(0,)]


def test_the_same_contacts_imported_twice_at_once_exist_once(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    accounts = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(f"B-{i}") for i in range(20)]
    )
    assert run_together(import_command(accounts, "Account", db_url))[0][0] == 0
    contacts = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [
            [f"B-{i % 20}", f"F{i}", f"L{i}", f"p{i}@example.com", "", "yes" if i < 20 else "no"]
            for i in range(2000)
        ],
    )
    results = run_together(
        import_command(contacts, "Contact", db_url), import_command(contacts, "Contact", db_url)
    )
    for code, report, stderr in results:
        assert code == 0, stderr
        assert report["rows"]["failed"] == 0  # type: ignore[index]
    assert sum(report["rows"]["created"] for _, report, _ in results) == 2000  # type: ignore[index]
    assert fetch(db_url, "SELECT count(*), count(DISTINCT lower(email)) FROM contact") == [
        (2000, 2000)
    ]
    assert fetch(db_url, "SELECT count(*) FROM contact WHERE is_primary") == [(20,)]


WAITING_FOR_SCHEMA = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.mark.postgres
def test_two_imports_into_an_empty_postgresql_database_at_once_create_the_schema_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Both find no tables; the schema lock makes the second wait for the first's schema
    (they once both created it, and one failed on pg_type's unique index). The test holds
    the lock until both imports wait for it, so they go on from the same moment."""
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    command = [COMMAND, str(groups), "-m", "CustomerGroup", "--db", postgres_url, "--json", "-q"]
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            processes = [
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)
            ]
            with engine.connect() as probe:
                while probe.execute(text(WAITING_FOR_SCHEMA)).scalar_one() < 2:
                    ended = [p.communicate() for p in processes if p.poll() is not None]
                    assert not ended, f"an import did not wait for the schema lock: {ended}"
                    probe.rollback()
                    time.sleep(0.005)  # polling for the state looked for, not a delay
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
            holder.commit()
        results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    finally:
        engine.dispose()
    for code, stdout, stderr in results:
        assert code == 0, stderr
        assert json.loads(stdout)["rows"]["failed"] == 0
    assert fetch(postgres_url, "SELECT name FROM customer_group") == [("Retail",)]
    assert fetch(postgres_url, "SELECT count(*) FROM alembic_version") == [(1,)]
