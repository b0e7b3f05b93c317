"""Contact rows on both engines (SPEC §4): keys with and without email, primary demotion."""

from pathlib import Path

import pytest

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


@pytest.fixture
def accounts(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    path = write_csv(
        tmp_path / "accounts.csv",
        ACCOUNTS_HEADER,
        [
            account_row("B-1"),
            account_row("B-2"),
            account_row("I-1", group="Retail", first="Jane", last="Doe"),
        ],
    )
    assert run_import(path, "Account", db_url).exit_code == 0
    return db_url


def contacts(tmp_path: Path, rows: list[list[str]], name: str = "contacts.csv") -> Path:
    return write_csv(tmp_path / name, CONTACTS_HEADER, rows)


def primaries(db_url: str) -> list[tuple[str, str]]:
    return fetch(
        db_url,
        "SELECT a.account_number, c.first_name FROM contact c JOIN account a ON a.id = c.account_id "
        "WHERE c.is_primary ORDER BY a.account_number",
    )


def test_creates_contacts_and_matches_email_case_insensitively(
    tmp_path: Path, accounts: str
) -> None:
    run_import(
        contacts(tmp_path, [["B-1", "Ann", "Lee", "Ann@X.com", "", ""]]), "Contact", accounts
    )
    run = run_import(
        contacts(tmp_path, [["B-1", "Ann", "Lee", "ann@x.COM", "123", ""]], "b.csv"),
        "Contact",
        accounts,
    )
    assert run.rows == {
        "read": 1,
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert fetch(
        accounts, "SELECT email, phone, is_primary FROM contact WHERE first_name = 'Ann'"
    ) == [("ann@x.com", "123", False)]


def test_contacts_without_email_match_by_name_among_those_without_email(
    tmp_path: Path, accounts: str
) -> None:
    first = contacts(
        tmp_path, [["B-1", "Bob", "Ray", "", "1", ""], ["B-1", "Bob", "Ray", "bob@x.com", "", ""]]
    )
    assert run_import(first, "Contact", accounts).rows["created"] == 2
    again = contacts(tmp_path, [["B-1", "bob", "RAY", "", "2", ""]], "b.csv")
    run = run_import(again, "Contact", accounts)
    assert run.rows["updated"] == 1
    assert fetch(
        accounts, "SELECT phone FROM contact WHERE email IS NULL AND first_name = 'bob'"
    ) == [("2",)]


def test_several_contacts_with_the_same_name_and_no_email_make_the_row_ambiguous(
    tmp_path: Path, accounts: str
) -> None:
    for _ in range(2):  # one file may not hold the same key twice, so insert the pair directly
        execute(
            accounts,
            "INSERT INTO contact (account_id, first_name, last_name, is_primary, created_at, updated_at) "
            "SELECT id, 'Al', 'Bo', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM account "
            "WHERE account_number = 'B-1'",
        )
    run = run_import(contacts(tmp_path, [["B-1", "Al", "Bo", "", "5", ""]]), "Contact", accounts)
    assert run.rows["failed"] == 1
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "ambiguous: 2 contacts of account 'B-1' have this name and no email" in log
    assert fetch(accounts, "SELECT count(*) FROM contact WHERE phone IS NOT NULL") == [(0,)]


def test_is_primary_demotes_the_previous_primary(tmp_path: Path, accounts: str) -> None:
    run_import(
        contacts(tmp_path, [["B-1", "Ann", "Lee", "ann@x.com", "", "yes"]]), "Contact", accounts
    )
    assert primaries(accounts) == [("B-1", "Ann"), ("I-1", "Jane")]
    run = run_import(
        contacts(tmp_path, [["B-1", "Cy", "Oh", "cy@x.com", "", "TRUE"]], "b.csv"),
        "Contact",
        accounts,
    )
    assert run.rows["created"] == 1
    assert primaries(accounts) == [("B-1", "Cy"), ("I-1", "Jane")]


def test_last_primary_row_of_a_file_wins(tmp_path: Path, accounts: str) -> None:
    path = contacts(
        tmp_path,
        [
            ["B-2", "One", "A", "one@x.com", "", "1"],
            ["B-2", "Two", "B", "two@x.com", "", "1"],
            ["B-2", "Three", "C", "", "", "0"],
        ],
    )
    run = run_import(path, "Contact", accounts)
    assert run.rows["created"] == 3
    assert primaries(accounts) == [("B-2", "Two"), ("I-1", "Jane")]


def test_empty_is_primary_on_update_leaves_the_flag_alone(tmp_path: Path, accounts: str) -> None:
    run_import(
        contacts(tmp_path, [["B-1", "Ann", "Lee", "ann@x.com", "", "yes"]]), "Contact", accounts
    )
    run = run_import(
        contacts(tmp_path, [["B-1", "Ann", "Lee", "ann@x.com", "9", ""]], "b.csv"),
        "Contact",
        accounts,
    )
    assert run.rows["updated"] == 1
    assert primaries(accounts)[0] == ("B-1", "Ann")


def test_a_contact_row_cannot_take_the_primary_flag_of_an_individual_account(
    tmp_path: Path, accounts: str
) -> None:
    path = contacts(
        tmp_path,
        [
            ["I-1", "Jim", "Doe", "jim@x.com", "", "yes"],
            ["I-1", "Kid", "Doe", "kid@x.com", "", "no"],
        ],
    )
    run = run_import(path, "Contact", accounts)
    assert run.rows["failed"] == 1 and run.rows["created"] == 1
    assert primaries(accounts) == [("I-1", "Jane")]
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "is set by its Account row" in log


def test_unknown_account_fails_the_row(tmp_path: Path, accounts: str) -> None:
    run = run_import(contacts(tmp_path, [["NOPE", "A", "B", "", "", ""]]), "Contact", accounts)
    assert run.rows["failed"] == 1
    assert "account: account 'NOPE' not found" in Path(run.report["error_log"]).read_text(
        encoding="utf-8"
    )


def test_duplicate_contact_key_in_one_file_fails_the_later_row(
    tmp_path: Path, accounts: str
) -> None:
    path = contacts(
        tmp_path, [["B-1", "A", "B", "a@x.com", "", ""], ["B-1", "C", "D", "A@X.COM", "", ""]]
    )
    run = run_import(path, "Contact", accounts)
    assert run.rows["created"] == 1 and run.rows["failed"] == 1


def test_the_database_refuses_a_second_primary_contact(accounts: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(accounts)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        account_id = conn.execute(
            text("SELECT id FROM account WHERE account_number = 'I-1'")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO contact (account_id, first_name, last_name, is_primary, created_at, updated_at) "
                "VALUES (:a, 'X', 'Y', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"a": account_id},
        )
    engine.dispose()


def test_the_database_refuses_the_same_email_twice_on_one_account_in_any_case(
    accounts: str,
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(accounts)
    insert = text(
        "INSERT INTO contact (account_id, first_name, last_name, email, is_primary, created_at, updated_at) "
        "SELECT id, 'X', 'Y', :email, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM account WHERE account_number = 'B-1'"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"email": "dup@x.com"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"email": "DUP@x.com"})
    engine.dispose()


def test_the_last_primary_row_of_the_file_wins_across_batches_and_reimports_unchanged(
    tmp_path: Path, accounts: str
) -> None:
    path = contacts(
        tmp_path,
        [
            ["B-2", "One", "A", "one@x.com", "", "yes"],
            ["B-1", "Other", "Z", "z@x.com", "", "no"],
            ["B-2", "Two", "B", "two@x.com", "", "yes"],
        ],
    )
    first = run_import(path, "Contact", accounts, "--batch-size", "1")
    assert first.rows["created"] == 3
    assert primaries(accounts) == [("B-2", "Two"), ("I-1", "Jane")]
    again = run_import(path, "Contact", accounts, "--batch-size", "1")
    assert again.rows == {
        "read": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "skipped": 0,
        "failed": 0,
    }


def test_an_invalid_last_claim_leaves_the_earlier_valid_one_winning(
    tmp_path: Path, accounts: str
) -> None:
    path = contacts(
        tmp_path,
        [
            ["B-2", "One", "A", "one@x.com", "", "yes"],
            ["B-2", "Two", "B", "not an email", "", "yes"],
            ["B-2", "One", "A", "one@x.com", "", "yes"],  # a duplicate: fails, claims nothing
        ],
    )
    run = run_import(path, "Contact", accounts, "--error-log", tmp_path / "errors.log")
    assert run.rows["created"] == 1 and run.rows["failed"] == 2
    assert primaries(accounts) == [("B-2", "One"), ("I-1", "Jane")]


def test_claims_are_written_after_the_other_rows_and_their_failures_are_logged(
    tmp_path: Path, accounts: str
) -> None:
    """Claiming rows wait for the end of the file; one that fails there is still logged
    with its own line, and every row is counted once."""
    path = contacts(
        tmp_path,
        [
            ["B-1", "Ann", "Lee", "ann@x.com", "", "yes"],
            ["NOPE-1", "Bob", "Ray", "bob@x.com", "", "yes"],
            ["B-1", "Cy", "Oh", "cy@x.com", "", "no"],
            ["I-1", "Dee", "Fox", "dee@x.com", "", "true"],
        ],
    )
    log = tmp_path / "errors.log"
    run = run_import(path, "Contact", accounts, "--error-log", log, "--batch-size", "2")
    assert run.rows == {
        "read": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 2,
    }
    text = log.read_text(encoding="utf-8")
    assert "line 3\n" in text and "'NOPE-1' not found" in text
    assert "line 5\n" in text and "INDIVIDUAL" in text
    assert primaries(accounts) == [("B-1", "Ann"), ("I-1", "Jane")]


@pytest.mark.parametrize("limit", [None, "50"])
def test_the_last_claim_wins_with_and_without_max_errors(
    tmp_path: Path, accounts: str, limit: str | None
) -> None:
    """--max-errors decides the claims with a first pass; without it they are held to the
    end. Either way the last valid claim wins and a re-import changes nothing."""
    rows = [
        ["B-1", f"P{i}", "Lee", f"p{i}@x.com", "", "yes" if i % 3 == 0 else "no"] for i in range(30)
    ]
    rows.insert(10, ["B-1", "Bad", "Row", "bad email", "", "yes"])
    path = contacts(tmp_path, rows)
    extra = ["--batch-size", "4", "--error-log", tmp_path / "e.log"]
    extra += ["--max-errors", limit] if limit else []
    first = run_import(path, "Contact", accounts, *extra)
    assert (first.rows["created"], first.rows["failed"]) == (30, 1)
    assert primaries(accounts) == [("B-1", "P27"), ("I-1", "Jane")]
    again = run_import(path, "Contact", accounts, *extra)
    assert (again.rows["unchanged"], again.rows["failed"]) == (30, 1)
    assert primaries(accounts) == [("B-1", "P27"), ("I-1", "Jane")]


def test_contacts_are_found_by_their_own_account_and_email_only(
    tmp_path: Path, accounts: str
) -> None:
    """B-1 has x@, B-2 has y@. Asked for (B-1, y@) and (B-2, x@) and (B-2, y@), the look-up
    finds B-2's y@ alone: the other two pairs cross accounts (PostgreSQL's look-up reads
    both accounts' contacts with both emails and must drop them)."""
    rows = [["B-1", "X", "One", "x@example.com", "", ""], ["B-2", "Y", "Two", "y@e.com", "", ""]]
    path = contacts(tmp_path, rows)
    assert run_import(path, "Contact", accounts).rows["created"] == 2
    ids = dict(fetch(accounts, "SELECT account_number, id FROM account"))
    engine = db.make_engine(accounts)
    try:
        with engine.connect() as conn:
            wanted = [
                (ids["B-1"], "y@e.com"),
                (ids["B-2"], "x@example.com"),
                (ids["B-2"], "y@e.com"),
            ]
            found = repository.find_contacts_by_email(conn, wanted)
    finally:
        engine.dispose()
    assert {key: contact.first_name for key, contact in found.items()} == {
        (ids["B-2"], "y@e.com"): "Y"
    }
