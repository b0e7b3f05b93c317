"""Batches of new rows on both engines: COPY on PostgreSQL, INSERT on SQLite (SPEC §4, §7).

A batch of more than one new account or contact goes to PostgreSQL with COPY, a
single row (the row-by-row fallback, or --batch-size 1) with INSERT; SQLite
always inserts. These tests hold both paths to the same results.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from custimport.store import db, repository
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    account_row,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)

# What COPY's text format has to escape, and values it must not mistake for NULL.
AWKWARD_TEXTS = ["tab\there", "back\\slash", "\\N", "new\nline\r", "quote\"'", "ünï ☃", ""]
STAMP = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def refuse(url: str, table: str, column: str, value: str) -> None:
    """Make the database alone refuse rows whose `column` is `value` (validation cannot know)."""
    if url.startswith("sqlite"):
        execute(
            url,
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
    else:
        execute(
            url, f"ALTER TABLE {table} ADD CONSTRAINT refused_{table} CHECK ({column} <> '{value}')"
        )


def parent_links(url: str) -> list[tuple[Any, ...]]:
    """(account number, its parent's number or None) for every account, in order."""
    return fetch(
        url,
        "SELECT a.account_number, p.account_number FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
    )


def error_log(run: Any) -> str:
    return Path(run.report["error_log"]).read_text(encoding="utf-8")


def test_a_row_only_the_database_refuses_fails_alone_in_a_batch_of_new_accounts(
    tmp_path: Path, groups: str
) -> None:
    refuse(groups, "account", "name", "Refused Ltd")
    rows = [account_row(f"N-{i}") for i in range(1, 7)]
    rows[2] = account_row("N-3", "Refused Ltd")
    rows[4] = account_row("N-5", group="Retail", first="Ida", last="Lee")
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    assert run.rows["created"] == 5 and run.rows["failed"] == 1
    assert "line 4" in error_log(run) and "the database refused the row" in error_log(run)
    assert fetch(groups, "SELECT account_number FROM account ORDER BY account_number") == [
        ("N-1",),
        ("N-2",),
        ("N-4",),
        ("N-5",),
        ("N-6",),
    ]
    assert fetch(
        groups, "SELECT a.account_number FROM contact c JOIN account a ON a.id = c.account_id"
    ) == [("N-5",)]


def test_a_primary_contact_the_database_refuses_fails_only_its_account(
    tmp_path: Path, groups: str
) -> None:
    refuse(groups, "contact", "first_name", "Refused")
    rows = [account_row(f"I-{i}", group="Retail", first=f"F{i}", last="L") for i in range(1, 5)]
    rows[1] = account_row("I-2", group="Retail", first="Refused", last="L")
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    assert run.rows["created"] == 3 and run.rows["failed"] == 1
    assert "line 3" in error_log(run)
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name FROM account a "
        "LEFT JOIN contact c ON c.account_id = a.id ORDER BY a.account_number",
    ) == [("I-1", "F1"), ("I-3", "F3"), ("I-4", "F4")]


def test_a_contact_the_database_refuses_fails_alone_in_a_batch_of_new_contacts(
    tmp_path: Path, groups: str
) -> None:
    accounts = [account_row("B-1"), account_row("B-2")]
    run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, accounts), "Account", groups)
    refuse(groups, "contact", "first_name", "Refused")
    contacts = [
        ["B-1", "Ann", "Lee", "ann@x.com", "", "yes"],
        ["B-1", "Refused", "Lee", "r@x.com", "", ""],
        ["B-2", "Bob", "Ray", "", "", "no"],
    ]
    run = run_import(write_csv(tmp_path / "c.csv", CONTACTS_HEADER, contacts), "Contact", groups)
    assert run.rows["created"] == 2 and run.rows["failed"] == 1
    assert "line 3" in error_log(run) and "the database refused the row" in error_log(run)
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name, c.is_primary FROM contact c "
        "JOIN account a ON a.id = c.account_id ORDER BY c.first_name",
    ) == [("B-1", "Ann", True), ("B-2", "Bob", False)]


def test_primary_contacts_of_a_batch_belong_to_their_own_accounts(
    tmp_path: Path, groups: str
) -> None:
    """New individual accounts and existing ones that only now get a contact, in one batch."""
    existing = [account_row(f"M-{i}") for i in range(5)]
    run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, existing), "Account", groups)
    rows = []
    for i in range(10):  # M-0..M-4 move into Retail, I-5..I-9 are new; both get contacts
        number = f"M-{i}" if i < 5 else f"I-{i}"
        rows.append(
            account_row(number, group="Retail", first=f"F{i}", last=f"L{i}", email=f"p{i}@x.com")
        )
    rows.append(account_row("B-10", first="Ignored", last="Ignored"))  # business: no contact
    run = run_import(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    assert run.rows["created"] == 6 and run.rows["updated"] == 5 and run.rows["failed"] == 0
    assert run.report["contacts"] == {"created": 10, "updated": 0}
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.is_primary "
        "FROM contact c JOIN account a ON a.id = c.account_id ORDER BY c.first_name",
    ) == [
        (f"M-{i}" if i < 5 else f"I-{i}", f"F{i}", f"L{i}", f"p{i}@x.com", True) for i in range(10)
    ]


def test_parents_created_in_the_same_batch_link_to_their_own_accounts(
    tmp_path: Path, groups: str
) -> None:
    run_import(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("OLD")]), "Account", groups
    )
    rows = [account_row(f"C-{i}", parent=f"P-{i % 3}") for i in range(9)]  # parents come later
    rows += [account_row(f"P-{i}", parent="OLD" if i == 0 else "P-0") for i in range(3)]
    rows += [account_row(f"D-{i}", parent=f"C-{i}") for i in range(3)]  # parents came earlier
    run = run_import(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, rows), "Account", groups)
    assert run.rows["created"] == 15 and run.rows["failed"] == 0
    links = fetch(
        groups,
        "SELECT a.account_number, p.account_number FROM account a "
        "JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
    )
    assert links == sorted(
        [(f"C-{i}", f"P-{i % 3}") for i in range(9)]
        + [("P-0", "OLD"), ("P-1", "P-0"), ("P-2", "P-0")]
        + [(f"D-{i}", f"C-{i}") for i in range(3)]
    )


def account_columns(number: str, group_id: int, stamp: Any, text: str | None) -> dict[str, Any]:
    return {
        "name": text or "Name",
        "legal_name": text,
        "website": None,
        "industry": text,
        "description": text,
        "account_number": number,
        "customer_group_id": group_id,
        "parent_account_id": None,
        "created_at": stamp,
        "updated_at": stamp,
    }


def contact_columns(stamp: Any, text: str | None, primary: bool) -> dict[str, Any]:
    return {
        "first_name": text or "First",
        "last_name": "Last",
        "email": None,
        "phone": text,
        "job_title": text,
        "department": None,
        "is_primary": primary,
        "created_at": stamp,
        "updated_at": stamp,
    }


def write_set(conn: Connection, prefix: str, group_id: int, stamp: Any, batched: bool) -> None:
    """Accounts with a primary contact each and a second contact, in batches or one by one."""
    texts: list[str | None] = [*AWKWARD_TEXTS, None]
    accounts = [account_columns(f"{prefix}{i}", group_id, stamp, t) for i, t in enumerate(texts)]
    primaries = [
        {**contact_columns(stamp, t, True), "account_number": f"{prefix}{i}"}
        for i, t in enumerate(texts)
    ]
    for part in [accounts] if batched else [[a] for a in accounts]:
        assert repository.insert_accounts(conn, part) == len(part)
    ids = repository.account_ids(conn, [a["account_number"] for a in accounts])
    others = [
        {**contact_columns(stamp, t, False), "account_id": ids[f"{prefix}{i}"]}
        for i, t in enumerate(texts)
    ]
    for part in [primaries] if batched else [[c] for c in primaries]:
        assert repository.insert_contacts_of(conn, part) == len(part)
    columns = list(others[0])
    other_values = [tuple(contact[c] for c in columns) for contact in others]
    for values in [other_values] if batched else [[v] for v in other_values]:
        assert repository.insert_contact_values(conn, columns, values) == len(values)


def stored_set(url: str, prefix: str) -> list[tuple[Any, ...]]:
    return fetch(
        url,
        "SELECT substr(a.account_number, 3), a.name, a.legal_name, a.website, a.industry, "
        "a.description, a.parent_account_id, a.created_at, a.updated_at, c.first_name, "
        "c.last_name, c.email, c.phone, c.job_title, c.department, c.is_primary, c.created_at, "
        "c.updated_at FROM account a JOIN contact c ON c.account_id = a.id "
        "WHERE a.account_number LIKE :prefix ORDER BY a.account_number, c.is_primary",
        prefix=f"{prefix}%",
    )


def test_batched_and_single_row_writes_store_the_same_values(groups: str) -> None:
    """Text COPY escapes, NULL and empty text, booleans and timestamps read back alike,
    even when the session's time zone is not UTC."""
    engine = db.make_engine(groups)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TIME ZONE 'Asia/Kathmandu'")  # UTC+05:45
                stamp: Any = STAMP
            else:
                stamp = STAMP.strftime("%Y-%m-%d %H:%M:%S.%f")  # as stored_now gives it
            group_id = repository.all_groups(conn)["enterprise"].id
            write_set(conn, "S-", group_id, stamp, batched=False)
            write_set(conn, "B-", group_id, stamp, batched=True)
    finally:
        engine.dispose()
    singles, batched = stored_set(groups, "S-"), stored_set(groups, "B-")
    assert batched == singles
    assert len(batched) == 2 * (len(AWKWARD_TEXTS) + 1)
    texts = {row[2] for row in batched}
    assert texts == {*AWKWARD_TEXTS, None}  # "\\N" and "" stayed text, None stayed NULL
    assert {row[15] for row in batched} == {True, False}  # SQLite's 1 and 0 compare equal
    expected_stamp = STAMP if groups.startswith("postgresql") else stamp
    assert {row[7] for row in batched} | {row[17] for row in batched} == {expected_stamp}


def test_a_refused_batch_after_others_in_the_same_transaction_loses_and_repeats_nothing(
    tmp_path: Path, groups: str
) -> None:
    """On SQLite batches go without a savepoint: a refused one makes every batch since the
    last commit be written again. Nothing may be lost, doubled, or reported twice: not the
    rows, not the failures found while planning, not the rows waiting for a later parent,
    not the count behind the ignored-contact warning."""
    refuse(groups, "account", "name", "Refused Ltd")
    rows = [account_row(f"R-{i:02}") for i in range(1, 15)]
    rows[0] = account_row("R-01", parent="R-14")  # these two wait for later parents
    rows[1] = account_row("R-02", parent="R-13")
    rows[2] = account_row("R-03", group="Nope")  # fails while planning, before the refusal
    rows[3] = account_row("R-04", first="Ignored", last="Contact")  # a business account
    rows[5] = account_row("R-06", name="x" * 300)  # fails validation
    rows[8] = account_row("R-09", "Refused Ltd")  # refused by the database, batch 5
    rows[11] = account_row("R-12", parent="R-02")
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", groups, "--batch-size", "2")
    assert run.rows == {
        "read": 14,
        "created": 11,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 3,
    }
    log = error_log(run)
    assert [line for line in log.splitlines() if line.startswith("line ")] == [
        "line 4",
        "line 7",
        "line 10",
    ]
    assert run.report["warnings"] == [
        "primary_contact_* values were ignored on 1 rows whose group is not INDIVIDUAL"
    ]
    assert parent_links(groups) == [
        (f"R-{i:02}", {1: "R-14", 2: "R-13", 12: "R-02"}.get(i))
        for i in (1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 14)
    ]


def test_a_refused_row_among_rows_that_waited_for_their_parent(tmp_path: Path, groups: str) -> None:
    refuse(groups, "account", "name", "Refused Ltd")
    rows = [
        account_row("W-1", parent="W-9"),
        account_row("W-2", "Refused Ltd", parent="W-9"),
        account_row("W-3", parent="W-9"),
        account_row("W-4"),
        account_row("W-9"),
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", groups, "--batch-size", "2")
    assert (run.rows["read"], run.rows["created"], run.rows["failed"]) == (5, 4, 1)
    assert [line for line in error_log(run).splitlines() if line.startswith("line ")] == ["line 3"]
    assert parent_links(groups) == [("W-1", "W-9"), ("W-3", "W-9"), ("W-4", None), ("W-9", None)]
