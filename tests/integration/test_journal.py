"""Every import records its run, and its changes in the same transactions as the rows
(SPEC §8): the journal's images are what the tables held before and after, row for row.

Read back with plain SQL; the images are decoded with json only (their column order is
store/journal.IMAGE_COLUMNS, checked here against the tables themselves).
"""

import json
from pathlib import Path
from typing import Any

import pytest

from custimport.rows.matching import STORED_KEYS
from custimport.store.journal import IMAGE_COLUMNS
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from hostile_support import full_dump


def table_images(db_url: str, table: str) -> dict[int, list[Any]]:
    """Every row of `table` as the journal images it: JSON, by the same database."""
    columns = ", ".join(f"x.{c}" for c in IMAGE_COLUMNS[table])
    builder = "json_build_array" if db_url.startswith("postgresql") else "json_array"
    sql = f"SELECT x.id, {builder}({columns}) FROM {table} x"
    return {row_id: _loads(image) for row_id, image in fetch(db_url, sql)}


def _loads(image: Any) -> list[Any]:
    return json.loads(image) if isinstance(image, str) else list(image)


def masked(table: str, before: list[Any], after: list[Any]) -> tuple[list[Any], list[Any]]:
    """What an updated row's record holds: the columns that changed on both sides, NULL on
    both sides for the others (but the contact's account, kept whatever)."""
    kept = [c == "account_id" and table == "contact" for c in IMAGE_COLUMNS[table]]
    alike = [b == a and not k for b, a, k in zip(before, after, kept, strict=True)]
    return (
        [None if same else value for value, same in zip(before, alike, strict=True)],
        [None if same else value for value, same in zip(after, alike, strict=True)],
    )


def changes(db_url: str, run: int, table: str) -> dict[int, tuple[Any, ...]]:
    """row_id → (action, line, key, before, after) of one run's records of `table`."""
    sql = (
        "SELECT row_id, action, line, row_key, before, after FROM import_change "
        "WHERE run_id = :run AND table_name = :table"
    )
    found = {}
    for row_id, action, line, key, before, after in fetch(db_url, sql, run=run, table=table):
        decoded = (_loads(before) if before else None, _loads(after) if after else None)
        found[row_id] = (action, line, key, *decoded)
    return found


def run_row(db_url: str, run: int) -> dict[str, Any]:
    columns = [
        "id", "model", "mode", "file", "file_size", "file_sha256", "mapping", "options",
        "os_user", "host", "pid", "version", "started_at", "finished_at", "status", "journal",
        "undoes_run_id", "undone_by_run_id", "last_line", "rows_read", "rows_created",
        "rows_updated", "rows_unchanged", "rows_skipped", "rows_failed", "contacts_created",
        "contacts_updated", "message",
    ]  # fmt: skip
    values = fetch(db_url, f"SELECT {', '.join(columns)} FROM import_run WHERE id = :run", run=run)
    assert len(values) == 1
    return dict(zip(columns, values[0], strict=True))


def test_the_image_columns_are_every_column_but_the_id(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    for table, columns in IMAGE_COLUMNS.items():
        names = {
            c
            for (c,) in fetch(
                db_url,
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t",
                t=table,
            )
        } if db_url.startswith("postgresql") else {
            row[1] for row in fetch(db_url, f"PRAGMA table_info({table})")
        }  # fmt: skip
        # the match keys are derived: undo recomputes them (store/match_store.py)
        assert names - {"id"} - set(STORED_KEYS.get(table, {})) == set(columns), table


def test_an_account_import_records_its_run_and_every_created_row(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    rows = [
        account_row("C-1", first="Ann", last="Lee", group="Retail", email="ann@x.org"),
        account_row("C-2", parent="C-3"),  # a parent later in the file: linked afterwards
        account_row("C-3"),
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0, run.stderr
    number = run.report["run"]
    record = run_row(db_url, number)
    assert record["status"] == "completed" and record["journal"] == "full"
    assert (record["model"], record["mode"], record["rows_created"]) == (
        "Account",
        "create_update",
        3,
    )
    assert record["file_size"] == path.stat().st_size and len(record["file_sha256"]) == 64
    assert record["finished_at"] is not None and record["last_line"] == 4
    accounts, contacts = table_images(db_url, "account"), table_images(db_url, "contact")
    journal = changes(db_url, number, "account")
    assert {row_id: entry[4] for row_id, entry in journal.items()} == accounts  # after = table
    assert {entry[0] for entry in journal.values()} == {"created"}
    assert sorted((entry[2], entry[1]) for entry in journal.values()) == [
        ("C-1", 2),
        ("C-2", 3),
        ("C-3", 4),
    ]
    contact_journal = changes(db_url, number, "contact")
    assert {row_id: entry[4] for row_id, entry in contact_journal.items()} == contacts
    assert [entry[:3] for entry in contact_journal.values()] == [("created", 2, "C-1 / ann@x.org")]


def test_updates_keep_the_first_before_image_and_the_last_after_image(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    first = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [account_row("U-1", first="Ann", last="Lee", group="Retail"), account_row("U-2")],
    )
    assert run_import(first, "Account", db_url).exit_code == 0
    before_accounts = table_images(db_url, "account")
    before_contacts = table_images(db_url, "contact")
    second = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [
            account_row("U-1", name="Renamed", first="Anne", last="Lee", group="Retail"),
            account_row("U-2"),  # unchanged: not written, not journaled
            account_row("U-3", parent="U-2"),
        ],
    )
    run = run_import(second, "Account", db_url)
    assert run.rows == {**run.rows, "created": 1, "updated": 1, "unchanged": 1}
    number = run.report["run"]
    journal = changes(db_url, number, "account")
    after_accounts = table_images(db_url, "account")
    updated = {row_id: e for row_id, e in journal.items() if e[0] == "updated"}
    assert len(updated) == 1
    (row_id, (_, line, key, before, after)), = updated.items()  # fmt: skip
    assert (line, key) == (2, "U-1")
    assert (before, after) == masked("account", before_accounts[row_id], after_accounts[row_id])
    names = IMAGE_COLUMNS["account"]
    changed = {names[i] for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a}
    assert changed == {"name", "updated_at"}  # the rest of the row is not repeated
    contact_journal = changes(db_url, number, "contact")
    ((contact_id, entry),) = contact_journal.items()
    now = table_images(db_url, "contact")[contact_id]
    assert entry[0] == "updated"
    assert (entry[3], entry[4]) == masked("contact", before_contacts[contact_id], now)


def account_with_primary(tmp_path: Path, db_url: str, number: str) -> int:
    """Groups, the BUSINESS account `number` and its primary contact Old (old@x.org), each
    imported; Old's id. Contact files go to c.csv."""
    seed_groups(tmp_path, db_url)
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(number)])
    assert run_import(accounts, "Account", db_url).exit_code == 0
    contacts = tmp_path / "c.csv"
    write_csv(contacts, CONTACTS_HEADER, [[number, "Old", "One", "old@x.org", "", "true"]])
    assert run_import(contacts, "Contact", db_url).exit_code == 0
    return int(fetch(db_url, "SELECT id FROM contact WHERE email = 'old@x.org'")[0][0])


def test_a_new_primary_journals_the_demoted_contact_without_a_line(
    db_url: str, tmp_path: Path
) -> None:
    old_id = account_with_primary(tmp_path, db_url, "P-1")
    contacts = tmp_path / "c.csv"
    write_csv(contacts, CONTACTS_HEADER, [["P-1", "New", "Two", "new@x.org", "", "true"]])
    run = run_import(contacts, "Contact", db_url)
    assert run.exit_code == 0, run.stderr
    journal = changes(db_url, run.report["run"], "contact")
    action, line, key, before, after = journal[old_id]
    assert (action, line, key) == ("updated", None, "P-1 / old@x.org")
    primary = IMAGE_COLUMNS["contact"].index("is_primary")
    assert bool(before[primary]) is True and bool(after[primary]) is False
    new_id = fetch(db_url, "SELECT id FROM contact WHERE email = 'new@x.org'")[0][0]
    assert journal[new_id][:2] == ("created", 2)


def test_groups_are_journaled_and_a_dry_run_is_not_recorded(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "g.csv", ["name", "group_type"], [["Alpha", "BUSINESS"]])
    dry = run_import(path, "CustomerGroup", db_url, "--dry-run")
    assert dry.exit_code == 0 and dry.report["run"] is None
    run = run_import(path, "CustomerGroup", db_url)
    assert fetch(db_url, "SELECT count(*) FROM import_run") == [(1,)]
    journal = changes(db_url, run.report["run"], "customer_group")
    assert [entry[:3] for entry in journal.values()] == [("created", 2, "Alpha")]
    again = run_import(path, "CustomerGroup", db_url)  # changes nothing: recorded anyway
    assert again.rows["unchanged"] == 1 and again.report["run"] == run.report["run"] + 1
    assert changes(db_url, again.report["run"], "customer_group") == {}


def test_no_undo_records_the_run_but_not_its_changes(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("N-1")])
    run = run_import(path, "Account", db_url, "--no-undo")
    assert run.exit_code == 0, run.stderr
    record = run_row(db_url, run.report["run"])
    assert (record["journal"], record["status"], record["rows_created"]) == ("off", "completed", 1)
    assert json.loads(record["options"])["no_undo"] is True
    assert changes(db_url, run.report["run"], "account") == {}


@pytest.mark.parametrize(
    ("extra", "status"),
    [(("--max-errors", "1"), "cut_short"), (("--atomic",), "rolled_back")],
)
def test_a_run_that_stops_early_or_rolls_back_says_so(
    db_url: str, tmp_path: Path, extra: tuple[str, ...], status: str
) -> None:
    seed_groups(tmp_path, db_url)
    rows = [account_row("S-1"), account_row("S-2", group="Nope"), account_row("S-3")]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = run_import(path, "Account", db_url, "--batch-size", "1", *extra)
    assert run.exit_code == 1
    record = run_row(db_url, run.report["run"])
    assert record["status"] == status
    created = fetch(db_url, "SELECT count(*) FROM import_change WHERE run_id = :r", r=record["id"])
    assert created == [(len(fetch(db_url, "SELECT id FROM account")),)]


def test_the_journal_is_rolled_back_with_a_refused_row(db_url: str, tmp_path: Path) -> None:
    """A row the database refuses (a CHECK added by hand) is split out of its batch; the
    rows written are journaled once, the refused one not at all."""
    seed_groups(tmp_path, db_url)
    if db_url.startswith("postgresql"):
        execute(db_url, "ALTER TABLE account ADD CONSTRAINT no_bad CHECK (name <> 'Bad')")
    else:
        execute(
            db_url,
            "CREATE TRIGGER no_bad BEFORE INSERT ON account WHEN NEW.name = 'Bad' "
            "BEGIN SELECT RAISE(ABORT, 'no bad names'); END",
        )
    rows = [account_row(f"R-{i}", name="Bad" if i == 5 else "") for i in range(10)]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", db_url)
    assert run.rows["created"] == 9 and run.rows["failed"] == 1
    journal = changes(db_url, run.report["run"], "account")
    assert {row_id: e[4] for row_id, e in journal.items()} == table_images(db_url, "account")
    assert sorted(e[1] for e in journal.values()) == [i + 2 for i in range(10) if i != 5]


def test_a_row_written_twice_in_a_run_has_one_record_of_its_net_change(
    db_url: str, tmp_path: Path
) -> None:
    """A contact updated by its line and demoted by a later line (another batch, another
    commit): one record, the first values before the run and the last after it; undo
    gives back the database exactly."""
    old_id = account_with_primary(tmp_path, db_url, "T-1")
    contacts = tmp_path / "c.csv"
    before_run = full_dump(db_url)
    old_before = table_images(db_url, "contact")[old_id]
    rows = [
        ["T-1", "Old", "Renamed", "old@x.org", "", ""],  # updated: last_name, still primary
        ["T-1", "Mid", "Two", "mid@x.org", "", "true"],  # superseded below: not primary
        ["T-1", "New", "Three", "new@x.org", "", "true"],  # created primary: demotes Old
    ]
    write_csv(contacts, CONTACTS_HEADER, rows)
    run = run_import(contacts, "Contact", db_url, "--batch-size", "1")
    assert run.exit_code == 0, run.stderr
    assert run.rows == {**run.rows, "created": 2, "updated": 1}
    # the claims held back to the end of the file were written: every line is committed
    assert run_row(db_url, run.report["run"])["last_line"] == 4
    now = table_images(db_url, "contact")
    journal = changes(db_url, run.report["run"], "contact")
    action, line, _, before, after = journal[old_id]
    assert (action, line) == ("updated", 2)
    assert (before, after) == masked("contact", old_before, now[old_id])
    changed = {
        IMAGE_COLUMNS["contact"][i]
        for i, (b, a) in enumerate(zip(before, after, strict=True))
        if b != a
    }
    assert changed == {"last_name", "is_primary", "updated_at"}
    mid_id = fetch(db_url, "SELECT id FROM contact WHERE email = 'mid@x.org'")[0][0]
    assert journal[mid_id][:2] == ("created", 3)
    assert journal[mid_id][3] is None and journal[mid_id][4] == now[mid_id]  # as it is now
    assert not bool(now[mid_id][IMAGE_COLUMNS["contact"].index("is_primary")])
    undone = cli("undo", str(run.report["run"]), "--db", db_url)
    assert undone.exit_code == 0, undone.stderr
    assert full_dump(db_url) == before_run


def test_a_contact_demoted_then_changed_by_its_own_row_is_credited_to_that_row(
    db_url: str, tmp_path: Path
) -> None:
    """Demoted by line 2's new primary (no line of its own), then changed by its own line
    3 in a later batch: the record names line 3."""
    old_id = account_with_primary(tmp_path, db_url, "D-1")
    contacts = tmp_path / "c.csv"
    rows = [
        ["D-1", "New", "Two", "new@x.org", "", "true"],  # demotes Old
        ["D-1", "Old", "Renamed", "old@x.org", "", ""],  # Old's own row
    ]
    write_csv(contacts, CONTACTS_HEADER, rows)
    run = run_import(contacts, "Contact", db_url, "--batch-size", "1")
    assert run.exit_code == 0, run.stderr
    action, line, *_ = changes(db_url, run.report["run"], "contact")[old_id]
    assert (action, line) == ("updated", 3)
