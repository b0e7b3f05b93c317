"""`custimport undo RUN` on both engines (SPEC §8): exact reversal, refusals, conflicts.

Every check reads the database with plain SQL: a full dump (ids, timestamps and all) taken
before the import must equal the one taken after its undo; an undo that stops on conflicts
must leave the dump exactly as it found it.
"""

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    Run,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    write_csv,
)
from hostile_support import assert_usage_error, consistency_problems, full_dump, seed

Dump = dict[str, list[tuple[Any, ...]]]


def undo(db_url: str, run: int, *extra: str) -> Run:
    return cli("undo", str(run), "--db", db_url, "--json", *extra)


def imported(
    tmp_path: Path, db_url: str, model: str, header: list[str], rows: list[list[str]], *extra: str
) -> int:
    """Import the rows (every one must succeed); the run's number."""
    path = write_csv(tmp_path / f"{model}-{uuid.uuid4().hex[:8]}.csv", header, rows)
    run = run_import(path, model, db_url, *extra)
    assert run.exit_code == 0, (run.stdout, run.stderr)
    number = run.report["run"]
    assert isinstance(number, int)
    return number


def accounts(tmp_path: Path, db_url: str, *rows: list[str], extra: tuple[str, ...] = ()) -> int:
    return imported(tmp_path, db_url, "Account", ACCOUNTS_HEADER, list(rows), *extra)


def contacts(tmp_path: Path, db_url: str, *rows: list[str]) -> int:
    return imported(tmp_path, db_url, "Contact", CONTACTS_HEADER, list(rows))


def contact(
    account: str, first: str, email: str = "", phone: str = "", primary: str = ""
) -> list[str]:
    return [account, first, "Lee", email, phone, primary]


def status(db_url: str, run: int) -> tuple[Any, ...]:
    return fetch(db_url, "SELECT status, undone_by_run_id FROM import_run WHERE id = :r", r=run)[0]


def runs_count(db_url: str) -> int:
    return int(fetch(db_url, "SELECT count(*) FROM import_run")[0][0])


def conflicts(run: Run) -> list[tuple[str, str, str]]:
    return [(c["table"], c["key"], c["reason"]) for c in run.report["conflicts"]]


def skipping(db_url: str, run: int, *extra: str) -> Run:
    """`undo RUN --skip-conflicts`, and the database it leaves checked for consistency."""
    done = undo(db_url, run, "--skip-conflicts", *extra)
    assert_consistent(db_url)
    return done


def assert_consistent(db_url: str) -> None:
    """No row refers to a row that is gone, every INDIVIDUAL account has exactly one primary
    contact, no account has two (whatever an undo left in place)."""
    (orphan_accounts,) = fetch(
        db_url,
        "SELECT count(*) FROM account a WHERE (a.customer_group_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM customer_group g WHERE g.id = a.customer_group_id)) "
        "OR (a.parent_account_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM account p WHERE p.id = a.parent_account_id))",
    )[0]
    problems = consistency_problems(db_url)
    if orphan_accounts:
        problems.append(f"{orphan_accounts} accounts refer to a group or parent that is gone")
    assert problems == []


def undo_counts(db_url: str, run: int) -> tuple[Any, ...]:
    """The counts an undo's run records: read, created, updated, unchanged, skipped, failed,
    deleted."""
    return fetch(
        db_url,
        "SELECT rows_read, rows_created, rows_updated, rows_unchanged, rows_skipped, "
        "rows_failed, rows_deleted FROM import_run WHERE id = :r",
        r=run,
    )[0]


# A file that creates every kind of row an Account import writes: business accounts, a
# parent named on an earlier line than the account it is (B-1 → B-3), INDIVIDUAL accounts
# with their primary contacts.
CREATED = [
    account_row("B-1", parent="B-3", website="b1.example"),
    account_row("B-2"),
    account_row("B-3", parent="B-2"),
    account_row("I-1", group="Retail", first="Jane", last="Doe", email="jane@x.com", phone="1"),
    account_row("I-2", group="Retail", first="Joe", last="Bloggs"),
]


@pytest.fixture
def base(tmp_path: Path, db_url: str) -> str:
    """Groups, three accounts and two contacts of B-1 (Ann its primary)."""
    seed(tmp_path, db_url)
    accounts(
        tmp_path,
        db_url,
        account_row("B-1"),
        account_row("B-2", website="b2.example"),
        account_row("I-1", group="Retail", first="Jane", last="Doe", email="jane@x.com", phone="1"),
    )
    contacts(
        tmp_path,
        db_url,
        contact("B-1", "Ann", "ann@x.com", primary="yes"),
        contact("B-1", "Bob", "bob@x.com", phone="1"),
    )
    return db_url


# --- exact reversal --------------------------------------------------------------------


def test_undo_of_an_import_that_created_rows_gives_back_the_database_exactly(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    before = full_dump(db_url)
    run = accounts(tmp_path, db_url, *CREATED)
    assert full_dump(db_url) != before
    done = undo(db_url, run)
    assert done.exit_code == 0, done.stderr
    assert done.report["deleted"] == 7 and done.report["restored"] == 0  # 5 accounts, 2 contacts
    assert done.report["conflicts"] == [] and done.report["undoes"] == run
    assert full_dump(db_url) == before
    assert status(db_url, run) == ("undone", done.report["run"])
    assert fetch(
        db_url,
        "SELECT mode, status, undoes_run_id, journal, model FROM import_run WHERE id = :r",
        r=done.report["run"],
    ) == [("undo", "completed", run, "off", "Account")]


def test_undo_of_an_account_import_restores_fields_parents_and_primary_contacts(
    tmp_path: Path, base: str
) -> None:
    before = full_dump(base)
    run = accounts(
        tmp_path,
        base,
        account_row("B-1", name="Renamed", website="b1.example"),
        account_row("B-2", parent="N-1"),  # a parent created on a later line
        account_row("I-1", group="Retail", first="Jane", last="Doe", email="jane@x.com", phone="9"),
        account_row("N-1"),
    )
    done = undo(base, run)
    assert done.exit_code == 0, done.stderr
    # N-1; B-1, B-2, I-1 (its row is "updated" when its contact is) and Jane
    assert (done.report["deleted"], done.report["restored"]) == (1, 4)
    assert full_dump(base) == before
    # read = created + updated + unchanged + skipped + failed + deleted, as for imports
    assert undo_counts(base, done.report["run"]) == (5, 0, 4, 0, 0, 0, 1)


def test_undo_of_a_contact_import_gives_the_demoted_contact_its_primary_flag_back(
    tmp_path: Path, base: str
) -> None:
    before = full_dump(base)
    run = contacts(
        tmp_path,
        base,
        contact("B-1", "Cat", "cat@x.com", primary="yes"),  # demotes Ann
        contact("B-1", "Bob", "bob@x.com", phone="555"),
        contact("B-2", "Dan", "dan@x.com", primary="yes"),
    )
    assert fetch(base, "SELECT count(*) FROM contact WHERE is_primary AND first_name = 'Ann'") == [
        (0,)
    ]
    done = undo(base, run)
    assert done.exit_code == 0, done.stderr
    assert (done.report["deleted"], done.report["restored"]) == (2, 2)  # Cat, Dan; Bob, Ann
    assert full_dump(base) == before


def test_undo_of_a_contact_made_primary_gives_the_flag_back_to_the_one_it_demoted(
    tmp_path: Path, base: str
) -> None:
    before = full_dump(base)
    run = contacts(tmp_path, base, contact("B-1", "Bob", "bob@x.com", phone="1", primary="yes"))
    assert fetch(base, "SELECT first_name FROM contact WHERE is_primary ORDER BY 1") == [
        ("Bob",),
        ("Jane",),
    ]
    done = undo(base, run)
    assert (done.exit_code, done.report["deleted"], done.report["restored"]) == (0, 0, 2)
    assert full_dump(base) == before


def test_undo_of_a_group_import_restores_and_deletes_groups(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    before = full_dump(db_url)
    run = imported(
        tmp_path,
        db_url,
        "CustomerGroup",
        GROUPS_HEADER,
        [["Partners", "INDIVIDUAL"], ["Resellers", "BUSINESS"]],
    )
    done = undo(db_url, run)
    assert (done.exit_code, done.report["deleted"], done.report["restored"]) == (0, 1, 1)
    assert full_dump(db_url) == before


def test_undoing_runs_newest_first_gives_back_the_first_state(tmp_path: Path, base: str) -> None:
    before = full_dump(base)
    first = accounts(tmp_path, base, account_row("B-1", name="One"), account_row("N-1"))
    second = accounts(
        tmp_path, base, account_row("B-1", name="Two"), account_row("N-2", parent="N-1")
    )
    assert undo(base, second).exit_code == 0
    assert undo(base, first).exit_code == 0
    assert full_dump(base) == before


def test_a_dry_run_reports_what_undo_would_do_and_changes_nothing(
    tmp_path: Path, base: str
) -> None:
    run = accounts(tmp_path, base, account_row("B-1", name="Renamed"), account_row("N-1"))
    after_import, runs = full_dump(base), runs_count(base)
    dry = undo(base, run, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert dry.report["run"] is None and dry.report["dry_run"] is True
    assert full_dump(base) == after_import
    assert runs_count(base) == runs and status(base, run) == ("completed", None)
    real = undo(base, run)
    assert (
        (real.report["deleted"], real.report["restored"])
        == (
            dry.report["deleted"],
            dry.report["restored"],
        )
        == (1, 1)
    )


def test_the_json_report_has_the_contract_keys(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("N-1"))
    report = undo(base, run).report
    assert {"run", "undoes", "dry_run", "deleted", "restored", "conflicts"} <= report.keys()
    assert isinstance(report["run"], int) and report["run"] > run


# --- refusals --------------------------------------------------------------------------


def insert_run(db_url: str, **values: Any) -> int:
    """A run row made by hand, for states an import cannot be caught in."""
    row = {
        "model": "Account",
        "mode": "create_update",
        "options": "{}",
        "status": "completed",
        "journal": "full",
        **dict.fromkeys(
            (
                "rows_read",
                "rows_created",
                "rows_updated",
                "rows_unchanged",
                "rows_skipped",
                "rows_failed",
                "contacts_created",
                "contacts_updated",
            ),
            0,
        ),
        **values,
    }
    columns = ", ".join(row)
    values = ", ".join(f":{column}" for column in row)
    execute(
        db_url,
        f"INSERT INTO import_run (started_at, {columns}) VALUES (CURRENT_TIMESTAMP, {values})",
        **row,
    )
    return int(fetch(db_url, "SELECT max(id) FROM import_run")[0][0])


def test_an_unknown_run_is_refused(tmp_path: Path, base: str) -> None:
    assert_usage_error(undo(base, 999), "no run 999")


def at_revision(url: str, revision: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        command.upgrade(db.alembic_config(connection), revision)
    engine.dispose()


def tables(db_url: str) -> list[str]:
    if db_url.startswith("sqlite"):
        return [row[0] for row in fetch(db_url, "SELECT name FROM sqlite_master")]
    query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return [row[0] for row in fetch(db_url, query)]


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--skip-conflicts",)])
def test_undo_in_a_database_that_does_not_exist_creates_nothing(
    db_url: str, extra: tuple[str, ...]
) -> None:
    """A SQLite file that is not there, an empty PostgreSQL database: no run, and no schema
    made by a command that found nothing to do."""
    assert_usage_error(undo(db_url, 1, *extra), "there is no run 1 in this database")
    sqlite_file = Path(db_url.removeprefix("sqlite:///"))
    if db_url.startswith("sqlite"):
        assert not sqlite_file.exists()
    else:
        assert tables(db_url) == []


def test_undo_in_a_database_at_an_older_schema_asks_for_db_upgrade(db_url: str) -> None:
    at_revision(db_url, "0002")
    assert_usage_error(undo(db_url, 1), "custimport db upgrade")
    assert fetch(db_url, "SELECT version_num FROM alembic_version") == [("0002",)]


@pytest.mark.parametrize("number", ["0", "2147483648", "99999999999999999999"])
def test_a_run_number_out_of_range_is_no_run(base: str, number: str) -> None:
    assert_usage_error(
        cli("undo", number, "--db", base), f"there is no run {number} in this database"
    )


def test_a_run_number_out_of_range_is_refused_before_the_database_is_reached() -> None:
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    assert_usage_error(cli("undo", "2147483648", "--db", unreachable), "there is no run")


def test_a_run_undone_already_is_refused_the_second_time(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("N-1"))
    first = undo(base, run)
    assert first.exit_code == 0
    dump = full_dump(base)
    assert_usage_error(
        undo(base, run), f"run {run} is already undone", f"by run {first.report['run']}"
    )
    assert full_dump(base) == dump


def test_an_undo_run_cannot_be_undone(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("N-1"))
    new = undo(base, run).report["run"]
    assert_usage_error(undo(base, new), f"run {new} is itself an undo", f"of run {run}")


def test_a_run_still_running_in_a_live_process_is_refused(tmp_path: Path, base: str) -> None:
    run = insert_run(base, status="running", pid=os.getpid(), host=socket.gethostname())
    assert_usage_error(undo(base, run), f"run {run} is still running", str(os.getpid()))


def test_a_run_whose_changes_were_pruned_is_refused(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("N-1"))
    execute(base, "UPDATE import_run SET journal = 'pruned' WHERE id = :r", r=run)
    execute(base, "DELETE FROM import_change WHERE run_id = :r", r=run)
    assert_usage_error(undo(base, run), f"run {run} can no longer be undone", "pruned")


def test_a_run_recorded_with_no_undo_is_refused(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("N-1"), extra=("--no-undo",))
    assert_usage_error(undo(base, run), f"run {run}", "--no-undo")
    assert fetch(base, "SELECT count(*) FROM account WHERE account_number = 'N-1'") == [(1,)]


def test_a_rolled_back_run_is_refused(tmp_path: Path, base: str) -> None:
    run = insert_run(base, status="rolled_back")
    assert_usage_error(undo(base, run), f"run {run} was rolled back")


def test_a_killed_run_can_be_undone(tmp_path: Path, base: str) -> None:
    """A `running` run whose process is gone reverses what it committed (here: nothing)."""
    gone = 2**22 + 12345  # above pid_max's default: no such process
    run = insert_run(base, status="running", pid=gone, host=socket.gethostname())
    done = undo(base, run)
    assert done.exit_code == 0, done.stderr
    assert status(base, run) == ("undone", done.report["run"])


# --- conflicts -------------------------------------------------------------------------


def created_run(tmp_path: Path, db_url: str) -> int:
    seed(tmp_path, db_url)
    return accounts(tmp_path, db_url, *CREATED)


def change_name(tmp_path: Path, db_url: str) -> list[tuple[str, str, str]]:
    execute(db_url, "UPDATE account SET name = 'Changed' WHERE account_number = 'B-2'")
    return [("account", "B-2", "changed since: field name")]


def delete_row(tmp_path: Path, db_url: str) -> list[tuple[str, str, str]]:
    execute(db_url, "DELETE FROM account WHERE account_number = 'B-1'")
    return [("account", "B-1", "deleted since")]


def add_contact(tmp_path: Path, db_url: str) -> list[tuple[str, str, str]]:
    contacts(tmp_path, db_url, contact("B-2", "Eve", "eve@x.com"))
    return [("account", "B-2", "referenced by 1 contact added since")]


def add_child(tmp_path: Path, db_url: str) -> list[tuple[str, str, str]]:
    accounts(tmp_path, db_url, account_row("X-1", parent="B-2"), account_row("X-2", parent="B-2"))
    return [("account", "B-2", "referenced by 2 child accounts added since")]


@pytest.mark.parametrize("later", [change_name, delete_row, add_contact, add_child])
def test_a_conflict_stops_the_whole_undo_and_changes_nothing(
    tmp_path: Path, db_url: str, later: Any
) -> None:
    run = created_run(tmp_path, db_url)
    expected = later(tmp_path, db_url)
    dump = full_dump(db_url)
    stopped = undo(db_url, run)
    assert stopped.exit_code == 1, stopped.stderr
    assert conflicts(stopped) == expected
    assert (stopped.report["run"], stopped.report["deleted"], stopped.report["restored"]) == (
        None,
        0,
        0,
    )
    assert full_dump(db_url) == dump
    assert status(db_url, run) == ("completed", None)


@pytest.mark.parametrize("later", [change_name, delete_row, add_contact, add_child])
def test_skip_conflicts_reverses_the_rest_and_leaves_the_conflicts(
    tmp_path: Path, db_url: str, later: Any
) -> None:
    run = created_run(tmp_path, db_url)
    expected = later(tmp_path, db_url)
    done = skipping(db_url, run)
    assert done.exit_code == 1, done.stderr
    assert conflicts(done) == expected
    left = [row[0] for row in fetch(db_url, "SELECT account_number FROM account ORDER BY 1")]
    gone = {"B-1", "B-3", "I-1", "I-2"}
    assert not gone & set(left)
    assert fetch(db_url, "SELECT count(*) FROM contact WHERE first_name IN ('Jane', 'Joe')") == [
        (0,)
    ]
    # partly undone: the run keeps its status until nothing is left (see below)
    assert status(db_url, run) == ("completed", done.report["run"])
    message = fetch(db_url, "SELECT message FROM import_run WHERE id = :r", r=done.report["run"])
    assert message[0][0].endswith(", restored 0, left 1 conflict"), message
    assert fetch(db_url, "SELECT message FROM import_run WHERE id = :r", r=run) == [
        (f"partly undone by run {done.report['run']}: 1 row left as a conflict",)
    ]


def test_skip_conflicts_keeps_what_a_row_left_in_place_refers_to(
    tmp_path: Path, db_url: str
) -> None:
    """Jane (created with I-1) and B-1 (child of B-3, child of B-2) changed since: I-1, B-3
    and B-2 stay too."""
    run = created_run(tmp_path, db_url)
    execute(db_url, "UPDATE contact SET phone = '2' WHERE first_name = 'Jane'")
    execute(db_url, "UPDATE account SET website = 'other' WHERE account_number = 'B-1'")
    stopped = undo(db_url, run)
    assert stopped.exit_code == 1 and len(stopped.report["conflicts"]) == 5
    done = skipping(db_url, run)
    assert done.exit_code == 1
    assert sorted(conflicts(done)) == [
        ("account", "B-1", "changed since: field website"),
        ("account", "B-2", "referenced by child accounts left in place"),
        ("account", "B-3", "referenced by child accounts left in place"),
        ("account", "I-1", "referenced by contacts left in place"),
        ("contact", "I-1 / jane@x.com", "changed since: field phone"),
    ]
    assert [r[0] for r in fetch(db_url, "SELECT account_number FROM account ORDER BY 1")] == [
        "B-1",
        "B-2",
        "B-3",
        "I-1",
    ]
    assert fetch(db_url, "SELECT first_name FROM contact") == [("Jane",)]


def rename_i1(tmp_path: Path, db_url: str) -> tuple[int, str]:
    header = ["account_number", "name"]
    later = imported(
        tmp_path, db_url, "Account", header, [["I-1", "Renamed"]], "--mode", "update_only"
    )
    return later, "changed since: field name"


def child_of_i1(tmp_path: Path, db_url: str) -> tuple[int, str]:
    return accounts(tmp_path, db_url, account_row("X-1", parent="I-1")), (
        "referenced by 1 child account added since"
    )


def contact_of_i1(tmp_path: Path, db_url: str) -> tuple[int, str]:
    return contacts(tmp_path, db_url, contact("I-1", "Eve", "eve@x.com")), (
        "referenced by 1 contact added since"
    )


LATER_ON_I1 = [rename_i1, child_of_i1, contact_of_i1]


@pytest.mark.parametrize("later", LATER_ON_I1)
def test_skip_conflicts_keeps_the_contacts_the_run_created_for_an_account_it_leaves(
    tmp_path: Path, db_url: str, later: Any
) -> None:
    """I-1 (INDIVIDUAL) and Jane, its primary contact, were created by the run; I-1 is left
    in place: so is Jane, or I-1 would be left without its primary contact."""
    run = created_run(tmp_path, db_url)
    _, reason = later(tmp_path, db_url)
    done = skipping(db_url, run)
    assert done.exit_code == 1, done.stderr
    assert sorted(conflicts(done)) == [
        ("account", "I-1", reason),
        ("contact", "I-1 / jane@x.com", "its account is left in place"),
    ]
    assert fetch(db_url, "SELECT first_name FROM contact WHERE is_primary") == [("Jane",)]
    assert done.report["deleted"] == 5  # B-1, B-2, B-3, I-2 and Joe


@pytest.mark.parametrize("later", LATER_ON_I1)
def test_a_partly_undone_run_is_undone_whole_once_its_conflicts_are_resolved(
    tmp_path: Path, db_url: str, later: Any
) -> None:
    seed(tmp_path, db_url)
    before = full_dump(db_url)
    run = accounts(tmp_path, db_url, *CREATED)
    later_run, _ = later(tmp_path, db_url)
    partly = skipping(db_url, run)
    assert partly.exit_code == 1 and len(partly.report["conflicts"]) == 2, partly.report
    first = partly.report["run"]
    assert status(db_url, run) == ("completed", first)
    assert fetch(db_url, "SELECT message FROM import_run WHERE id = :r", r=run) == [
        (f"partly undone by run {first}: 2 rows left as conflicts",)
    ]
    marked = "SELECT count(*) FROM import_change WHERE run_id = :r AND undone_by_run_id = :by"
    assert fetch(db_url, marked, r=run, by=first) == [(5,)]  # what it reversed
    assert undo_counts(db_url, first) == (7, 0, 0, 0, 2, 0, 5)

    # the rows reversed already are not looked at again: only the two conflicts are left
    dump = full_dump(db_url)
    stopped = undo(db_url, run)
    assert stopped.exit_code == 1 and len(stopped.report["conflicts"]) == 2, stopped.report
    assert full_dump(db_url) == dump

    assert undo(db_url, later_run).exit_code == 0  # the conflict resolved
    rest = undo(db_url, run)
    assert rest.exit_code == 0, rest.report
    assert (rest.report["deleted"], rest.report["restored"]) == (2, 0)  # I-1 and Jane
    assert status(db_url, run) == ("undone", rest.report["run"])
    assert undo_counts(db_url, rest.report["run"]) == (2, 0, 0, 0, 0, 0, 2)
    assert full_dump(db_url) == before


def test_skip_conflicts_keeps_the_contact_that_took_the_primary_flag_from_one_it_leaves(
    tmp_path: Path, base: str
) -> None:
    """Cat took Ann's primary flag in a run that also wrote Ann's phone, changed since: Ann
    stays as she is, not primary, so Cat stays primary (B-1 is not left without one)."""
    before = full_dump(base)
    run = contacts(
        tmp_path,
        base,
        contact("B-1", "Ann", "ann@x.com", phone="555"),
        contact("B-1", "Cat", "cat@x.com", primary="yes"),
    )
    execute(base, "UPDATE contact SET phone = '777' WHERE first_name = 'Ann'")
    done = skipping(base, run)
    assert done.exit_code == 1, done.stderr
    assert sorted(conflicts(done)) == [
        ("contact", "B-1 / ann@x.com", "changed since: field phone"),
        ("contact", "B-1 / cat@x.com", "took the primary flag from a contact left in place"),
    ]
    primary = "SELECT c.first_name FROM contact c JOIN account a ON a.id = c.account_id "
    primary += "WHERE a.account_number = 'B-1' AND c.is_primary"
    assert fetch(base, primary) == [("Cat",)]
    execute(base, "UPDATE contact SET phone = '555' WHERE first_name = 'Ann'")
    rest = undo(base, run)
    assert (rest.exit_code, rest.report["deleted"], rest.report["restored"]) == (0, 1, 1)
    assert full_dump(base) == before


def test_a_restore_that_would_make_a_second_primary_is_a_conflict(
    tmp_path: Path, base: str
) -> None:
    """Cat took Ann's primary flag, then changed: Cat stays primary, so Ann cannot get it back."""
    run = contacts(tmp_path, base, contact("B-1", "Cat", "cat@x.com", primary="yes"))
    execute(base, "UPDATE contact SET phone = '7' WHERE first_name = 'Cat'")
    dump = full_dump(base)
    stopped = undo(base, run)
    assert stopped.exit_code == 1 and full_dump(base) == dump
    done = skipping(base, run)
    assert done.exit_code == 1, done.stderr
    assert sorted(conflicts(done)) == [
        ("contact", "B-1 / ann@x.com", "its account has another primary contact, left in place"),
        ("contact", "B-1 / cat@x.com", "changed since: field phone"),
    ]
    assert fetch(base, "SELECT first_name FROM contact WHERE is_primary ORDER BY 1") == [
        ("Cat",),
        ("Jane",),
    ]


def test_a_primary_contact_added_since_is_a_conflict_for_the_demoted_one(
    tmp_path: Path, base: str
) -> None:
    """Cat took Ann's flag; then Cat was demoted and Fay made primary by hand."""
    run = contacts(tmp_path, base, contact("B-1", "Cat", "cat@x.com", primary="yes"))
    execute(base, "UPDATE contact SET is_primary = false WHERE first_name = 'Cat'")
    execute(base, "UPDATE contact SET is_primary = true WHERE first_name = 'Bob'")
    done = skipping(base, run)
    assert done.exit_code == 1, done.stderr
    assert sorted(conflicts(done)) == [
        ("contact", "B-1 / ann@x.com", "its account has another primary since"),
        ("contact", "B-1 / cat@x.com", "changed since: field is_primary"),
    ]


def test_a_group_used_by_an_account_added_since_is_a_conflict(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    run = imported(tmp_path, db_url, "CustomerGroup", GROUPS_HEADER, [["Resellers", "BUSINESS"]])
    accounts(tmp_path, db_url, account_row("R-1", group="Resellers"))
    stopped = undo(db_url, run)
    assert stopped.exit_code == 1
    assert conflicts(stopped) == [
        ("customer_group", "Resellers", "referenced by 1 account added since")
    ]


def test_a_stamp_alone_moved_since_is_no_conflict(tmp_path: Path, base: str) -> None:
    before = full_dump(base)
    run = accounts(tmp_path, base, account_row("B-1", name="Renamed"))
    execute(base, "UPDATE account SET updated_at = created_at WHERE account_number = 'B-1'")
    done = undo(base, run)
    assert done.exit_code == 0, done.report
    assert full_dump(base) == before


def test_a_field_the_run_did_not_write_may_change_since(tmp_path: Path, base: str) -> None:
    run = accounts(tmp_path, base, account_row("B-1", name="Renamed"))
    execute(base, "UPDATE account SET industry = 'Retail' WHERE account_number = 'B-1'")
    done = undo(base, run)
    assert done.exit_code == 0, done.report
    assert fetch(base, "SELECT name, industry FROM account WHERE account_number = 'B-1'") == [
        ("Account B-1", "Retail")
    ]


def test_more_conflicts_than_a_screen_are_summarised(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    run = accounts(tmp_path, db_url, *[account_row(f"M-{i:02d}") for i in range(25)])
    execute(db_url, "UPDATE account SET name = 'x'")
    human = cli("undo", str(run), "--db", db_url)
    assert human.exit_code == 1
    assert "25 conflicts" in human.stdout and "and 5 more; --json lists all" in human.stdout
    assert human.stdout.count("changed since: field name") == 20
    assert len(undo(db_url, run).report["conflicts"]) == 25


def test_a_restore_that_would_point_at_an_account_deleted_since_is_a_conflict(
    tmp_path: Path, base: str
) -> None:
    accounts(tmp_path, base, account_row("B-1", parent="B-2"), account_row("B-3"))
    run = accounts(tmp_path, base, account_row("B-1", parent="B-3", website="b1.example"))
    execute(base, "DELETE FROM account WHERE account_number = 'B-2'")
    dump = full_dump(base)
    stopped = undo(base, run)
    assert stopped.exit_code == 1, stopped.stderr
    assert conflicts(stopped) == [("account", "B-1", "its parent account was deleted since")]
    assert full_dump(base) == dump
    done = skipping(base, run)
    assert done.exit_code == 1 and full_dump(base) == dump


def image(db_url: str) -> str:
    """A contact's image as the journal records it, in plain SQL for each engine."""
    columns = (
        "x.account_id, x.first_name, x.last_name, x.email, x.phone, x.job_title, "
        "x.department, x.is_primary, x.created_at, x.updated_at"
    )
    if db_url.startswith("postgresql"):
        return f"json_build_array({columns})::text"
    return f"json_array({columns})"


def test_a_restore_that_would_give_two_contacts_one_email_is_a_conflict(
    tmp_path: Path, base: str
) -> None:
    """A run that changed Bob's e-mail (recorded by hand: an import matches by e-mail), and
    a contact that took Bob's old e-mail since."""
    run = insert_run(base, model="Contact")
    execute(
        base,
        "INSERT INTO import_change (run_id, table_name, row_id, row_key, line, action, before) "
        f"SELECT :run, 'contact', x.id, 'B-1 / bob@x.com', 2, 'updated', {image(base)} "
        "FROM contact x WHERE x.email = 'bob@x.com'",
        run=run,
    )
    execute(base, "UPDATE contact SET email = 'bob2@x.com' WHERE email = 'bob@x.com'")
    execute(
        base,
        f"UPDATE import_change SET after = (SELECT {image(base)} FROM contact x "
        "WHERE x.id = import_change.row_id) WHERE run_id = :run",
        run=run,
    )
    contacts(tmp_path, base, contact("B-1", "Bobby", "BOB@x.com"))
    dump = full_dump(base)
    stopped = undo(base, run)
    assert stopped.exit_code == 1, stopped.stderr
    assert conflicts(stopped) == [
        ("contact", "B-1 / bob@x.com", "its e-mail is another contact's since")
    ]
    assert full_dump(base) == dump
    execute(base, "DELETE FROM contact WHERE first_name = 'Bobby'")
    assert undo(base, run).exit_code == 0
    assert fetch(base, "SELECT email FROM contact WHERE first_name = 'Bob'") == [("bob@x.com",)]


def test_a_contact_moved_to_another_account_since_is_a_conflict_not_a_failure(
    tmp_path: Path, db_url: str
) -> None:
    """The run made Road primary and demoted Wile; another program then moved Wile to an
    account with its own primary. Making Wile primary again there would break the
    one-primary rule: a conflict, listed, not an undo that fails (it did: exit 2)."""
    seed(tmp_path, db_url)
    accounts = [account_row("M-1"), account_row("M-2")]
    imported(tmp_path, db_url, "Account", ACCOUNTS_HEADER, accounts)
    people = [
        ["M-1", "Wile", "Coyote", "w@a.example", "", "yes"],
        ["M-1", "Road", "Runner", "r@a.example", "", "no"],
        ["M-2", "Greta", "Berg", "g@b.example", "", "yes"],
    ]
    imported(tmp_path, db_url, "Contact", CONTACTS_HEADER, people)
    run = imported(
        tmp_path,
        db_url,
        "Contact",
        CONTACTS_HEADER,
        [["M-1", "Road", "Runner", "r@a.example", "", "yes"]],
    )
    execute(
        db_url,
        "UPDATE contact SET account_id = (SELECT id FROM account WHERE account_number = 'M-2') "
        "WHERE first_name = 'Wile'",
    )
    before = full_dump(db_url)
    refused = undo(db_url, run)
    assert refused.exit_code == 1, refused.stderr
    assert {(c["key"], c["reason"]) for c in refused.report["conflicts"]} >= {
        ("M-1 / w@a.example", "its account has another primary since")
    }
    assert full_dump(db_url) == before
    partial = undo(db_url, run, "--skip-conflicts")
    assert partial.exit_code == 1, partial.stderr
    assert consistency_problems(db_url) == []
