"""A database made before history existed (schema revision 0002, with data) is upgraded
by `db upgrade`, keeps its data, and then records, shows and undoes imports (SPEC §8)."""

from pathlib import Path

from alembic import command

from custimport.store import db
from helpers import ACCOUNTS_HEADER, CONTACTS_HEADER, cli, execute, fetch, run_import, write_csv
from hostile_support import full_dump

STAMP = "2026-01-02 03:04:05"


def at_revision(url: str, revision: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        command.upgrade(db.alembic_config(connection), revision)
    engine.dispose()


def seed_at_0002(db_url: str) -> None:
    """Groups, accounts (one INDIVIDUAL with its primary contact) and a contact, by SQL."""
    at_revision(db_url, "0002")
    execute(
        db_url,
        "INSERT INTO customer_group (id, name, name_key, group_type, created_at, updated_at) "
        f"VALUES (1, 'Retail', 'retail', 'INDIVIDUAL', '{STAMP}', '{STAMP}'), "
        f"(2, 'Enterprise', 'enterprise', 'BUSINESS', '{STAMP}', '{STAMP}')",
    )
    execute(
        db_url,
        "INSERT INTO account (id, account_number, name, customer_group_id, website, "
        f"created_at, updated_at) VALUES (1, 'OLD-1', 'Old One', 2, 'old.example', "
        f"'{STAMP}', '{STAMP}'), (2, 'OLD-2', 'Person', 1, NULL, '{STAMP}', '{STAMP}')",
    )
    execute(
        db_url,
        "INSERT INTO contact (id, account_id, first_name, last_name, email, is_primary, "
        f"created_at, updated_at) VALUES (1, 2, 'Pat', 'Doe', 'pat@x.org', true, "
        f"'{STAMP}', '{STAMP}'), (2, 1, 'Kim', 'Lo', 'kim@x.org', false, '{STAMP}', '{STAMP}')",
    )
    if db_url.startswith("postgresql"):  # rows inserted with their ids: move the sequences on
        for table in ("customer_group", "account", "contact"):
            execute(
                db_url,
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))",
            )


def without_match_keys(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    """full_dump without the key columns migration 0005 added (the last two of a table)."""
    dump = full_dump(db_url)
    return {
        t: [row[:-2] if t != "customer_group" else row for row in rows] for t, rows in dump.items()
    }


def test_an_upgraded_database_imports_and_undoes(db_url: str, tmp_path: Path) -> None:
    seed_at_0002(db_url)
    groups = write_csv(tmp_path / "x.csv", ["name", "group_type"], [["X", "BUSINESS"]])
    refused = run_import(groups, "CustomerGroup", db_url)
    assert refused.exit_code == 2 and "custimport db upgrade" in refused.stderr
    before_upgrade = full_dump(db_url)
    upgraded = cli("db", "upgrade", "--db", db_url)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert f"upgraded from 0002 to {db.SCHEMA_HEAD}" in upgraded.stdout
    # the data kept, row for row; the match keys (migration 0005) added and computed
    assert without_match_keys(db_url) == before_upgrade
    assert fetch(db_url, "SELECT name_match, website_match FROM account ORDER BY id") == [
        ("old one", "old.example"),
        ("person", ""),
    ]
    assert fetch(db_url, "SELECT name_match, phone_match FROM contact ORDER BY id") == [
        ("pat doe", ""),
        ("kim lo", ""),
    ]
    assert fetch(db_url, "SELECT count(*) FROM import_run") == [(0,)]

    accounts = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [
            ["OLD-1", "Old One Renamed", "Enterprise", "", "new.example", "", "", "", ""],
            ["OLD-2", "Person", "Retail", "", "", "Patricia", "Doe", "pat@x.org", "555"],
            ["NEW-1", "New", "Enterprise", "OLD-1", "", "", "", "", ""],
        ],
    )
    run = run_import(accounts, "Account", db_url)
    assert run.rows == {**run.rows, "created": 1, "updated": 2}, run.stderr
    contacts = write_csv(
        tmp_path / "c.csv", CONTACTS_HEADER, [["OLD-1", "Neu", "Primary", "neu@x.org", "", "true"]]
    )
    second = run_import(contacts, "Contact", db_url)
    assert second.rows["created"] == 1, second.stderr

    for number in (second.report["run"], run.report["run"]):  # newest first
        undone = cli("undo", str(number), "--db", db_url, "--json")
        assert undone.exit_code == 0, (undone.stdout, undone.stderr)
    assert without_match_keys(db_url) == before_upgrade
