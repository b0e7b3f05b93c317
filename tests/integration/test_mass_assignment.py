"""Mass assignment: a column or a mapping reaches only the importable fields, never ids,
foreign-key ids, timestamps or another row's primary flag (issue: hardening, point 6).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    account_row,
    cli,
    fetch,
    run_import,
    write_csv,
)
from hostile_support import assert_usage_error, failed_lines, full_dump, seed

FORBIDDEN = ["id", "customer_group_id", "created_at", "updated_at", "parent_account_id"]


def as_utc(value: object) -> datetime:
    """A stored timestamp (SQLite gives text, PostgreSQL an aware datetime) in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def group_id(db_url: str, name: str) -> int:
    return int(fetch(db_url, "SELECT id FROM customer_group WHERE name = :n", n=name)[0][0])


def test_id_foreign_key_and_timestamp_columns_are_ignored_and_listed(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    partners = group_id(db_url, "Partners")
    started = datetime.now(UTC) - timedelta(minutes=1)
    header = ["id", "account_number", "name", "customer_group", *FORBIDDEN[1:]]
    forged = [str(partners), "1999-01-01 00:00:00", "1999-01-01 00:00:00", "1"]
    path = write_csv(
        tmp_path / "a.csv",
        header,
        [
            ["999", "M-1", "First", "Enterprise", *forged],
            ["1", "M-2", "Second", "Enterprise", *forged],
        ],
    )
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0, failed_lines(run)
    assert run.report["unknown_columns"] == FORBIDDEN
    stored = fetch(
        db_url,
        "SELECT a.id, a.account_number, g.name, a.parent_account_id, a.created_at, a.updated_at "
        "FROM account a JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.id",
    )
    assert [row[1:4] for row in stored] == [
        ("M-1", "Enterprise", None),
        ("M-2", "Enterprise", None),
    ]
    assert 999 not in [row[0] for row in stored]
    for row in stored:
        assert as_utc(row[4]) >= started and as_utc(row[5]) >= started
    # importing the file again changes nothing: the forged columns are not compared either
    again = run_import(path, "Account", db_url)
    assert again.rows["unchanged"] == 2
    assert (
        fetch(
            db_url,
            "SELECT a.id, a.account_number, g.name, a.parent_account_id, a.created_at, a.updated_at "
            "FROM account a JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.id",
        )
        == stored
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "ID",
        " Id ",
        "Customer Group ID",
        "customer-group-id",
        "Created At",
        "updated.at",
        "Account ID",
    ],
)
def test_forbidden_fields_stay_unknown_however_the_header_spells_them(
    tmp_path: Path, sqlite_url: str, spelling: str
) -> None:
    seed(tmp_path, sqlite_url)
    path = write_csv(
        tmp_path / "a.csv",
        ["account_number", "name", "customer_group", spelling],
        [["S-1", "Spelled", "Enterprise", "1"]],
    )
    run = run_import(path, "Account", sqlite_url)
    assert run.exit_code == 0
    assert run.report["unknown_columns"] == [spelling]
    assert fetch(sqlite_url, "SELECT id, account_number FROM account") == [(1, "S-1")]


def test_json_keys_for_ids_and_timestamps_are_ignored(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": 4242,
                    "customer_group_id": group_id(db_url, "Partners"),
                    "created_at": "1999-01-01T00:00:00",
                    "account_number": "J-1",
                    "name": "Json",
                    "customer_group": "Enterprise",
                }
            ]
        ),
        encoding="utf-8",
    )
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0
    assert run.report["unknown_columns"] == ["id", "customer_group_id", "created_at"]
    [(account_id, group)] = fetch(
        db_url,
        "SELECT a.id, g.name FROM account a JOIN customer_group g ON g.id = a.customer_group_id",
    )
    assert account_id != 4242 and group == "Enterprise"


def test_contact_columns_cannot_choose_the_account_or_overwrite_another_contact(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("K-1"), account_row("K-2")]
    )
    assert run_import(accounts, "Account", db_url).exit_code == 0
    first = write_csv(
        tmp_path / "c1.csv",
        CONTACTS_HEADER,
        [["K-2", "Victim", "Contact", "v@example.com", "", "yes"]],
    )
    assert run_import(first, "Contact", db_url).exit_code == 0
    (victim_id, k2_id) = fetch(db_url, "SELECT id, account_id FROM contact")[0]
    victim_before = fetch(db_url, "SELECT * FROM contact WHERE id = :i", i=victim_id)
    path = write_csv(
        tmp_path / "c2.csv",
        ["id", "account_id", "account", "first_name", "last_name", "email", "created_at"],
        [[str(victim_id), str(k2_id), "K-1", "Mallory", "M", "v@example.com", "1999-01-01"]],
    )
    run = run_import(path, "Contact", db_url)
    assert run.exit_code == 0, failed_lines(run)
    assert run.report["unknown_columns"] == ["id", "account_id", "created_at"]
    assert run.rows["created"] == 1
    assert fetch(db_url, "SELECT * FROM contact WHERE id = :i", i=victim_id) == victim_before
    assert fetch(
        db_url,
        "SELECT a.account_number, c.first_name, c.is_primary FROM contact c "
        "JOIN account a ON a.id = c.account_id WHERE c.id <> :i",
        i=victim_id,
    ) == [("K-1", "Mallory", False)]


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("Account", "id"),
        ("Account", "customer_group_id"),
        ("Account", "parent_account_id"),
        ("Account", "created_at"),
        ("Account", "is_primary"),
        ("Contact", "id"),
        ("Contact", "account_id"),
        ("Contact", "updated_at"),
        ("CustomerGroup", "id"),
        ("CustomerGroup", "created_at"),
    ],
)
def test_a_mapping_cannot_reach_a_field_that_is_not_importable(
    tmp_path: Path, sqlite_url: str, model: str, target: str
) -> None:
    path = write_csv(tmp_path / "x.csv", ["Sneaky", "name"], [["1", "x"]])
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"Sneaky": target}), encoding="utf-8")
    run = cli(path, "--model", model, "--db", sqlite_url, "--mapping", mapping)
    assert_usage_error(run, f"the mapping sends 'Sneaky' to '{target}'", "valid fields: ")
    assert not (tmp_path / "custimport.db").exists()


def test_values_that_look_like_ids_are_names_and_numbers_not_ids(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("X-1")])
    assert run_import(accounts, "Account", db_url).exit_code == 0
    account_id = fetch(db_url, "SELECT id FROM account")[0][0]
    enterprise = group_id(db_url, "Enterprise")
    path = write_csv(
        tmp_path / "b.csv",
        ["account_number", "name", "customer_group", "parent_account"],
        [
            ["X-2", "group by id", str(enterprise), ""],
            ["X-3", "parent by id", "Enterprise", str(account_id)],
        ],
    )
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 1
    logged = failed_lines(run)
    assert logged[2][0][0] == "customer_group"
    assert f"unknown customer group '{enterprise}'" in logged[2][0][1]
    assert logged[3] == [("parent_account", f"parent account '{account_id}' not found")]
    contacts = write_csv(
        tmp_path / "c.csv", CONTACTS_HEADER, [[str(account_id), "By", "Id", "", "", ""]]
    )
    run = run_import(contacts, "Contact", db_url)
    assert failed_lines(run) == {2: [("account", f"account '{account_id}' not found")]}
    assert fetch(db_url, "SELECT account_number FROM account") == [("X-1",)]
    assert fetch(db_url, "SELECT count(*) FROM contact") == [(0,)]


def test_an_account_row_never_touches_a_contact_other_than_its_own_primary(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [account_row("I-1", group="Retail", first="Pat", last="Prime", email="pat@example.com")],
    )
    assert run_import(accounts, "Account", db_url).exit_code == 0
    other = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [["I-1", "Quinn", "Other", "quinn@example.com", "", "no"]],
    )
    assert run_import(other, "Contact", db_url).exit_code == 0
    before = full_dump(db_url)
    # the account row names the other contact's email: it must not take that contact over
    takeover = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [
            account_row(
                "I-1", group="Retail", first="Quinn", last="Other", email="QUINN@example.com"
            )
        ],
    )
    run = run_import(takeover, "Account", db_url)
    assert run.exit_code == 1
    assert full_dump(db_url) == before
    # a contact row cannot move the primary flag of an INDIVIDUAL account either
    promote = write_csv(
        tmp_path / "d.csv",
        CONTACTS_HEADER,
        [["I-1", "Quinn", "Other", "quinn@example.com", "", "yes"]],
    )
    run = run_import(promote, "Contact", db_url)
    assert run.exit_code == 1
    assert failed_lines(run)[2][0][0] == "is_primary"
    assert full_dump(db_url) == before


def test_an_account_row_error_names_its_own_column(tmp_path: Path, sqlite_url: str) -> None:
    seed(tmp_path, sqlite_url)
    accounts = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [account_row("I-1", group="Retail", first="Pat", last="Prime", email="pat@example.com")],
    )
    assert run_import(accounts, "Account", sqlite_url).exit_code == 0
    other = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [["I-1", "Quinn", "Other", "quinn@example.com", "", "no"]],
    )
    assert run_import(other, "Contact", sqlite_url).exit_code == 0
    takeover = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [account_row("I-1", group="Retail", first="Pat", last="Prime", email="quinn@example.com")],
    )
    run = run_import(takeover, "Account", sqlite_url)
    assert [field for field, _ in failed_lines(run)[2]] == ["primary_contact_email"]


def test_a_stored_id_sequence_is_not_disturbed_by_forged_ids(tmp_path: Path, db_url: str) -> None:
    """New rows after a forged-id import get the next ids the database hands out itself."""
    seed(tmp_path, db_url)
    groups = write_csv(
        tmp_path / "g.csv", ["id", "name", "group_type"], [["1000000", "Forged", "BUSINESS"]]
    )
    run = run_import(groups, "CustomerGroup", db_url)
    assert run.exit_code == 0
    ids = [i for (i,) in fetch(db_url, "SELECT id FROM customer_group ORDER BY id")]
    assert max(ids) < 1000
