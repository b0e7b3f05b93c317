"""`custimport runs`, `runs show` and `runs prune` (SPEC §8) on both engines.

Runs come from real imports; states a file cannot make (a run killed, a run still going, a
run from long ago) are written with SQL behind the tool's back, and results are read back
with SQL, never through the code under test.
"""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from custimport.service import history
from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)


def runs_json(db_url: str, *extra: str) -> list[dict[str, Any]]:
    done = cli("runs", "--json", "--db", db_url, *extra)
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def shown(db_url: str, run: int, *extra: str) -> dict[str, Any]:
    done = cli("runs", "show", str(run), "--json", "--db", db_url, *extra)
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def changes(db_url: str, run: int) -> list[tuple[Any, ...]]:
    """(table, key, line, action, field, before, after) of every change, as JSON gives them."""
    entries = shown(db_url, run, "--changes")["changes"]
    return [
        tuple(e[k] for k in ("table", "key", "line", "action", "field", "before", "after"))
        for e in entries
    ]


def imported(path: Path, model: str, db_url: str, *extra: str) -> int:
    done = run_import(path, model, db_url, *extra)
    assert done.exit_code == 0, done.stderr
    return int(done.report["run"])


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def insert_run(
    db_url: str, status: str, pid: int, started: datetime | str, journal: str = "full"
) -> int:
    execute(
        db_url,
        "INSERT INTO import_run (model, mode, file, options, os_user, host, pid, started_at, "
        "status, journal, rows_read, rows_created, rows_updated, rows_unchanged, rows_skipped, "
        "rows_failed, contacts_created, contacts_updated) VALUES ('Account', 'create_update', "
        "'x.csv', '{}', 'someone', :host, :pid, :started, :status, :journal, "
        "0, 0, 0, 0, 0, 0, 0, 0)",
        host=os.uname().nodename,
        pid=pid,
        started=started,
        status=status,
        journal=journal,
    )
    return int(fetch(db_url, "SELECT max(id) FROM import_run")[0][0])


def insert_changes(db_url: str, run: int, count: int) -> None:
    execute_many(
        db_url,
        "INSERT INTO import_change (run_id, table_name, row_id, row_key, line, action, after) "
        "VALUES (:run, 'customer_group', :row, 'G', :row, 'created', :image)",
        [
            {"run": run, "row": n, "image": '["G", "g", "BUSINESS", null, null]'}
            for n in range(1, count + 1)
        ],
    )


def execute_many(db_url: str, sql: str, rows: list[dict[str, Any]]) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), rows)
    finally:
        engine.dispose()


def stamp(db_url: str, days_ago: float = 0) -> datetime | str:
    """A start time `days_ago`, as custimport stores one: text in UTC on SQLite."""
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    if db_url.startswith("sqlite"):
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


# --- listing ------------------------------------------------------------------------------


def test_runs_lists_the_latest_first_with_their_counts_and_honours_limit(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)  # run 1
    accounts = write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1"), account_row("A-2")]
    )
    second = imported(accounts, "Account", db_url)
    third = imported(accounts, "Account", db_url, "--no-undo")  # both unchanged
    listed = runs_json(db_url)
    assert [r["run"] for r in listed] == [third, second, 1]
    latest = listed[0]
    assert latest["status"] == "completed"
    assert latest["model"] == "Account"
    assert latest["mode"] == "create_update"
    assert latest["file"] == str(accounts)
    assert latest["rows"] == {
        "read": 2,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "skipped": 0,
        "failed": 0,
    }
    assert latest["journal"] == "off"
    assert listed[1]["rows"]["created"] == 2 and listed[1]["journal"] == "full"
    started = datetime.fromisoformat(latest["started_at"])
    finished = datetime.fromisoformat(latest["finished_at"])
    assert started.utcoffset() is not None and started <= finished
    assert isinstance(latest["options"], dict) and latest["mapping"] is None
    assert [r["run"] for r in runs_json(db_url, "--limit", "2")] == [third, second]

    table = cli("runs", "--db", db_url)
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:6] == ["run", "started", "model", "mode", "file", "status"]
    numbers = [line.split()[0] for line in lines[2:]]
    assert numbers == [str(third), str(second), "1"]
    assert cli("runs", "--limit", "0", "--db", db_url).exit_code == 2


def test_more_runs_than_one_read_chunk_come_in_order(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "RUN_CHUNK", 2)
    seed_groups(tmp_path, db_url)
    made = [insert_run(db_url, "completed", 1, stamp(db_url)) for _ in range(4)]
    assert [r["run"] for r in runs_json(db_url, "--limit", "3")] == made[::-1][:3]
    assert [r["run"] for r in runs_json(db_url, "--limit", "9")] == [*made[::-1], 1]


def test_a_running_run_whose_process_is_gone_shows_as_killed(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    gone = insert_run(db_url, "running", dead_pid(), stamp(db_url))
    alive = insert_run(db_url, "running", os.getppid(), stamp(db_url))  # pytest's parent: alive
    statuses = {r["run"]: r["status"] for r in runs_json(db_url)}
    assert statuses[gone] == "killed"
    assert statuses[alive] == "running"
    assert shown(db_url, gone)["finished_at"] is None
    assert fetch(db_url, "SELECT status FROM import_run WHERE id = :id", id=gone) == [("running",)]
    human = cli("runs", "--db", db_url).stdout
    assert "killed" in human and "running" in human


# --- one run and its changes --------------------------------------------------------------


def test_show_gives_account_changes_with_names_for_ids(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    first = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [
            account_row("P-1"),
            account_row("P-2"),
            account_row("A-1", name="Old", parent="P-1", website="old.example.com"),
        ],
    )
    created = imported(first, "Account", db_url)
    assert changes(db_url, created)[:1] == [
        (
            "account",
            "P-1",
            2,
            "created",
            None,
            None,
            json.dumps(
                {"account_number": "P-1", "name": "Account P-1", "customer_group": "Enterprise"},
                ensure_ascii=False,
            ),
        ),
    ]
    second = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [account_row("A-1", name="New", group="Partners", parent="P-2"), account_row("P-1")],
    )
    updated = imported(second, "Account", db_url)
    assert changes(db_url, updated) == [
        ("account", "A-1", 2, "updated", "name", "Old", "New"),
        ("account", "A-1", 2, "updated", "customer_group", "Enterprise", "Partners"),
        ("account", "A-1", 2, "updated", "parent_account", "P-1", "P-2"),
        ("account", "A-1", 2, "updated", "website", "old.example.com", None),
    ]  # P-1 unchanged: not written, not listed
    one = shown(db_url, updated)
    assert one["run"] == updated and one["rows"]["updated"] == 1 and "changes" not in one

    # a row gone since: its id, as `#ID`
    p1 = fetch(db_url, "SELECT id FROM account WHERE account_number = 'P-1'")[0][0]
    execute(db_url, "DELETE FROM account WHERE id = :id", id=p1)
    assert changes(db_url, updated)[2] == (
        "account",
        "A-1",
        2,
        "updated",
        "parent_account",
        f"#{p1}",
        "P-2",
    )


def test_show_gives_primary_contacts_an_account_import_creates_and_changes(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    first = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [
            account_row(
                "I-1",
                name="Ann Lee",
                group="Retail",
                first="Ann",
                last="Lee",
                email="ann@example.com",
            )
        ],
    )
    created = imported(first, "Account", db_url)
    contact_entry = changes(db_url, created)[1]
    assert contact_entry[:5] == ("contact", "I-1 / ann@example.com", 2, "created", None)
    assert json.loads(contact_entry[6]) == {
        "account": "I-1",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "is_primary": "true",
    }
    second = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [
            account_row(
                "I-1",
                name="Ann Lee",
                group="Retail",
                first="Ann",
                last="Lee",
                email="ann@example.com",
                phone="+1 555 0100",
            )
        ],
    )
    updated = imported(second, "Account", db_url)
    assert changes(db_url, updated) == [
        ("contact", "I-1 / ann@example.com", 2, "updated", "phone", None, "+1 555 0100"),
    ]


def test_show_gives_contacts_created_promoted_and_demoted(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("B-1")]), "Account", db_url
    )
    first = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [
            ["B-1", "Wile", "Coyote", "wile@example.com", "", "true"],
            ["B-1", "Road", "Runner", "road@example.com", "", "false"],
        ],
    )
    imported(first, "Contact", db_url)
    second = write_csv(
        tmp_path / "d.csv",
        CONTACTS_HEADER,
        [["B-1", "Road", "Runner", "road@example.com", "", "true"]],
    )
    promoted = imported(second, "Contact", db_url)
    assert sorted(changes(db_url, promoted), key=lambda c: c[1]) == [
        ("contact", "B-1 / road@example.com", 2, "updated", "is_primary", "false", "true"),
        ("contact", "B-1 / wile@example.com", None, "updated", "is_primary", "true", "false"),
    ]  # the demoted contact: a secondary change, without a line


def test_show_gives_group_changes_without_the_internal_name_key(
    tmp_path: Path, db_url: str
) -> None:
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    created = imported(groups, "CustomerGroup", db_url)
    assert changes(db_url, created) == [
        (
            "customer_group",
            "Retail",
            2,
            "created",
            None,
            None,
            '{"name": "Retail", "group_type": "INDIVIDUAL"}',
        ),
    ]
    renamed = write_csv(tmp_path / "h.csv", GROUPS_HEADER, [["RETAIL", "BUSINESS"]])
    updated = imported(renamed, "CustomerGroup", db_url)
    assert changes(db_url, updated) == [
        ("customer_group", "Retail", 2, "updated", "name", "Retail", "RETAIL"),
        ("customer_group", "Retail", 2, "updated", "group_type", "INDIVIDUAL", "BUSINESS"),
    ]


def test_show_of_many_changes_reads_them_all_in_chunks_and_people_see_the_first(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "CHUNK", 7)
    seed_groups(tmp_path, db_url)
    rows = [account_row(f"A-{n:03d}") for n in range(120)]
    run = imported(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", db_url)
    keys = [entry[1] for entry in changes(db_url, run)]
    assert keys == [f"A-{n:03d}" for n in range(120)]
    human = cli("runs", "show", str(run), "--changes", "--db", db_url)
    assert human.exit_code == 0, human.stderr
    assert "account A-000 (line 2): created" in human.stdout
    assert "A-119" not in human.stdout
    assert "of 120 the run changed" in human.stdout
    assert f"runs show {run} --changes -o FILE.csv" in human.stdout


def test_show_says_when_the_changes_were_not_recorded_or_pruned(
    tmp_path: Path, db_url: str
) -> None:
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    run = imported(groups, "CustomerGroup", db_url, "--no-undo")
    assert shown(db_url, run, "--changes")["changes"] == []
    human = cli("runs", "show", str(run), "--changes", "--db", db_url).stdout
    assert "--no-undo" in human


def test_show_gives_the_mapping_in_effect(tmp_path: Path, db_url: str) -> None:
    groups = write_csv(tmp_path / "g.csv", ["Segment", "Kind"], [["Retail", "INDIVIDUAL"]])
    mapping = tmp_path / "m.json"
    mapping.write_text('{"Segment": "name", "Kind": "group_type"}')
    run = imported(groups, "CustomerGroup", db_url, "--mapping", str(mapping))
    assert shown(db_url, run)["mapping"] == {"Segment": "name", "Kind": "group_type"}


def test_data_is_shown_as_written_never_as_markup_and_controls_are_visible(
    tmp_path: Path, db_url: str
) -> None:
    """File names and values are data: `[old]` is not a style, `[/]` does not end the
    command, and an ESC in a file name or value is shown as `\\x1b`, not sent raw."""
    (tmp_path / "w").mkdir()
    values = ["Acme [old]", "[b]MK-1", "x[/]y", "[/red]z", "A\x1b[31mB"]
    groups = write_csv(
        tmp_path / "w" / "[red]evil.csv", GROUPS_HEADER, [[v, "BUSINESS"] for v in values]
    )
    imported_summary = cli(groups.relative_to(tmp_path), "--model", "CustomerGroup", "--db", db_url)
    assert imported_summary.exit_code == 0, imported_summary.stderr
    assert imported_summary.stdout.splitlines()[0].endswith(": w/[red]evil.csv")
    escape_named = write_csv(tmp_path / "e\x1b[31mvil.csv", GROUPS_HEADER, [["E", "BUSINESS"]])
    first = imported(groups.relative_to(tmp_path), "CustomerGroup", db_url)  # all unchanged
    second = imported(Path(escape_named.name), "CustomerGroup", db_url)

    listed = cli("runs", "--db", db_url)
    assert listed.exit_code == 0, listed.stderr
    assert "w/[red]evil.csv" in listed.stdout and "e\\x1b[31mvil.csv" in listed.stdout
    one = cli("runs", "show", str(second), "--db", db_url)
    assert one.exit_code == 0, one.stderr
    assert "e\\x1b[31mvil.csv" in one.stdout
    assert "w/[red]evil.csv" in cli("runs", "show", str(first), "--db", db_url).stdout
    shown_changes = cli("runs", "show", str(first - 1), "--changes", "--db", db_url)
    assert shown_changes.exit_code == 0, shown_changes.stderr
    for value in ["Acme [old]", "[b]MK-1", "x[/]y", "[/red]z", "A\\x1b[31mB"]:
        assert f"customer_group {value} (line" in shown_changes.stdout
        assert f"name        {value}" in shown_changes.stdout
    for output in (listed, one, shown_changes):
        assert "\x1b" not in output.stdout
    # JSON gives the data exactly
    assert [c[1] for c in changes(db_url, first - 1)] == values
    assert shown(db_url, second)["file"] == "e\x1b[31mvil.csv"


def test_an_undo_and_the_run_it_reversed_name_each_other(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    run = imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1")]), "Account", db_url
    )
    undone = cli("undo", str(run), "--json", "--db", db_url)
    assert undone.exit_code == 0, undone.stderr
    undo = json.loads(undone.stdout)["run"]
    listed = {r["run"]: r for r in runs_json(db_url)}
    assert listed[run]["status"] == "undone" and listed[run]["undone_by"] == undo
    assert listed[undo]["mode"] == "undo" and listed[undo]["undoes"] == run
    assert f"(undo of run {run})" in cli("runs", "--db", db_url).stdout


def test_an_undo_shows_the_rows_it_deleted(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    run = imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1"), account_row("A-2")]),
        "Account",
        db_url,
    )
    assert "deleted" not in cli("runs", "--db", db_url).stdout  # no undo listed: no column
    undone = cli("undo", str(run), "--json", "--db", db_url)
    assert undone.exit_code == 0, undone.stderr
    undo = json.loads(undone.stdout)["run"]
    execute(db_url, "UPDATE import_run SET rows_deleted = 1234 WHERE id = :id", id=undo)
    listed = {r["run"]: r for r in runs_json(db_url)}
    assert listed[undo]["rows"]["deleted"] == 1234
    assert "deleted" not in listed[run]["rows"]  # an import deletes nothing
    assert shown(db_url, undo)["rows"]["deleted"] == 1234

    table = cli("runs", "--db", db_url).stdout.splitlines()
    assert table[0].split()[6:10] == ["read", "created", "updated", "deleted"]
    by_run = {row.split()[0]: row.split() for row in table[2:]}

    def counts(run: int, status: str) -> list[str]:  # read, created, updated, deleted
        cells = by_run[str(run)]
        return cells[cells.index(status) + 1 :][:4]

    assert counts(undo, "completed")[3] == "1,234"
    assert counts(run, "undone") == ["2", "2", "0", "-"]
    assert "updated 0, deleted 1,234," in cli("runs", "show", str(undo), "--db", db_url).stdout


def test_show_tells_rows_waiting_for_a_parent_from_lines_committed(
    tmp_path: Path, db_url: str
) -> None:
    """A child read before its parent waits: until it is written at the end, every row up
    to line 2 is in while the batches committed reach line 4 (a run stopped then records
    both; `Last line 2 (committed)` misled). Once the run completes, every line is in."""
    seed_groups(tmp_path, db_url)
    rows = [account_row("A-1"), account_row("C-1", parent="P-1"), account_row("P-1")]
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    run = imported(accounts, "Account", db_url, "--batch-size", "1")
    one = shown(db_url, run)
    assert (one["last_line"], one["last_line_read"]) == (4, 4)
    execute(
        db_url, "UPDATE import_run SET last_line = 2, status = 'interrupted' WHERE id = :r", r=run
    )
    human = cli("runs", "show", str(run), "--db", db_url).stdout
    assert (
        " ".join(human.split()).count(
            "committed every row up to line 2; read to line 4 (rows after line 2 waited for "
            "parents later in the file)"
        )
        == 1
    )
    assert "Last line" not in human
    plain = imported(
        write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, [account_row("B-1")]), "Account", db_url
    )
    assert shown(db_url, plain)["last_line_read"] == 2
    one_line = cli("runs", "show", str(plain), "--db", db_url).stdout
    assert "Lines     committed every row up to line 2 " in one_line
    assert "read to line" not in one_line


def test_show_says_what_the_journal_records_count(tmp_path: Path, db_url: str) -> None:
    """An account import's journal holds a record for each account and each contact: the
    count is records, not rows read."""
    seed_groups(tmp_path, db_url)
    rows = [
        account_row("I-1", name="Ann Lee", group="Retail", first="Ann", last="Lee"),
        account_row("I-2", name="Bob Roe", group="Retail", first="Bob", last="Roe"),
    ]
    run = imported(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", db_url)
    human = " ".join(cli("runs", "show", str(run), "--db", db_url).stdout.split())
    assert "Journal 4 records, one for each of the rows and contacts it created or updated" in human
    assert "rows written" not in human


# --- changes as CSV -----------------------------------------------------------------------


def test_changes_go_to_a_csv_file_with_formulas_escaped(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    plain = [account_row("A-1", name="Plain"), account_row("A-2", name="Other")]
    imported(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, plain), "Account", db_url)
    hostile = write_csv(
        tmp_path / "b.csv",
        ACCOUNTS_HEADER,
        [account_row("A-1", name='=HYPERLINK("http://evil","x")'), account_row("A-2", name="-5")],
    )
    run = imported(hostile, "Account", db_url)
    out = tmp_path / "changes.csv"
    done = cli("runs", "show", str(run), "-o", out, "--db", db_url)
    assert done.exit_code == 0, done.stderr
    assert f"Wrote 2 changes to {out}" in done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        written = list(csv.reader(handle))
    assert written == [
        ["line", "model", "key", "action", "field", "before", "after"],  # as --changes
        ["2", "Account", "A-1", "updated", "name", "Plain", '\'=HYPERLINK("http://evil","x")'],
        ["3", "Account", "A-2", "updated", "name", "Other", "-5"],  # a number: left alone
    ]
    assert os.stat(out).st_mode & 0o077 == 0  # personal data: the owner's only
    assert changes(db_url, run)[0][6] == '=HYPERLINK("http://evil","x")'  # JSON: as it is


def test_the_csv_file_is_never_overwritten_unasked(tmp_path: Path, db_url: str) -> None:
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    run = imported(groups, "CustomerGroup", db_url)
    out = tmp_path / "changes.csv"
    out.write_text("keep me")
    refused = cli("runs", "show", str(run), "-o", out, "--db", db_url)
    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"Error: {out} already exists; use --force to replace it"
    assert out.read_text() == "keep me"
    forced = cli("runs", "show", str(run), "-o", out, "--force", "--db", db_url)
    assert forced.exit_code == 0, forced.stderr
    assert out.read_text(encoding="utf-8").startswith("line,model,key,action,field,before,after")
    assert cli("runs", "show", str(run), "-o", tmp_path, "--db", db_url).exit_code == 2
    assert cli("runs", "show", str(run), "-o", "/dev/null", "--db", db_url).exit_code == 0


def test_o_edge_cases_are_one_line_errors(tmp_path: Path, db_url: str) -> None:
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    run = imported(groups, "CustomerGroup", db_url)

    def refused(*args: str | Path) -> str:
        done = cli("runs", "show", str(run), *args, "--db", db_url)
        assert done.exit_code == 2, done.stdout
        assert len(done.stderr.splitlines()) == 1, done.stderr
        return done.stderr

    assert refused("-o", "") == "Error: -o needs a file name\n"
    assert refused("-o", "/dev/full") == (
        "Error: cannot write /dev/full: no space left on device\n"
    )
    # a symbolic link is neither replaced (--force) nor followed, wherever it leads
    target = tmp_path / "target.csv"
    target.write_text("keep me")
    (tmp_path / "link.csv").symlink_to(target)
    (tmp_path / "null").symlink_to("/dev/null")
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    for link in ("link.csv", "null", "dangling.csv"):
        for force in ([], ["--force"]):
            assert refused("-o", tmp_path / link, *force) == (
                f"Error: {tmp_path / link} is a symbolic link; -o neither follows nor replaces "
                "one: name the file it points to\n"
            )
            assert (tmp_path / link).is_symlink()
    assert target.read_text() == "keep me" and not (tmp_path / "gone.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []


def test_csv_and_json_together_give_the_same_changes(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    run = imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1", name="w\r\nx")]),
        "Account",
        db_url,
    )
    out = tmp_path / "c.csv"
    done = cli("runs", "show", str(run), "--changes", "--json", "-o", out, "--db", db_url)
    assert done.exit_code == 0, done.stderr
    from_json = json.loads(done.stdout)["changes"]
    from_csv = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert [c["after"] for c in from_csv] == [c["after"] for c in from_json]
    assert "w\\r\\nx" in from_json[0]["after"]


def test_images_edited_by_hand_are_shown_as_text_or_refused_never_misread(
    tmp_path: Path, db_url: str
) -> None:
    """A journal edited behind custimport's back: a number where a text column's value was
    is shown as text, in every form; images whose texts are no JSON each (one running on
    into the next) are refused with one line, never read as other values (a reading that
    decoded a chunk's images in one go showed a name the database never held)."""
    seed_groups(tmp_path, db_url)
    imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1")]), "Account", db_url
    )
    rows = [account_row("A-1", name="Renamed")]
    run = imported(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, rows), "Account", db_url)
    where = f"WHERE run_id = {run} AND table_name = 'account'"
    ((before, after),) = fetch(db_url, f"SELECT before, after FROM import_change {where}")
    numbered = json.loads(after)
    numbered[1] = 5  # name
    execute(db_url, f"UPDATE import_change SET after = :a {where}", a=json.dumps(numbered))
    assert ("account", "A-1", 2, "updated", "name", "Account A-1", "5") in changes(db_url, run)
    out = tmp_path / "c.csv"
    assert cli("runs", "show", str(run), "--changes", "-o", out, "--db", db_url).exit_code == 0
    assert "2,Account,A-1,updated,name,Account A-1,5\n" in out.read_text(encoding="utf-8")
    on_screen = cli("runs", "show", str(run), "--changes", "--db", db_url)
    assert on_screen.exit_code == 0 and "Renamed" not in on_screen.stdout
    spread = {"b": before + ',[null,"NEW"', "a": after[after.index(",") + 1 :]}
    execute(db_url, f"UPDATE import_change SET before = :b, after = :a {where}", **spread)
    refused = tmp_path / "refused.csv"
    for form in (("--json",), ("-o", refused), ()):
        done = cli("runs", "show", str(run), "--changes", *form, "--db", db_url)
        assert done.exit_code == 2 and "NEW" not in done.stdout, (form, done.stdout)
        assert "holds an image that is not a JSON array" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not refused.exists()
    for edited in ("5", '"text"', '{"name": "x"}'):  # JSON, but no image
        execute(
            db_url, f"UPDATE import_change SET before = :b, after = :a {where}", b=None, a=edited
        )
        done = cli("runs", "show", str(run), "--changes", "--db", db_url)
        assert done.exit_code == 2 and "not a JSON array" in done.stderr, (edited, done.stderr)


def test_an_image_stored_as_a_blob_reads_as_its_text(tmp_path: Path, sqlite_url: str) -> None:
    seed_groups(tmp_path, sqlite_url)
    rows = [account_row("A-1")]
    imported(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", sqlite_url)
    rows = [account_row("A-1", name="Renamed")]
    run = imported(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, rows), "Account", sqlite_url)
    execute(sqlite_url, "UPDATE import_change SET after = CAST(after AS BLOB)")
    assert ("account", "A-1", 2, "updated", "name", "Account A-1", "Renamed") in changes(
        sqlite_url, run
    )


# --- pruning ------------------------------------------------------------------------------


def test_prune_deletes_old_changes_and_keeps_summaries(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "PRUNE_CHUNK", 3)  # several transactions per run
    seed_groups(tmp_path, db_url)
    old = imported(
        write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(f"A-{n}") for n in range(10)]),
        "Account",
        db_url,
    )
    recent = imported(
        write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, [account_row("B-1")]), "Account", db_url
    )
    long_ago = stamp(db_url, days_ago=40)
    execute(
        db_url, "UPDATE import_run SET started_at = :t WHERE id IN (1, :old)", t=long_ago, old=old
    )
    done = cli("runs", "prune", "--older-than", "30", "--db", db_url)
    assert done.exit_code == 0, done.stderr
    assert "Pruned the changes of 2 runs started more than 30 days ago: 13 change records" in (
        done.stdout.replace("\n", " ")
    )
    assert fetch(db_url, "SELECT DISTINCT run_id FROM import_change") == [(recent,)]
    journals = dict(fetch(db_url, "SELECT id, journal FROM import_run"))
    assert journals == {1: "pruned", old: "pruned", recent: "full"}
    summary = shown(db_url, old)
    assert summary["rows"]["created"] == 10 and summary["journal"] == "pruned"
    assert shown(db_url, old, "--changes")["changes"] == []
    again = cli("runs", "prune", "--older-than", "30", "--db", db_url)
    assert "Nothing to prune" in again.stdout
    everything = cli("runs", "prune", "--older-than", "0", "--db", db_url)
    assert "Pruned the changes of 1 run started before now: 1 change record" in (
        everything.stdout.replace("\n", " ")
    )
    assert fetch(db_url, "SELECT count(*) FROM import_change") == [(0,)]


def test_prune_leaves_a_run_that_is_still_going_alone(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    long_ago = stamp(db_url, days_ago=5)
    going = insert_run(db_url, "running", os.getppid(), long_ago)
    killed = insert_run(db_url, "running", dead_pid(), long_ago)
    insert_changes(db_url, going, 4)
    insert_changes(db_url, killed, 5)
    done = cli("runs", "prune", "--older-than", "1", "--db", db_url)
    assert done.exit_code == 0, done.stderr
    assert f"Left alone, still running: run {going}." in done.stdout
    counted = "SELECT run_id, count(*) FROM import_change WHERE run_id > 1 GROUP BY run_id"
    assert fetch(db_url, counted) == [(going, 4)]
    journals = dict(fetch(db_url, "SELECT id, journal FROM import_run WHERE id > 1"))
    assert journals == {going: "full", killed: "pruned"}


def test_prune_finishes_what_a_prune_cut_short_left(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    cut_short = insert_run(db_url, "completed", 1, stamp(db_url), "pruned")
    insert_changes(db_url, cut_short, 3)
    done = cli("runs", "prune", "--older-than", "9999", "--db", db_url)
    assert "Deleted 3 change records left by an earlier prune." in done.stdout
    assert fetch(db_url, "SELECT count(*) FROM import_change WHERE run_id = :r", r=cut_short) == [
        (0,)
    ]


def test_numbers_out_of_range_are_one_line_and_exit_2(tmp_path: Path, db_url: str) -> None:
    """A run number no id column holds is no run (never an overflow); days beyond a century
    are refused before a date is computed."""
    seed_groups(tmp_path, db_url)
    for number in ("0", "2147483647", "2147483648", "99999999999999999999"):
        done = cli("runs", "show", number, "--db", db_url)
        assert done.exit_code == 2, number
        assert done.stderr == (
            f"Error: there is no run {number} in this database; `custimport runs` lists them\n"
        )
    for days in ("36501", "1000000", "99999999999"):
        done = cli("runs", "prune", "--older-than", days, "--db", db_url)
        assert done.exit_code == 2, days
        assert done.stderr.startswith("Error: ") and len(done.stderr.splitlines()) == 1
        assert "36500" in done.stderr
    kept = cli("runs", "prune", "--older-than", "36500", "--db", db_url)
    assert kept.exit_code == 0, kept.stderr
    assert "Nothing to prune" in kept.stdout
    assert fetch(db_url, "SELECT journal FROM import_run") == [("full",)]


# --- what there is no history of ----------------------------------------------------------


def test_an_unknown_run_is_one_line_and_exit_2(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    done = cli("runs", "show", "99", "--db", db_url)
    assert done.exit_code == 2
    assert done.stderr == (
        "Error: there is no run 99 in this database; `custimport runs` lists them\n"
    )


def test_a_database_that_does_not_exist_has_no_history_and_is_not_created(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nothing.db"
    url = f"sqlite:///{path}"
    listed = cli("runs", "--db", url)
    assert listed.exit_code == 0
    assert listed.stdout.startswith("No imports recorded yet in sqlite:///")
    assert runs_json(url) == []
    assert cli("runs", "show", "1", "--db", url).exit_code == 2
    assert "Nothing to prune" in cli("runs", "prune", "--older-than", "0", "--db", url).stdout
    assert not path.exists()


def test_an_empty_database_has_no_history_and_gets_no_tables(db_url: str) -> None:
    execute(db_url, "CREATE TABLE unrelated (id integer)")
    execute(db_url, "DROP TABLE unrelated")
    assert runs_json(db_url) == []
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            from sqlalchemy import inspect

            assert inspect(connection).get_table_names() == []
    finally:
        engine.dispose()


def test_the_database_password_is_never_printed(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    password = make_url(db_url).password
    for args in (["runs"], ["runs", "show", "1"], ["runs", "show", "9"]):
        done = cli(*args, "--db", db_url)
        assert not password or password not in done.stdout + done.stderr
    wrong = db_url.replace(f":{password}@", ":wrong-secret@") if password else None
    if wrong:
        refused = cli("runs", "--db", wrong)
        assert refused.exit_code == 2
        assert "wrong-secret" not in refused.stderr and refused.stderr.startswith("Error: ")


def test_a_database_behind_asks_for_db_upgrade(tmp_path: Path, db_url: str) -> None:
    engine = db.make_engine(db_url)
    with engine.begin() as connection:
        from alembic import command

        command.upgrade(db.alembic_config(connection), "0002")
    engine.dispose()
    for args in (["runs"], ["runs", "show", "1"], ["runs", "prune", "--older-than", "1"]):
        done = cli(*args, "--db", db_url)
        assert done.exit_code == 2, args
        assert "run `custimport db upgrade`" in done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_a_pruned_value_is_gone_from_the_sqlite_file(tmp_path: Path, sqlite_url: str) -> None:
    """The journal holds personal data: after a prune, a value only it held is not in the
    file's bytes any more (secure_delete: deleted cells are overwritten, not unlinked)."""
    seed_groups(tmp_path, sqlite_url)
    first = [account_row("P-1", name="Marker Old Name Qx7")]
    imported(write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, first), "Account", sqlite_url)
    renamed = [account_row("P-1", name="New Name")]
    imported(write_csv(tmp_path / "b.csv", ACCOUNTS_HEADER, renamed), "Account", sqlite_url)
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    execute(sqlite_url, "PRAGMA wal_checkpoint(TRUNCATE)")
    marker = b"Marker Old Name Qx7"
    assert marker in database.read_bytes()  # in the journal only: the account is renamed
    done = cli("runs", "prune", "--older-than", "0", "--db", sqlite_url)
    assert done.exit_code == 0, done.stderr
    execute(sqlite_url, "PRAGMA wal_checkpoint(TRUNCATE)")
    wal = database.with_name(database.name + "-wal")
    left = database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert marker not in left
