"""The same imports give the same counts and the same database contents on both engines (SPEC §7)."""

import random
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    EXAMPLES,
    account_row,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)

pytestmark = pytest.mark.postgres

DUMP = {
    "groups": "SELECT name, group_type FROM customer_group ORDER BY lower(name)",
    "accounts": (
        "SELECT a.account_number, a.name, a.legal_name, g.name, p.account_number, a.website, "
        "a.industry, a.description FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number"
    ),
    "contacts": (
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.job_title, "
        "c.department, c.is_primary FROM contact c JOIN account a ON a.id = c.account_id "
        "ORDER BY a.account_number, c.first_name, c.last_name, c.email"
    ),
}


def mixed_files(tmp_path: Path, rows: int = 3000) -> list[tuple[Path, str]]:
    """Accounts (valid, invalid, forward parents, individuals), an update pass, contacts."""
    rng = random.Random(7)
    accounts, updates, contacts = [], [], []
    for i in range(rows):
        number = f"M-{i:05d}"
        kind = rng.random()
        parent = f"M-{i + rng.randint(1, 30):05d}" if rng.random() < 0.05 and i + 30 < rows else ""
        if kind < 0.02:
            accounts.append(account_row(number, website="no such site"))
        elif kind < 0.35:
            accounts.append(
                account_row(
                    number,
                    f"Person {i}",
                    "Retail",
                    first=f"F{i}",
                    last=f"L{i}",
                    email=f"P{i}@Example.com",
                )
            )
            updates.append(
                account_row(
                    number, f"Person {i}", "Retail", first=f"F{i}", last=f"L{i}", phone=f"+1 {i}"
                )
            )
        else:
            accounts.append(
                account_row(
                    number,
                    f"Company {i}",
                    "Enterprise",
                    parent=parent,
                    website=f"www.c{i}.example.com",
                )
            )
            updates.append(
                account_row(
                    number,
                    f"Company {i} Ltd",
                    "Partners",
                    parent=parent,
                    website=f"www.c{i}.example.com",
                )
            )
            contacts.append(
                [number, f"Ann{i}", "Lee", f"ann{i}@x.example.com", "", "yes" if i % 2 else ""]
            )
            contacts.append([number, f"Bob{i}", "Ray", "", "", "maybe" if i % 97 == 0 else "no"])
    rng.shuffle(updates)
    return [
        (write_csv(tmp_path / "accounts.csv", ACCOUNTS_HEADER, accounts), "Account"),
        (write_csv(tmp_path / "updates.csv", ACCOUNTS_HEADER, updates), "Account"),
        (write_csv(tmp_path / "contacts.csv", CONTACTS_HEADER, contacts), "Contact"),
    ]


def import_everything(tmp_path: Path, url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    seed_groups(tmp_path, url)
    reports = []
    for name, model in [
        ("customer_groups", "CustomerGroup"),
        ("accounts", "Account"),
        ("contacts", "Contact"),
    ]:
        reports.append(run_import(EXAMPLES / f"{name}.csv", model, url).rows)
    for path, model in mixed_files(tmp_path):
        run = run_import(path, model, url, "--batch-size", "500")
        reports.append({**run.rows, "contacts": run.report["contacts"]})
    return reports, {name: fetch(url, sql) for name, sql in DUMP.items()}


def normalise(dump: dict[str, Any]) -> dict[str, Any]:
    """SQLite returns is_primary as 0/1, PostgreSQL as a boolean."""
    contacts = [(*row[:7], bool(row[7])) for row in dump["contacts"]]
    return {**dump, "contacts": contacts}


def test_sqlite_and_postgresql_end_with_the_same_counts_and_rows(
    tmp_path: Path, sqlite_url: str, postgres_url: str
) -> None:
    results = {}
    for engine, url in (("sqlite", sqlite_url), ("postgresql", postgres_url)):
        work = tmp_path / engine
        work.mkdir()
        results[engine] = import_everything(work, url)
    (sqlite_reports, sqlite_dump), (pg_reports, pg_dump) = results["sqlite"], results["postgresql"]
    assert sqlite_reports == pg_reports
    assert sqlite_reports[3]["failed"] > 0  # the mixed file has invalid rows
    assert sqlite_reports[4]["updated"] > 1000  # and the second pass changes most of them
    assert normalise(sqlite_dump) == normalise(pg_dump)
    assert len(sqlite_dump["accounts"]) > 2000
