"""--match-on and --account-ref (SPEC §10): rows find their record, and name accounts, by
normalised name, website host or phone; both engines, stored keys read back with SQL."""

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custimport.rows.match_keys import name_key
from helpers import cli, execute, fetch, run_import, seed_groups, write_csv
from hostile_support import full_dump

HEADER = ["account_number", "name", "customer_group", "website", "industry"]


def seed_accounts(tmp_path: Path, db_url: str, rows: list[list[str]]) -> None:
    """Groups, then accounts imported by account_number (their keys stay NULL)."""
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "seed.csv", HEADER, rows)
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0 and run.rows["created"] == len(rows), run.stderr


def errors_of(run_stdout: str) -> list[str]:
    log = json.loads(run_stdout)["error_log"]
    return [line.strip() for line in Path(log).read_text().splitlines() if "error:" in line]


def test_match_on_name_updates_creates_and_fails_what_it_cannot_tell(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(
        tmp_path,
        db_url,
        [
            ["A-1", "Acme Corp", "Enterprise", "acme.com", ""],
            ["A-7", "ACME corp.", "Enterprise", "acme7.com", ""],
            ["B-1", "Beta GmbH", "Enterprise", "beta.de", ""],
            ["C-1", "Gamma", "Enterprise", "", ""],
        ],
    )
    path = write_csv(
        tmp_path / "match.csv",
        HEADER,
        [
            ["", "  beta  gmbh ", "Enterprise", "beta.de", "Cars"],  # one match: updated
            ["", "Acme, Corp", "Enterprise", "", "Tools"],  # two: ambiguous
            ["", "Delta", "Enterprise", "", "New"],  # none: created, generated number
            ["X-9", "Gamma", "Enterprise", "", "Mine"],  # matches C-1 but names X-9
            ["C-1", "Epsilon", "Enterprise", "", ""],  # matches nothing, names C-1
            ["", "...", "Enterprise", "", ""],  # no name key at all
        ],
    )
    run = run_import(path, "Account", db_url, "--match-on", "name")
    assert run.rows == {
        "read": 6,
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 4,
    }, run.stdout
    assert run.report["match_on"] == "name" and run.report["account_ref"] == "account_number"
    assert not run.report["warnings"]  # re-importing matches by name: no "created again"
    assert errors_of(run.stdout) == [
        "error: name: ambiguous: 2 accounts match name 'acme corp' (A-1, A-7)",
        "error: account_number: the account whose name matches is 'C-1', not 'X-9'",
        "error: account_number: account 'C-1' exists, but its name does not match "
        "(its name is 'Gamma')",
        "error: name: --match-on name needs a name with a letter or digit to match on",
    ]
    assert fetch(db_url, "SELECT name, industry FROM account WHERE account_number = 'B-1'") == [
        ("beta  gmbh", "Cars")
    ]
    [(number,)] = fetch(db_url, "SELECT account_number FROM account WHERE name = 'Delta'")
    assert number.startswith("AUTO-")
    # the keys of the stored rows were filled before the look-up (one pass), and this
    # import computed those of what it wrote
    assert fetch(db_url, "SELECT count(*) FROM account WHERE name_match IS NULL") == [(0,)]
    assert fetch(db_url, "SELECT name_match FROM account WHERE name = 'Delta'") == [("delta",)]
    options = fetch(db_url, "SELECT options FROM import_run ORDER BY id DESC LIMIT 1")[0][0]
    assert json.loads(options)["match_on"] == "name"


def test_a_match_key_twice_in_a_file_fails_the_later_row_across_batches(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(
        tmp_path / "dups.csv",
        HEADER,
        [
            ["", "One", "Enterprise", "https://one.example/", ""],
            ["", "Two", "Enterprise", "two.example", ""],
            ["", "Three", "Enterprise", "three.example", ""],
            ["", "One again", "Enterprise", "http://WWW.One.Example:8080/x", ""],
        ],
    )
    run = run_import(path, "Account", db_url, "--match-on", "website", "--batch-size", "2")
    assert run.rows["created"] == 3 and run.rows["failed"] == 1, run.stdout
    assert errors_of(run.stdout) == ["error: website: duplicate of line 2"]


def test_website_forms_match_by_host_and_name_website_needs_both(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(
        tmp_path,
        db_url,
        [
            ["A-1", "Acme", "Enterprise", "acme.com", ""],
            ["A-2", "Acme", "Enterprise", "other.com", ""],
        ],
    )
    forms = write_csv(
        tmp_path / "forms.csv",
        ["name", "website", "industry"],
        [["Acme", "HTTPS://www.ACME.com:8443/about?x=1#top", "Tools"]],
    )
    run = run_import(forms, "Account", db_url, "--match-on", "website", "--mode", "update_only")
    assert run.rows["updated"] == 1, run.stdout
    both = write_csv(
        tmp_path / "both.csv",
        ["name", "website", "industry"],
        [["ACME", "other.com", "Both"], ["Acme", "nowhere.com", "None"]],
    )
    run = run_import(both, "Account", db_url, "--match-on", "website,name", "--mode", "update_only")
    assert run.rows == {**run.rows, "updated": 1, "skipped": 1}, run.stdout
    assert run.report["match_on"] == "name,website"
    assert fetch(db_url, "SELECT account_number, industry FROM account ORDER BY id") == [
        ("A-1", "Tools"),
        ("A-2", "Both"),
    ]


def test_internationalised_websites_are_stored_as_typed_and_match_their_ascii_form(
    db_url: str, tmp_path: Path
) -> None:
    """A CRM export's bücher.de is a website (it was refused as "not a valid website"),
    kept as typed, found by its punycode form, and exported so it reads back unchanged."""
    seed_accounts(
        tmp_path,
        db_url,
        [
            ["I-1", "Bücher GmbH", "Enterprise", "https://bücher.de/kontakt", ""],
            ["I-2", "Пример", "Enterprise", "пример.рф", ""],
            ["I-3", "例え", "Enterprise", "例え.jp", ""],
        ],
    )
    assert fetch(db_url, "SELECT website FROM account ORDER BY id") == [
        ("https://bücher.de/kontakt",),
        ("пример.рф",),
        ("例え.jp",),
    ]
    by_ascii = write_csv(
        tmp_path / "ascii.csv",
        ["name", "website", "industry"],
        [
            ["Bücher GmbH", "http://XN--BCHER-KVA.DE/", "Books"],
            ["Пример", "xn--e1afmkfd.xn--p1ai", "Ru"],
        ],
    )
    run = run_import(by_ascii, "Account", db_url, "--match-on", "website", "--mode", "update_only")
    assert run.rows == {**run.rows, "updated": 2, "failed": 0}, run.stdout
    exported = tmp_path / "accounts.csv"
    assert cli("export", "--model", "Account", "-o", exported, "--db", db_url).exit_code == 0
    again = run_import(exported, "Account", db_url)
    assert again.rows == {**again.rows, "read": 3, "unchanged": 3}, again.stdout


def test_references_by_name_reach_accounts_stored_and_earlier_in_the_file(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(
        tmp_path,
        db_url,
        [
            ["S-1", "Stored Parent", "Enterprise", "", ""],
            ["T-1", "Twin", "Enterprise", "", ""],
            ["T-2", "twin", "Enterprise", "", ""],
        ],
    )
    path = write_csv(
        tmp_path / "tree.csv",
        ["account_number", "name", "customer_group", "parent_account"],
        [
            ["R-1", "Root Co", "Enterprise", "stored parent"],  # stored
            ["K-1", "Kid One", "Enterprise", "ROOT CO"],  # same batch, earlier row
            ["K-2", "Kid Two", "Enterprise", "Root  Co."],  # a later batch
            ["K-3", "Kid Three", "Enterprise", "Nobody"],
            ["K-4", "Kid Four", "Enterprise", "Twin"],
        ],
    )
    run = run_import(path, "Account", db_url, "--account-ref", "name", "--batch-size", "2")
    assert run.rows["created"] == 3 and run.rows["failed"] == 2, run.stdout
    assert run.report["account_ref"] == "name"
    assert errors_of(run.stdout) == [
        "error: parent_account: parent account named 'Nobody' not found",
        "error: parent_account: parent account named 'Twin' is ambiguous: "
        "2 accounts match name 'Twin' (T-1, T-2)",
    ]
    parents = fetch(
        db_url,
        "SELECT a.account_number, p.account_number FROM account a "
        "JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
    )
    assert parents == [("K-1", "R-1"), ("K-2", "R-1"), ("R-1", "S-1")]
    contacts = write_csv(
        tmp_path / "contacts.csv",
        ["account", "first_name", "last_name", "email"],
        [["kid one", "Ann", "Lee", "ann@x.org"], ["twin", "Bo", "Ray", "bo@x.org"]],
    )
    run = run_import(contacts, "Contact", db_url, "--account-ref", "name")
    assert run.rows["created"] == 1 and run.rows["failed"] == 1, run.stdout
    assert fetch(
        db_url, "SELECT a.account_number FROM contact c JOIN account a ON a.id = c.account_id"
    ) == [("K-1",)]


def test_contacts_match_on_name_and_on_phone_within_their_account(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(tmp_path, db_url, [["A-1", "Acme", "Enterprise", "", ""]])
    stored = write_csv(
        tmp_path / "stored.csv",
        ["account", "first_name", "last_name", "email", "phone"],
        [
            ["A-1", "Ann", "Lee", "ann@x.org", "020 7946 0018"],
            ["A-1", "Bo", "Ray", "bo@x.org", "+1 415 555 0100"],
            ["A-1", "bo", "RAY", "bo2@x.org", ""],
        ],
    )
    assert run_import(stored, "Contact", db_url).rows["created"] == 3
    by_name = write_csv(
        tmp_path / "by_name.csv",
        ["account", "first_name", "last_name", "job_title"],
        [["A-1", "ANN", "lee", "Boss"], ["A-1", "Bo", "Ray", "Dev"], ["A-1", "Cy", "Di", "New"]],
    )
    run = run_import(by_name, "Contact", db_url, "--match-on", "name")
    assert run.rows == {**run.rows, "created": 1, "updated": 1, "failed": 1}, run.stdout
    assert errors_of(run.stdout) == [
        "error: first_name: ambiguous: 2 contacts match name 'bo ray' (A-1/bo2@x.org, A-1/bo@x.org)"
    ]
    by_phone = write_csv(
        tmp_path / "by_phone.csv",
        ["account", "first_name", "last_name", "phone", "department"],
        [["A-1", "Ann", "Lee", "+44 20 7946 0018", "Ops"]],  # stored in national form
    )
    run = run_import(by_phone, "Contact", db_url, "--match-on", "phone", "--phone-region", "GB")
    assert run.rows["updated"] == 1, run.stdout
    assert fetch(db_url, "SELECT phone, department FROM contact WHERE email = 'ann@x.org'") == [
        ("+442079460018", "Ops")
    ]


def test_undo_of_a_run_that_updated_through_a_match_restores_the_key_columns(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(
        tmp_path,
        db_url,
        [["A-1", "Acme", "Enterprise", "acme.com", ""], ["B-1", "Beta", "Enterprise", "", ""]],
    )
    nothing = write_csv(tmp_path / "none.csv", ["name", "website"], [["Acme", "acme.com"]])
    both = ("--match-on", "name,website", "--mode", "update_only")  # fills both keys
    filled = run_import(nothing, "Account", db_url, *both)
    assert filled.rows["unchanged"] == 1, filled.stdout + filled.stderr
    before = full_dump(db_url)  # the keys filled, as the import found them
    assert fetch(db_url, "SELECT name_match, website_match FROM account ORDER BY id") == [
        ("acme", "acme.com"),
        ("beta", ""),
    ]
    path = write_csv(
        tmp_path / "renames.csv",
        ["name", "website", "customer_group"],
        [["ACME", "www.acme.org", "Enterprise"], ["Gamma", "gamma.io", "Enterprise"]],
    )
    run = run_import(path, "Account", db_url, "--match-on", "name")
    assert run.rows == {**run.rows, "created": 1, "updated": 1}, run.stdout
    assert fetch(db_url, "SELECT website_match FROM account WHERE account_number = 'A-1'") == [
        ("acme.org",)
    ]
    undone = cli("undo", str(run.report["run"]), "--db", db_url, "--json")
    assert undone.exit_code == 0, undone.stdout + undone.stderr
    assert full_dump(db_url) == before


def test_resume_treats_another_match_as_another_import(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "a.csv", HEADER, [["A-1", "Acme", "Enterprise", "", ""]])
    assert run_import(path, "Account", db_url).exit_code == 0
    execute(db_url, "UPDATE import_run SET status = 'interrupted', last_line = 1")
    other = run_import(path, "Account", db_url, "--match-on", "name", "--resume")
    assert other.exit_code == 2 and "nothing to resume" in other.stderr
    same = run_import(path, "Account", db_url, "--resume")
    assert same.exit_code == 0, same.stderr


def test_unknown_choices_are_usage_errors_before_anything_is_written(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "g.csv", ["name", "group_type"], [["X", "BUSINESS"]])
    for extra in (["--match-on", "website"], ["--account-ref", "name"]):
        run = run_import(path, "CustomerGroup", sqlite_url, *extra)
        assert run.exit_code == 2 and run.stderr.startswith("Error: "), run.stderr
    run = run_import(path, "Account", sqlite_url, "--match-on", "phone")
    assert run.exit_code == 2
    assert "use account_number, name, website, name,website" in run.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


NAMES = st.sampled_from(["Acme", "ACME", "acme corp", "Acme, Corp.", "Beta", "Béta", "Gamma"])


@pytest.fixture(scope="module")
def groups_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the groups, copied for each example (migrating a new
    database each time was most of an example's time)."""
    folder = tmp_path_factory.mktemp("groups")
    seed_groups(folder, f"sqlite:///{folder / 'groups.db'}")
    return folder / "groups.db"


@settings(max_examples=12, deadline=None)
@given(stored=st.lists(NAMES, min_size=1, max_size=4), rows=st.lists(NAMES, max_size=4))
def test_matching_never_updates_a_record_whose_normalised_key_differs(
    tmp_path_factory: pytest.TempPathFactory, groups_db: Path, stored: list[str], rows: list[str]
) -> None:
    tmp_path = tmp_path_factory.mktemp("match")
    shutil.copy(groups_db, tmp_path / "db.sqlite")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for i, name in enumerate(stored):  # as another program would: keys NULL
        execute(
            url,
            "INSERT INTO account (account_number, name, customer_group_id, created_at, "
            "updated_at) VALUES (:n, :name, 2, '2026-01-01', '2026-01-01')",
            n=f"S-{i}",
            name=name,
        )
    path = write_csv(
        tmp_path / "rows.csv",
        ["name", "customer_group", "industry"],
        [[name, "Enterprise", f"L{line}"] for line, name in enumerate(rows, start=2)],
    )
    run = run_import(path, "Account", url, "--match-on", "name")
    assert run.exit_code in (0, 1), run.stderr
    updated = fetch(url, "SELECT account_number, industry FROM account WHERE industry IS NOT NULL")
    for number, industry in updated:
        if number.startswith("S-"):
            was, row = stored[int(number[2:])], rows[int(industry[1:]) - 2]
            assert name_key(was) == name_key(row), (was, row)
            assert [name_key(s) for s in stored].count(name_key(was)) == 1  # never ambiguous


def test_a_rename_by_account_number_makes_the_key_stale_and_the_next_match_finds_it(
    db_url: str, tmp_path: Path
) -> None:
    seed_accounts(tmp_path, db_url, [["A-1", "Acme", "Enterprise", "", ""]])
    probe = write_csv(tmp_path / "probe.csv", ["name", "industry"], [["Acme", "One"]])
    run = run_import(probe, "Account", db_url, "--match-on", "name", "--mode", "update_only")
    assert run.rows["updated"] == 1, run.stdout
    assert fetch(db_url, "SELECT name_match FROM account") == [("acme",)]
    rename = write_csv(tmp_path / "rename.csv", ["account_number", "name"], [["A-1", "Zeta"]])
    assert run_import(rename, "Account", db_url, "--mode", "update_only").rows["updated"] == 1
    assert fetch(db_url, "SELECT name_match FROM account") == [(None,)]  # stale: not computed
    again = write_csv(tmp_path / "again.csv", ["name", "industry"], [["ZETA", "Two"]])
    run = run_import(again, "Account", db_url, "--match-on", "name", "--mode", "update_only")
    assert run.rows["updated"] == 1, run.stdout
    assert fetch(db_url, "SELECT name, name_match, industry FROM account") == [
        ("ZETA", "zeta", "Two")
    ]


def test_a_primary_contact_changed_by_its_account_row_is_found_by_its_new_phone(
    db_url: str, tmp_path: Path
) -> None:
    """An Account row changes its INDIVIDUAL account's primary contact (name, phone):
    the contact's stored keys, filled by an earlier matching import, go stale (NULL),
    and the next Contact import matching on phone finds it by the new number."""
    seed_groups(tmp_path, db_url)
    header = [
        "account_number",
        "name",
        "customer_group",
        "primary_contact_first_name",
        "primary_contact_last_name",
        "primary_contact_phone",
    ]
    first = write_csv(
        tmp_path / "p1.csv", header, [["P-1", "Pat", "Retail", "Pat", "Lee", "+1 415 555 0100"]]
    )
    assert run_import(first, "Account", db_url).rows["created"] == 1
    contacts = ["account", "first_name", "last_name", "phone", "job_title"]
    probe = write_csv(
        tmp_path / "probe.csv", contacts, [["P-1", "Pat", "Lee", "+1 415 555 0100", "A"]]
    )
    assert run_import(probe, "Contact", db_url, "--match-on", "phone").rows["updated"] == 1
    assert fetch(db_url, "SELECT phone_match FROM contact") == [("14155550100",)]
    moved = write_csv(
        tmp_path / "p2.csv", header, [["P-1", "Pat", "Retail", "Pam", "Lee", "+1 415 555 0199"]]
    )
    assert run_import(moved, "Account", db_url).rows["updated"] == 1
    assert fetch(db_url, "SELECT phone_match FROM contact") == [(None,)]
    again = write_csv(
        tmp_path / "again.csv", contacts, [["P-1", "Pam", "Lee", "+1 415 555 0199", "B"]]
    )
    run = run_import(again, "Contact", db_url, "--match-on", "phone")
    assert run.rows["updated"] == 1 and run.rows["created"] == 0, run.stdout
    assert fetch(db_url, "SELECT count(*), max(job_title) FROM contact") == [(1, "B")]


def test_a_look_up_by_key_probes_the_index_of_computed_keys(db_url: str, tmp_path: Path) -> None:
    """The key indexes hold computed keys only (a create by account_number adds nothing
    to them); a look-up by key still probes them, on both engines."""
    seed_groups(tmp_path, db_url)
    rows = [[f"K-{n}", f"Name {n}", "Enterprise", f"site{n}.example", ""] for n in range(3000)]
    assert (
        run_import(write_csv(tmp_path / "k.csv", HEADER, rows), "Account", db_url).rows["created"]
        == 3000
    )
    assert fetch(db_url, "SELECT count(*) FROM account WHERE name_match IS NULL") == [(3000,)]
    probe = write_csv(tmp_path / "probe.csv", HEADER, [["", "Name 7", "Enterprise", "", "X"]])
    assert run_import(probe, "Account", db_url, "--match-on", "name").rows["updated"] == 1
    assert fetch(db_url, "SELECT count(*) FROM account WHERE name_match IS NULL") == [(0,)]
    # the website keys, which no look-up of this import reads, are left to one that does
    # (but the row it updated, whose website its empty cell cleared, has its keys)
    assert fetch(db_url, "SELECT count(*) FROM account WHERE website_match IS NULL") == [(2999,)]
    execute(db_url, "ANALYZE")
    if db_url.startswith("sqlite"):
        plan = fetch(
            db_url,
            "EXPLAIN QUERY PLAN SELECT id FROM account WHERE name_match IN ('name 7', 'name 8')",
        )
    else:
        plan = fetch(
            db_url,
            "EXPLAIN SELECT id FROM account WHERE name_match = ANY(ARRAY['name 7', 'name 8'])",
        )
    assert "ix_account_name_match" in str(plan), plan


@pytest.mark.parametrize("batch_size", ["1", "1000"])
def test_a_reference_names_an_account_renamed_earlier_in_the_file_by_its_new_name_only(
    db_url: str, tmp_path: Path, batch_size: str
) -> None:
    """Row 2 renames the stored account R-1 (matched on its website); a later row naming
    the new name gets R-1 as parent, one naming the old name fails: in the same batch as
    in another (it had named the old one, and the new one failed as 'named R-1')."""
    seed_accounts(tmp_path, db_url, [["R-1", "Root Co", "Enterprise", "root.com", ""]])
    path = write_csv(
        tmp_path / "renamed.csv",
        ["name", "customer_group", "parent_account", "website"],
        [
            ["Renamed Root", "Enterprise", "", "root.com"],
            ["Kid 1", "Enterprise", "Renamed Root", "kid1.com"],
            ["Kid 2", "Enterprise", "Root Co", "kid2.com"],
        ],
    )
    extra = ("--match-on", "website", "--account-ref", "name", "--batch-size", batch_size)
    run = run_import(path, "Account", db_url, *extra)
    assert run.rows == {**run.rows, "created": 1, "updated": 1, "failed": 1}, run.stdout
    assert errors_of(run.stdout) == [
        "error: parent_account: parent account named 'Root Co' not found"
    ]
    assert fetch(
        db_url,
        "SELECT a.name, p.account_number FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.name",
    ) == [("Kid 1", "R-1"), ("Renamed Root", None)]
