"""`custimport merge` on both engines (SPEC §10, recorded and undone as in §8).

The database is set up by imports and read back with plain SQL; an undo of a merge must
give back a full dump (ids and timestamps included) equal to the one taken before it.
"""

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from custimport.store.journal import IMAGE_COLUMNS
from helpers import COMMAND, CONTACTS_HEADER, Run, cli, execute, fetch, run_import, write_csv
from hostile_support import assert_usage_error, consistency_problems, full_dump, seed

HEADER = [
    "account_number",
    "name",
    "customer_group",
    "parent_account",
    "website",
    "industry",
    "legal_name",
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
]


def account(
    number: str,
    name: str = "",
    group: str = "Enterprise",
    parent: str = "",
    website: str = "",
    industry: str = "",
    legal: str = "",
    first: str = "",
    last: str = "",
    email: str = "",
) -> list[str]:
    cells = [number, name or f"Account {number}", group, parent, website, industry, legal]
    return [*cells, first, last, email]


def imported(tmp_path: Path, db_url: str, model: str, header: list[str], rows: Any) -> None:
    path = write_csv(tmp_path / f"{model}-{uuid.uuid4().hex[:8]}.csv", header, rows)
    run = run_import(path, model, db_url)
    assert run.exit_code == 0, (run.stdout, run.stderr)


def accounts(tmp_path: Path, db_url: str, *rows: list[str]) -> None:
    imported(tmp_path, db_url, "Account", HEADER, rows)


def contacts(tmp_path: Path, db_url: str, *rows: list[str]) -> None:
    imported(tmp_path, db_url, "Contact", CONTACTS_HEADER, rows)


def contact(
    number: str, first: str, email: str = "", phone: str = "", primary: str = ""
) -> list[str]:
    return [number, first, "Lee", email, phone, primary]


def merge(db_url: str, model: str, keep: str, duplicate: str, *extra: str) -> Run:
    return cli("merge", "--model", model, keep, duplicate, "--db", db_url, *extra)


def undone_exactly(db_url: str, run: int, before: dict[str, Any]) -> None:
    done = cli("undo", str(run), "--db", db_url, "--json")
    assert done.exit_code == 0, (done.stdout, done.stderr)
    assert full_dump(db_url) == before


def merged(db_url: str, model: str, keep: str, duplicate: str) -> dict[str, Any]:
    """Merge (it must succeed) and check the database keeps the import's invariants."""
    run = merge(db_url, model, keep, duplicate, "--json")
    assert run.exit_code == 0, (run.stdout, run.stderr)
    assert consistency_problems(db_url) == []
    report: dict[str, Any] = run.report
    return report


def parent_of(db_url: str, number: str) -> str | None:
    rows = fetch(
        db_url,
        "SELECT p.account_number FROM account a LEFT JOIN account p "
        "ON p.id = a.parent_account_id WHERE a.account_number = :n",
        n=number,
    )
    return rows[0][0]


def contacts_of(db_url: str, number: str) -> list[tuple[Any, ...]]:
    return fetch(
        db_url,
        "SELECT c.first_name, c.email, c.phone, c.is_primary FROM contact c "
        "JOIN account a ON a.id = c.account_id WHERE a.account_number = :n ORDER BY c.id",
        n=number,
    )


def kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["kind"], c["key"]) for c in report["conflicts"]]


@pytest.fixture
def base(tmp_path: Path, db_url: str) -> str:
    """P ← D ← C1 (D's child), K with Ann (primary) and D with Ann (same e-mail), Bob
    (primary) and Cy (no e-mail)."""
    seed(tmp_path, db_url)
    accounts(
        tmp_path,
        db_url,
        account("P"),
        account("K", "Acme", industry="Retail"),
        account("D", "Acme Inc", parent="P", website="acme.com", industry="Tech", legal="Acme"),
        account("C1", parent="D"),
    )
    contacts(
        tmp_path,
        db_url,
        contact("K", "Ann", "ann@x.com", primary="yes"),
        contact("D", "Ann", "ANN@x.com", phone="123"),
        contact("D", "Bob", "bob@x.com", primary="yes"),
        contact("D", "Cy"),
    )
    return db_url


def test_an_account_merge_moves_contacts_and_children_fills_fields_and_deletes(
    base: str,
) -> None:
    report = merged(base, "Account", "K", "D")
    assert fetch(base, "SELECT count(*) FROM account WHERE account_number = 'D'") == [(0,)]
    assert fetch(
        base,
        "SELECT name, legal_name, website, industry FROM account WHERE account_number = 'K'",
    ) == [("Acme", "Acme", "acme.com", "Retail")]
    assert parent_of(base, "K") == "P" and parent_of(base, "C1") == "K"
    assert contacts_of(base, "K") == [
        ("Ann", "ann@x.com", "123", True),
        ("Bob", "bob@x.com", None, False),
        ("Cy", None, None, False),
    ]
    assert report["kept"] == "K" and report["merged"] == "D" and report["model"] == "Account"
    assert report["moved_contacts"] == 2 and report["moved_children"] == 1
    assert report["merged_contacts"] == 1
    assert sorted(report["filled"]) == ["legal_name", "parent_account", "website"]
    assert kinds(report) == [("same_contact", "D/ann@x.com"), ("primary", "D/bob@x.com")]
    dropped = {(d["field"], d["kept"], d["dropped"]) for d in report["dropped"]}
    assert dropped == {("name", "Acme", "Acme Inc"), ("industry", "Retail", "Tech")}


def test_a_merge_is_recorded_as_a_run_that_runs_lists_with_its_deleted_rows(base: str) -> None:
    number = merged(base, "Account", "K", "D")["run"]
    listed = cli("runs", "--db", base, "--json").report
    assert isinstance(listed, list)
    newest = listed[0]
    assert (newest["run"], newest["mode"], newest["model"], newest["status"]) == (
        number,
        "merge",
        "Account",
        "completed",
    )
    assert newest["rows"]["deleted"] == 2 and newest["rows"]["updated"] == 5
    shown = cli("runs", "show", str(number), "--changes", "--json", "--db", base).report
    deleted = {(c["table"], c["key"]) for c in shown["changes"] if c["action"] == "deleted"}
    assert deleted == {("account", "D"), ("contact", "D / ann@x.com")}
    assert "(merge of D into K)" in cli("runs", "--db", base).stdout


def test_the_kept_account_without_a_primary_takes_the_duplicates(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"), account("D"))
    contacts(tmp_path, db_url, contact("K", "Ann", "ann@x.com"), contact("D", "Bob", primary="yes"))
    report = merged(db_url, "Account", "K", "D")
    assert contacts_of(db_url, "K") == [
        ("Ann", "ann@x.com", None, False),
        ("Bob", None, None, True),
    ]
    assert report["conflicts"] == []


def test_a_same_named_contact_without_email_is_merged_not_moved(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"), account("D"))
    contacts(tmp_path, db_url, contact("K", "Cy"), contact("D", "cy", phone="9", primary="yes"))
    report = merged(db_url, "Account", "K", "D")
    assert contacts_of(db_url, "K") == [("Cy", None, "9", True)]
    assert kinds(report) == [("same_contact", "D/cy Lee")]


def test_a_duplicate_that_is_the_kept_accounts_parent_gives_it_its_own_parent(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("P"), account("D", parent="P"), account("K", parent="D"))
    report = merged(db_url, "Account", "K", "D")
    assert parent_of(db_url, "K") == "P"
    assert kinds(report) == [("parent", "K")] and report["moved_children"] == 0


def test_a_child_of_the_duplicate_above_the_kept_account_takes_the_duplicates_place(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(
        tmp_path,
        db_url,
        account("D"),
        account("C", parent="D"),
        account("K", parent="C"),
        account("E", parent="D"),
    )
    before = full_dump(db_url)
    report = merged(db_url, "Account", "K", "D")
    assert (parent_of(db_url, "C"), parent_of(db_url, "K"), parent_of(db_url, "E")) == (
        None,
        "C",
        "K",
    )
    assert kinds(report) == [("parent", "C")]
    undone_exactly(db_url, report["run"], before)


def test_an_empty_parent_is_not_filled_with_an_account_under_the_kept_one(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"), account("X", parent="K"), account("D", parent="X"))
    report = merged(db_url, "Account", "K", "D")
    assert parent_of(db_url, "K") is None and parent_of(db_url, "X") == "K"
    assert kinds(report) == [("parent", "K")] and "parent_account" not in report["filled"]


@pytest.mark.parametrize(
    ("kept_group", "duplicate_group"),
    [("Enterprise", "Retail"), ("Retail", "Retail"), ("Retail", "Enterprise")],
)
def test_the_kept_accounts_group_wins_and_it_keeps_one_primary_contact(
    tmp_path: Path, db_url: str, kept_group: str, duplicate_group: str
) -> None:
    seed(tmp_path, db_url)
    individual = {"first": "Ida", "last": "Lee"}
    accounts(
        tmp_path,
        db_url,
        account("K", group=kept_group, **(individual if kept_group == "Retail" else {})),
        account("D", group=duplicate_group, first="Dan", last="Lee", email="dan@x.com"),
    )
    before = full_dump(db_url)
    report = merged(db_url, "Account", "K", "D")  # checks one primary per INDIVIDUAL account
    groups = fetch(
        db_url,
        "SELECT g.name FROM account a JOIN customer_group g ON g.id = a.customer_group_id",
    )
    assert groups == [(kept_group,)]
    assert (("group", "K") in kinds(report)) == (kept_group != duplicate_group)
    primaries = [c[0] for c in contacts_of(db_url, "K") if c[3]]
    assert primaries == (["Ida"] if kept_group == "Retail" else ["Dan"])
    undone_exactly(db_url, report["run"], before)


def test_a_contact_merge_fills_the_kept_contact_and_gives_it_the_primary_flag(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"))
    contacts(tmp_path, db_url, contact("K", "Ann"), contact("K", "Ann B", "ann@x.com", "5", "yes"))
    report = merged(db_url, "Contact", "K/Ann Lee", "K/ANN@x.com")
    assert contacts_of(db_url, "K") == [("Ann", "ann@x.com", "5", True)]
    assert report["kept"] == "K/Ann Lee" and report["merged"] == "K/ann@x.com"
    assert sorted(report["filled"]) == ["email", "phone"]
    assert kinds(report) == [("primary", "K/Ann Lee")]


def test_undo_of_an_account_merge_gives_back_every_row_exactly(base: str) -> None:
    before = full_dump(base)
    number = merged(base, "Account", "K", "D")["run"]
    assert full_dump(base) != before
    done = cli("undo", str(number), "--db", base, "--json")
    assert done.exit_code == 0, (done.stdout, done.stderr)
    assert done.report["conflicts"] == [] and done.report["restored"] == 7
    assert full_dump(base) == before
    assert fetch(base, "SELECT status FROM import_run WHERE id = :r", r=number) == [("undone",)]


def test_undo_of_a_contact_merge_gives_back_every_row_exactly(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"))
    contacts(tmp_path, db_url, contact("K", "Ann"), contact("K", "Bo", "bo@x.com", "5", "yes"))
    before = full_dump(db_url)
    number = merged(db_url, "Contact", "K/Ann Lee", "K/bo@x.com")["run"]
    assert cli("undo", str(number), "--db", db_url).exit_code == 0
    assert full_dump(db_url) == before


def test_undo_is_a_conflict_when_the_merged_accounts_number_was_taken_since(
    tmp_path: Path, base: str
) -> None:
    number = merged(base, "Account", "K", "D")["run"]
    accounts(tmp_path, base, account("D"))
    after = full_dump(base)
    for extra in ((), ("--skip-conflicts",)):  # a merge is undone whole or not at all
        done = cli("undo", str(number), "--db", base, "--json", *extra)
        assert done.exit_code == 1, (done.stdout, done.stderr)
        assert [(c["table"], c["key"], c["reason"]) for c in done.report["conflicts"]] == [
            ("account", "D", "its account_number is another account's since")
        ]
        assert full_dump(base) == after


def test_undo_is_a_conflict_when_a_field_the_merge_filled_changed_since(base: str) -> None:
    number = merged(base, "Account", "K", "D")["run"]
    execute(base, "UPDATE account SET website = 'other.example' WHERE account_number = 'K'")
    done = cli("undo", str(number), "--db", base, "--skip-conflicts")
    assert done.exit_code == 1 and "account K: changed since: field website" in done.stdout
    assert "a merge is undone whole or not at all" in done.stdout


def test_undo_is_a_conflict_when_a_deleted_contacts_email_was_taken_since(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"))
    contacts(
        tmp_path,
        db_url,
        contact("K", "Ann", "ann@x.com"),
        contact("K", "Bo", "bo@x.com"),
        contact("K", "Cy"),  # the highest id: SQLite gives the next contact a new one
    )
    number = merged(db_url, "Contact", "K/ann@x.com", "K/bo@x.com")["run"]
    contacts(tmp_path, db_url, contact("K", "Bob", "BO@x.com"))
    done = cli("undo", str(number), "--db", db_url, "--json")
    assert done.exit_code == 1
    assert [(c["key"], c["reason"]) for c in done.report["conflicts"]] == [
        ("K / bo@x.com", "its e-mail is another contact's since")
    ]


def test_undo_never_overwrites_a_row_that_took_a_merged_rows_id(
    tmp_path: Path, db_url: str
) -> None:
    """SQLite gives a new row the id of the highest row deleted; PostgreSQL never does."""
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K"), account("D"))
    number = merged(db_url, "Account", "K", "D")["run"]
    accounts(tmp_path, db_url, account("E"))
    done = cli("undo", str(number), "--db", db_url, "--json")
    if db_url.startswith("sqlite"):
        assert done.exit_code == 1
        assert [(c["key"], c["reason"]) for c in done.report["conflicts"]] == [
            ("D", "its id was taken by another row since")
        ]
    else:
        assert done.exit_code == 0, done.stdout
    numbers = fetch(db_url, "SELECT account_number FROM account ORDER BY account_number")
    assert numbers == (
        [("E",), ("K",)] if db_url.startswith("sqlite") else [("D",), ("E",), ("K",)]
    )


def test_a_dry_run_says_what_would_happen_and_writes_nothing(base: str) -> None:
    before = full_dump(base)
    runs = fetch(base, "SELECT count(*) FROM import_run")
    run = merge(base, "Account", "K", "D", "--dry-run")
    assert run.exit_code == 0 and "Would merge account D into K" in run.stdout
    assert "Dry run: nothing was changed." in run.stdout
    assert full_dump(base) == before and fetch(base, "SELECT count(*) FROM import_run") == runs


REFUSED = [
    ("Account", "K", "NOPE", "no account 'NOPE'"),
    ("Account", "K", " K ", "KEEP and DUPLICATE are the same record (K)"),
    ("Contact", "K/ann@x.com", "K/nobody@x.com", "no contact 'K/nobody@x.com'"),
    ("Contact", "K/ann@x.com", "K/Ann Lee", "KEEP and DUPLICATE name the same contact"),
    ("Contact", "K/ann@x.com", "D/bob@x.com", "are contacts of different accounts"),
    ("Contact", "K/ann@x.com", "nobody", "ACCOUNT_NUMBER/EMAIL or ACCOUNT_NUMBER/First Last"),
    ("CustomerGroup", "Retail", "Enterprise", "merge takes Account or Contact"),
    ("Thing", "a", "b", "unknown model 'Thing'"),
]


def test_a_merge_that_cannot_be_done_is_one_line_and_exit_2(base: str) -> None:
    before = full_dump(base)
    for model, keep, duplicate, fragment in REFUSED:
        assert_usage_error(merge(base, model, keep, duplicate), fragment)
    assert full_dump(base) == before
    # a second Cy Lee without e-mail (no import makes one): the key names both
    execute(
        base,
        "INSERT INTO contact (account_id, first_name, last_name, is_primary, created_at, "
        "updated_at) SELECT account_id, first_name, last_name, false, created_at, updated_at "
        "FROM contact WHERE first_name = 'Cy'",
    )
    before = full_dump(base)
    assert_usage_error(merge(base, "Contact", "D/bob@x.com", "D/Cy Lee"), "names 2 contacts")
    assert full_dump(base) == before


def test_a_merge_in_a_database_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    assert_usage_error(merge(url, "Account", "A", "B"), "nothing to merge")
    assert not (tmp_path / "missing.db").exists()


def test_the_installed_command_merges_and_prints_json(tmp_path: Path, sqlite_url: str) -> None:
    seed(tmp_path, sqlite_url)
    accounts(tmp_path, sqlite_url, account("K"), account("D", website="d.example"))
    done = subprocess.run(
        [COMMAND, "merge", "--model", "Account", "K", "D", "--db", sqlite_url, "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["filled"] == ["website"] and isinstance(report["run"], int)


def test_a_field_a_merge_fills_is_found_by_the_next_match_on_it(
    tmp_path: Path, db_url: str
) -> None:
    """The kept account had no website when a --match-on website import stored its key;
    the merge fills the website from the duplicate, so the next import matching on it
    finds the kept account instead of creating a third one."""
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("K-1", "Kestrel"), account("D-1", "Kestrel GmbH"))
    accounts(tmp_path, db_url, account("", "Other", website="other.example"))
    keyed = write_csv(
        tmp_path / "keyed.csv", HEADER, [account("", "Other", website="other.example")]
    )
    assert run_import(keyed, "Account", db_url, "--match-on", "website").rows["unchanged"] == 1
    execute(
        db_url,
        "UPDATE account SET website = 'https://www.kestrel.example/' WHERE account_number = 'D-1'",
    )
    merged(db_url, "Account", "K-1", "D-1")
    again = write_csv(
        tmp_path / "again.csv", HEADER, [account("", "Kestrel", website="kestrel.example")]
    )
    run = run_import(again, "Account", db_url, "--match-on", "website")
    assert run.rows["updated"] + run.rows["unchanged"] == 1 and run.rows["created"] == 0, run.stdout
    assert fetch(db_url, "SELECT count(*) FROM account WHERE name = 'Kestrel'") == [(1,)]


def conflicts_of(done: Run) -> list[tuple[str, str, str]]:
    return [(c["table"], c["key"], c["reason"]) for c in done.report["conflicts"]]


def refused_whole(db_url: str, run: int) -> list[tuple[str, str, str]]:
    """Undo (plain, --dry-run, --skip-conflicts) lists conflicts, exits 1, changes nothing."""
    after = full_dump(db_url)
    listed = []
    for extra in ((), ("--dry-run",), ("--skip-conflicts",)):
        done = cli("undo", str(run), "--db", db_url, "--json", *extra)
        assert done.exit_code == 1, (extra, done.exit_code, done.stdout, done.stderr)
        assert full_dump(db_url) == after
        listed.append(conflicts_of(done))
    assert listed[0] == listed[1] == listed[2]
    return listed[0]


def mask_flags(db_url: str, run: int) -> None:
    """The run's contact records as a merge recorded them before it held the primary flag of
    a contact it moved: NULL on both sides where the flag did not change."""
    i = IMAGE_COLUMNS["contact"].index("is_primary")
    if db_url.startswith("sqlite"):
        alike = f"json_extract(before, '$[{i}]') IS json_extract(after, '$[{i}]')"
        sets = ", ".join(f"{s} = json_set({s}, '$[{i}]', json('null'))" for s in SIDES)
    else:
        alike = f"(before::jsonb -> {i}) = (after::jsonb -> {i})"
        sets = ", ".join(f"{s} = jsonb_set({s}::jsonb, '{{{i}}}', 'null')::text" for s in SIDES)
    execute(
        db_url,
        f"UPDATE import_change SET {sets} WHERE run_id = :r AND table_name = 'contact' "
        f"AND action = 'updated' AND {alike}",
        r=run,
    )


SIDES = ("before", "after")


@pytest.fixture
def moved_primary(tmp_path: Path, db_url: str) -> int:
    """Issue 16: K5 (BUSINESS, no primary) keeps INDIVIDUAL D5, whose primary Kim moves to K5
    and stays primary; then an import makes Sam K5's primary, demoting Kim."""
    seed(tmp_path, db_url)
    accounts(
        tmp_path,
        db_url,
        account("K5", "Kim Lee Consulting"),
        account("D5", "Kim Lee", "Retail", first="Kim", last="Lee", email="kim@lee.example"),
    )
    run = int(merged(db_url, "Account", "K5", "D5")["run"])
    assert contacts_of(db_url, "K5") == [("Kim", "kim@lee.example", None, True)]
    contacts(tmp_path, db_url, ["K5", "Sam", "Stark", "sam@k.example", "", "true"])
    return run


def test_undo_of_a_merge_is_a_conflict_when_a_moved_contacts_primary_flag_changed_since(
    db_url: str, moved_primary: int
) -> None:
    """Undone, Kim would go back to INDIVIDUAL D5 demoted: D5 without a primary contact."""
    assert refused_whole(db_url, moved_primary) == [
        ("contact", "D5 / kim@lee.example", "its primary flag changed since")
    ]
    assert consistency_problems(db_url) == []


def test_undo_of_a_merge_never_leaves_an_individual_account_without_a_primary(
    db_url: str, moved_primary: int
) -> None:
    """The safety net, for a merge recorded before its records held the moved flags."""
    mask_flags(db_url, moved_primary)
    assert refused_whole(db_url, moved_primary) == [
        ("account", "D5", "an INDIVIDUAL account: it would be left without a primary contact")
    ]
    assert consistency_problems(db_url) == []


@pytest.fixture
def second_primary(tmp_path: Path, db_url: str) -> int:
    """Issue 16: KT keeps DT; Quin moves, Rae moves demoted (Pat stays KT's primary); then an
    import makes Quin KT's primary. Undone, Quin and Rae would both be DT's primary."""
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("KT", "Tau"), account("DT", "Tau AG"))
    contacts(
        tmp_path,
        db_url,
        ["KT", "Pat", "Pike", "pat@tau.example", "", "true"],
        ["DT", "Quin", "Quay", "quin@tau.example", "", "false"],
        ["DT", "Rae", "Ross", "rae@tau.example", "", "true"],
    )
    run = int(merged(db_url, "Account", "KT", "DT")["run"])
    contacts(tmp_path, db_url, ["KT", "Quin", "Quay", "quin@tau.example", "", "true"])
    return run


def test_undo_of_a_merge_is_a_conflict_when_a_moved_contact_became_primary_since(
    db_url: str, second_primary: int
) -> None:
    assert refused_whole(db_url, second_primary) == [
        ("contact", "DT / quin@tau.example", "its primary flag changed since")
    ]


def test_undo_of_a_merge_that_would_give_an_account_two_primaries_is_a_conflict(
    db_url: str, second_primary: int
) -> None:
    """Found before anything is written (not the database's one-primary index, exit 2),
    also for a merge recorded before its records held the moved flags."""
    mask_flags(db_url, second_primary)
    reason = "it would be a second primary contact of DT"
    assert refused_whole(db_url, second_primary) == [
        ("contact", "DT / quin@tau.example", reason),
        ("contact", "DT / rae@tau.example", reason),
    ]


def test_a_contact_key_names_the_account_with_the_longest_number_that_has_the_contact(
    tmp_path: Path, db_url: str
) -> None:
    """Issue 16: accounts A and A/B; `A/B/x@y.example` is A/B's x@ (as `duplicates` prints
    it), not A's b/x@ too, and A's is `A/b/x@y.example`."""
    seed(tmp_path, db_url)
    accounts(tmp_path, db_url, account("A"), account("A/B"))
    contacts(
        tmp_path,
        db_url,
        contact("A", "Bea", "b/x@y.example"),
        contact("A", "Bo", "bo@y.example", phone="1"),
        contact("A/B", "Xa", "x@y.example"),
        contact("A/B", "Xo", "xo@y.example", phone="2"),
    )
    report = merged(db_url, "Contact", "A/B/x@y.example", "A/B/xo@y.example")
    assert (report["kept"], report["merged"]) == ("A/B/x@y.example", "A/B/xo@y.example")
    assert contacts_of(db_url, "A/B") == [("Xa", "x@y.example", "2", False)]
    report = merged(db_url, "Contact", "A/b/x@y.example", "A/bo@y.example")
    assert contacts_of(db_url, "A") == [("Bea", "b/x@y.example", "1", False)]
