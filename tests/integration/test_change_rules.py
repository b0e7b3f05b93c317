"""Field policies, empty cells and defaults (SPEC §9), on both engines, from the command line
and from the mapping file's extended form: what each writes against every kind of stored
value, what it counts (`fields_changed`), what the change file says, and the usage errors
that stop an import before its first row is read.
"""

import csv
import json
from pathlib import Path

import pytest

from helpers import EXAMPLES, cli, execute, fetch, run_import, seed_groups, write_csv
from hostile_support import full_dump

HEADER = ["account_number", "name", "customer_group", "website", "industry"]
FILE_SITE = "file.example"
# the four kinds of stored value a policy meets: NULL, empty text (only another writer
# leaves one: custimport stores an empty cell as NULL), the file's value, another one
STORED = {"S-NULL": None, "S-EMPTY": "", "S-EQUAL": FILE_SITE, "S-OTHER": "stored.example"}


def changes_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def websites(db_url: str) -> dict[str, str | None]:
    return dict(fetch(db_url, "SELECT account_number, website FROM account"))


def accounts_with_stored_sites(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    rows = [[number, f"Name {number}", "Enterprise", "seed.example", ""] for number in STORED]
    base = write_csv(tmp_path / "base.csv", HEADER, rows)
    assert run_import(base, "Account", db_url).exit_code == 0
    for number, value in STORED.items():
        execute(
            db_url, "UPDATE account SET website = :v WHERE account_number = :n", v=value, n=number
        )


@pytest.mark.parametrize(
    ("policy", "written"),
    [
        ("overwrite", {"S-NULL", "S-EMPTY", "S-OTHER"}),
        ("if_empty", {"S-NULL", "S-EMPTY"}),
        ("on_create", set()),
    ],
)
def test_each_policy_against_each_kind_of_stored_value(
    db_url: str, tmp_path: Path, policy: str, written: set[str]
) -> None:
    accounts_with_stored_sites(tmp_path, db_url)
    rows = [[number, f"Name {number}", "Enterprise", FILE_SITE, ""] for number in [*STORED, "NEW"]]
    path = write_csv(tmp_path / "update.csv", HEADER, rows)

    run = run_import(path, "Account", db_url, "--policy", f"website={policy}", "--changes", "c.csv")

    assert run.exit_code == 0, run.stderr
    expected = {n: FILE_SITE if n in written else stored for n, stored in STORED.items()}
    assert websites(db_url) == {**expected, "NEW": FILE_SITE}  # a create always writes it
    assert run.rows["created"] == 1
    assert run.rows["updated"] == len(written)
    assert run.rows["unchanged"] == 4 - len(written)  # only held-back differences: unchanged
    assert run.report["fields_changed"] == ({"website": len(written)} if written else {})
    updates = [c for c in changes_of(tmp_path / "c.csv") if c["action"] == "updated"]
    assert {(c["key"], c["field"], c["after"]) for c in updates} == {
        (n, "website", FILE_SITE) for n in written
    }


def test_policies_hold_back_the_primary_contact_of_individual_accounts(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    header = [
        "account_number",
        "name",
        "customer_group",
        "primary_contact_first_name",
        "primary_contact_last_name",
        "primary_contact_email",
        "primary_contact_phone",
    ]
    base = write_csv(
        tmp_path / "base.csv",
        header,
        [
            ["I-1", "One", "Retail", "Ann", "Lee", "", "111"],
            ["I-2", "Two", "Retail", "Bo", "Ng", "bo@old.example", "222"],
        ],
    )
    assert run_import(base, "Account", db_url).exit_code == 0
    update = write_csv(
        tmp_path / "update.csv",
        header,
        [
            ["I-1", "One", "Retail", "Ann", "Lee-Smith", "ann@new.example", "999"],
            ["I-2", "Two", "Retail", "Bo", "Ng", "bo@new.example", "999"],
            ["I-3", "Three", "Retail", "Cy", "Oh", "cy@new.example", "333"],
        ],
    )
    policies = ["--policy", "primary_contact_email=if_empty"]
    policies += ["--policy", "Primary Contact Phone=on_create"]  # named as a header may be
    policies += ["--policy", "primary_contact_last_name=on_create"]

    run = run_import(update, "Account", db_url, *policies)

    assert run.exit_code == 0, run.stderr
    contacts = fetch(
        db_url,
        "SELECT a.account_number, c.last_name, c.email, c.phone, c.is_primary FROM contact c "
        "JOIN account a ON a.id = c.account_id ORDER BY a.account_number",
    )
    assert [tuple(row[:4]) for row in contacts] == [
        ("I-1", "Lee", "ann@new.example", "111"),  # email was empty: filled
        ("I-2", "Ng", "bo@old.example", "222"),  # email held back, I-2 unchanged
        ("I-3", "Oh", "cy@new.example", "333"),  # created with every field
    ]
    assert all(row[4] for row in contacts)
    assert (run.rows["updated"], run.rows["unchanged"], run.rows["created"]) == (1, 1, 1)
    assert run.report["contacts"] == {"created": 1, "updated": 1}
    assert run.report["fields_changed"] == {"primary_contact_email": 1}


def test_keep_leaves_stored_values_for_empty_cells_and_still_requires_them_on_create(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    base = write_csv(
        tmp_path / "base.csv",
        HEADER,
        [
            ["K-1", "Kept", "Enterprise", "kept.example", "Mining"],
            ["K-2", "Two", "Partners", "", ""],
        ],
    )
    assert run_import(base, "Account", db_url).exit_code == 0
    update = write_csv(
        tmp_path / "update.csv",
        HEADER,
        [
            ["K-1", "", "", "", ""],  # every empty cell, required ones too: nothing changes
            ["K-2", "", "", "two.example", ""],  # only the website changes
            ["K-3", "Three", "Enterprise", "", ""],  # a create: empty cells are NULL
            ["K-4", "", "Enterprise", "", ""],  # a create still needs its name
        ],
    )

    run = run_import(update, "Account", db_url, "--empty-cells", "keep")

    assert run.exit_code == 1
    assert run.rows == {
        "read": 4, "created": 1, "updated": 1, "unchanged": 1, "skipped": 0, "failed": 1
    }  # fmt: skip
    stored = fetch(
        db_url,
        "SELECT a.account_number, a.name, g.name, a.website, a.industry FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.account_number",
    )
    assert stored == [
        ("K-1", "Kept", "Enterprise", "kept.example", "Mining"),
        ("K-2", "Two", "Partners", "two.example", None),
        ("K-3", "Three", "Enterprise", None, None),
    ]
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "line 5" in log.lower() and "name: must not be empty" in log

    # the same file with the default rule, clear: every empty name fails its row
    cleared = run_import(update, "Account", db_url, "--empty-cells", "clear")
    assert (cleared.rows["failed"], cleared.rows["unchanged"]) == (3, 1)
    assert fetch(db_url, "SELECT website FROM account WHERE account_number = 'K-3'") == [(None,)]


def test_keep_spares_an_individual_accounts_primary_contact_names(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    header = ["account_number", "name", "customer_group", "primary_contact_first_name"]
    header += ["primary_contact_last_name", "primary_contact_phone"]
    base = write_csv(tmp_path / "b.csv", header, [["R-1", "R", "Retail", "Ann", "Lee", "1"]])
    assert run_import(base, "Account", db_url).exit_code == 0
    update = write_csv(tmp_path / "u.csv", header, [["R-1", "R", "Retail", "", "", "2"]])

    refused = run_import(update, "Account", db_url)  # clear: the names are required
    assert refused.rows["failed"] == 1
    kept = run_import(update, "Account", db_url, "--empty-cells", "keep")

    assert kept.exit_code == 0, kept.stderr
    assert fetch(db_url, "SELECT first_name, last_name, phone FROM contact") == [
        ("Ann", "Lee", "2")
    ]
    assert kept.report["fields_changed"] == {"primary_contact_phone": 1}


def test_defaults_fill_creates_and_empty_cells_but_never_a_missing_column_on_update(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    base = write_csv(tmp_path / "base.csv", HEADER, [["D-1", "One", "Partners", "", "Mining"]])
    assert run_import(base, "Account", db_url).exit_code == 0
    header = ["account_number", "name", "industry"]  # no customer_group column
    path = write_csv(
        tmp_path / "no_group.csv",
        header,
        [["D-1", "One", ""], ["D-2", "Two", ""], ["D-3", "Three", "Farming"]],
    )
    without = run_import(path, "Account", db_url)
    assert without.exit_code == 2
    assert "required columns missing: customer_group" in without.stderr

    run = run_import(
        path, "Account", db_url, "--default", "customer_group=enterprise",
        "--default", "industry=  Retail trade ",
    )  # fmt: skip

    assert run.exit_code == 0, run.stderr
    stored = fetch(
        db_url,
        "SELECT a.account_number, g.name, a.industry FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.account_number",
    )
    assert stored == [
        ("D-1", "Partners", "Retail trade"),  # no column: its group stays; empty cell: default
        ("D-2", "Enterprise", "Retail trade"),
        ("D-3", "Enterprise", "Farming"),
    ]
    assert run.report["fields_changed"] == {"industry": 1}


def test_a_default_for_a_required_column_serves_only_the_modes_that_create(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "a.csv", ["account_number", "customer_group"], [["M-1", "Retail"]])
    run = run_import(path, "Account", db_url, "--default", "name=Unnamed", "--default", "primary_contact_first_name=Unknown", "--default", "primary_contact_last_name=Unknown")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert fetch(db_url, "SELECT name FROM account") == [("Unnamed",)]
    assert fetch(db_url, "SELECT first_name, last_name FROM contact") == [("Unknown", "Unknown")]
    # update_only needs only the key, with or without a default
    assert run_import(path, "Account", db_url, "--mode", "update_only").exit_code == 0


USAGE_ERRORS = [
    (
        ["--policy", "colour=if_empty"],
        "--policy: Account has no field 'colour'; fields: name, legal_name, customer_group,",
    ),
    (
        ["--policy", "website=sometimes"],
        "unknown policy 'sometimes' for website; use one of overwrite, if_empty, on_create",
    ),
    (
        ["--policy", "account_number=if_empty"],
        "--policy: account_number finds the record, so it takes no policy or default",
    ),
    (["--policy", "website"], "--policy 'website': write it as FIELD=POLICY"),
    (
        ["--default", "website=not a site"],
        "the default for website ('not a site') is not a valid website",
    ),
    (
        ["--default", "primary_contact_email=nobody"],
        "the default for primary_contact_email ('nobody') is not a valid email address",
    ),
    (["--default", "name=" + "x" * 256], "the default for name ('xxx"),
    (["--default", "website= "], "the default for website is empty; give a value"),
    (["--default", "account_number=A-1"], "account_number finds the record"),
    (["--empty-cells", "sometimes"], "unknown empty_cells 'sometimes'; use one of clear, keep"),
    (
        ["--policy", "website=if_empty", "--policy", "Website=on_create"],
        "--policy: website is given twice; give it once",
    ),
    (["--default", "description=" + "d" * 10_001], "the default for description ('dddd"),
]


@pytest.mark.parametrize(("options", "message"), USAGE_ERRORS)
def test_a_wrong_rule_stops_before_any_row_is_read(
    db_url: str, tmp_path: Path, options: list[str], message: str
) -> None:
    seed_groups(tmp_path, db_url)
    runs = fetch(db_url, "SELECT count(*) FROM import_run")
    path = write_csv(tmp_path / "a.csv", HEADER, [["U-1", "One", "Enterprise", "", ""]])

    run = run_import(path, "Account", db_url, *options)

    assert run.exit_code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert len(run.stderr) < 300  # a long value is quoted cut short
    assert fetch(db_url, "SELECT count(*) FROM import_run") == runs  # nothing recorded
    assert fetch(db_url, "SELECT count(*) FROM account") == [(0,)]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"policies": {"is_primary": "on_create"}}, "is_primary moves the primary flag"),
        ({"defaults": {"email": "a@b.example"}}, "email finds the record"),
        ({"defaults": {"last_name": "Unknown"}}, "last_name finds a contact that has no email"),
        ({"policies": {"phone": "never"}}, "unknown policy 'never' for phone"),
        ({"columns": {}, "empty_cells": "maybe"}, "unknown empty_cells 'maybe'"),
        ({"columns": {}, "polices": {}}, "unknown key 'polices'"),
    ],
)
def test_a_wrong_entry_of_the_extended_mapping_is_a_usage_error(
    sqlite_url: str, tmp_path: Path, mapping: dict[str, object], message: str
) -> None:
    path = write_csv(tmp_path / "c.csv", ["account", "first_name", "last_name"], [["A", "B", "C"]])
    (tmp_path / "m.json").write_text(json.dumps(mapping), encoding="utf-8")
    run = run_import(path, "Contact", sqlite_url, "--mapping", tmp_path / "m.json")
    assert run.exit_code == 2
    assert message in run.stderr


def test_the_extended_mapping_file_and_options_that_override_it(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    base = write_csv(
        tmp_path / "base.csv", HEADER, [["E-1", "One", "Enterprise", "old.example", "Mining"]]
    )
    assert run_import(base, "Account", db_url).exit_code == 0
    mapping = {
        "columns": {"Customer No.": "account_number", "Web": "website", "Notes": None},
        "policies": {"website": "on_create", "industry": "if_empty"},
        "defaults": {"customer_group": "Partners"},
        "empty_cells": "keep",
    }
    (tmp_path / "m.json").write_text(json.dumps(mapping), encoding="utf-8")
    path = write_csv(
        tmp_path / "crm.csv",
        ["Customer No.", "name", "Web", "industry", "Notes"],
        [["E-1", "", "new.example", "Farming", "x"], ["E-2", "Two", "two.example", "", "y"]],
    )

    from_file = run_import(path, "Account", db_url, "--mapping", tmp_path / "m.json", "--dry-run")
    assert from_file.exit_code == 0, from_file.stderr
    assert (from_file.rows["unchanged"], from_file.rows["created"]) == (1, 1)

    overridden = run_import(
        path, "Account", db_url, "--mapping", tmp_path / "m.json",
        "--policy", "website=overwrite", "--empty-cells", "clear", "--default", "name=Nameless",
    )  # fmt: skip
    assert overridden.exit_code == 0, overridden.stderr
    stored = fetch(
        db_url,
        "SELECT a.account_number, a.name, g.name, a.website, a.industry FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.account_number",
    )
    assert stored == [
        ("E-1", "Nameless", "Enterprise", "new.example", "Mining"),  # empty name: the default
        ("E-2", "Two", "Partners", "two.example", None),
    ]
    (recorded,) = fetch(db_url, "SELECT mapping FROM import_run ORDER BY id DESC LIMIT 1")[0:1]
    assert json.loads(recorded[0]) == {
        "columns": mapping["columns"],
        "policies": {"website": "overwrite", "industry": "if_empty"},
        "defaults": {"customer_group": "Partners", "name": "Nameless"},
        "empty_cells": "clear",
    }


def test_a_dry_runs_change_file_under_rules_is_the_real_imports(
    db_url: str, tmp_path: Path
) -> None:
    accounts_with_stored_sites(tmp_path, db_url)
    rows = [[n, "", "", FILE_SITE, "Food"] for n in STORED]
    rows.append(["NEW", "New", "", "", ""])
    path = write_csv(tmp_path / "u.csv", HEADER, rows)
    rules = ["--policy", "website=if_empty", "--empty-cells", "keep"]
    rules += ["--default", "customer_group=Partners", "--default", "industry=Other"]
    before = full_dump(db_url)

    preview = run_import(path, "Account", db_url, *rules, "--dry-run", "--changes", "p.csv")
    assert full_dump(db_url) == before
    real = run_import(path, "Account", db_url, *rules, "--changes", "r.csv")

    assert preview.exit_code == real.exit_code == 0, real.stderr
    assert (tmp_path / "p.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()
    assert preview.report["fields_changed"] == real.report["fields_changed"] == {
        "industry": 4, "website": 2,
    }  # fmt: skip
    created = [c for c in changes_of(tmp_path / "r.csv") if c["action"] == "created"]
    assert json.loads(created[0]["after"])["industry"] == "Other"
    assert json.loads(created[0]["after"])["customer_group"] == "Partners"


def test_contact_and_group_rows_follow_the_rules(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    accounts = write_csv(tmp_path / "a.csv", HEADER, [["C-1", "One", "Enterprise", "", ""]])
    assert run_import(accounts, "Account", db_url).exit_code == 0
    header = ["account", "first_name", "last_name", "email", "job_title", "department"]
    base = write_csv(
        tmp_path / "c.csv", header, [["C-1", "Ann", "Lee", "ann@x.example", "", "Sales"]]
    )
    assert run_import(base, "Contact", db_url).exit_code == 0
    update = write_csv(
        tmp_path / "c2.csv",
        header,
        [
            ["C-1", "", "Lee-Smith", "ann@x.example", "Director", "Finance"],
            ["C-1", "Bo", "Ng", "bo@x.example", "", ""],
        ],
    )
    run = run_import(
        update, "Contact", db_url, "--empty-cells", "keep", "--policy", "job_title=if_empty",
        "--policy", "department=on_create", "--default", "department=General",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert fetch(
        db_url, "SELECT first_name, last_name, job_title, department FROM contact ORDER BY email"
    ) == [("Ann", "Lee-Smith", "Director", "Sales"), ("Bo", "Ng", None, "General")]
    assert run.report["fields_changed"] == {"job_title": 1, "last_name": 1}

    groups = write_csv(tmp_path / "g.csv", ["name", "group_type"], [["retail", ""], ["New", ""]])
    kept = run_import(groups, "CustomerGroup", db_url, "--empty-cells", "keep")
    assert kept.exit_code == 1  # "New" cannot be created without its type
    assert (kept.rows["updated"], kept.rows["failed"]) == (1, 1)  # retail: its name's case
    assert fetch(
        db_url, "SELECT name, group_type FROM customer_group WHERE name_key = 'retail'"
    ) == [("retail", "INDIVIDUAL")]
    defaulted = run_import(groups, "CustomerGroup", db_url, "--default", "group_type=business")
    assert defaulted.rows["created"] == 1
    assert fetch(db_url, "SELECT group_type FROM customer_group WHERE name = 'New'") == [
        ("BUSINESS",)
    ]
    # on update, a present column's empty cell gets the default too
    assert fetch(db_url, "SELECT group_type FROM customer_group WHERE name_key = 'retail'") == [
        ("BUSINESS",)
    ]


def test_the_summary_counts_changed_fields(sqlite_url: str, tmp_path: Path) -> None:
    accounts_with_stored_sites(tmp_path, sqlite_url)
    rows = [[n, f"Name {n}", "Enterprise", FILE_SITE, ""] for n in STORED]
    path = write_csv(tmp_path / "u.csv", HEADER, rows)
    run = cli(path, "--model", "Account", "--db", sqlite_url, "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert "Fields it would change (updated rows): website 3" in run.stdout


def test_inspect_shows_the_rules_in_effect(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["account_number", "name", "website"], [["I", "N", ""]])
    mapping = {"policies": {"website": "if_empty"}, "defaults": {"customer_group": "Retail"}}
    (tmp_path / "m.json").write_text(json.dumps(mapping), encoding="utf-8")
    args = ["inspect", path, "--model", "Account", "--mapping", tmp_path / "m.json"]

    shown = cli(*args, "--empty-cells", "keep", "--json")

    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["rules"] == {
        "policies": {"website": "if_empty"},
        "defaults": {"customer_group": "Retail"},
        "empty_cells": "keep",
    }
    assert report["missing_required"] == []  # the default stands in for customer_group
    text = cli(*args).stdout
    assert "Policies (others: overwrite): website if_empty" in text
    assert "Default customer_group = 'Retail' (no column: rows it creates)" in text
    wrong = cli(*args, "--policy", "website=later")
    assert wrong.exit_code == 2 and "unknown policy 'later'" in wrong.stderr


def test_the_readmes_example_of_rules_from_the_extended_mapping_file(
    db_url: str, tmp_path: Path
) -> None:
    """The session of the README's "Field policies, empty cells and defaults", as shown."""
    for name, model, mapping in [
        ("customer_groups.csv", "CustomerGroup", None),
        ("accounts_crm_export.csv", "Account", "mapping.json"),
    ]:
        extra = ["--mapping", EXAMPLES / mapping] if mapping else []
        assert run_import(EXAMPLES / name, model, db_url, *extra).exit_code == 0
    update, rules = EXAMPLES / "accounts_crm_update.csv", EXAMPLES / "mapping_policies.json"

    run = run_import(
        update, "Account", db_url, "--mapping", rules, "--dry-run", "--changes", "p.csv"
    )

    assert run.exit_code == 0, run.stderr
    assert run.report["fields_changed"] == {"legal_name": 1, "name": 1}
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    shown = readme.rsplit("$ cat preview.csv\n", 1)[1].split("```", 1)[0]  # the last session
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").replace("\r\n", "\n") == shown


def test_defaults_and_policies_of_primary_contacts_that_rows_create(
    db_url: str, tmp_path: Path
) -> None:
    """A default primary contact name on a BUSINESS account is no value the file gave (no
    "ignored" warning); on_create lets in the first primary contact of an account that
    moves to an INDIVIDUAL group, since the row creates that contact."""
    seed_groups(tmp_path, db_url)
    business = write_csv(tmp_path / "b.csv", HEADER[:3], [["B-1", "Biz", "Enterprise"]])
    run = run_import(business, "Account", db_url, "--default", "primary_contact_first_name=Pat")
    assert run.exit_code == 0 and run.report["warnings"] == [], run.stdout

    header = [*HEADER[:3], "primary_contact_first_name", "primary_contact_last_name"]
    moved = write_csv(tmp_path / "m.csv", header, [["B-1", "Biz", "Retail", "Eva", "Poe"]])
    policy = ["--policy", "primary_contact_first_name=on_create"]
    run = run_import(moved, "Account", db_url, *policy)
    assert run.exit_code == 0, run.stdout
    assert fetch(db_url, "SELECT first_name, last_name, is_primary FROM contact") == [
        ("Eva", "Poe", True)
    ]
    renamed = write_csv(tmp_path / "r.csv", header, [["B-1", "Biz", "Retail", "Ava", "Poe"]])
    held = run_import(renamed, "Account", db_url, *policy)
    assert held.rows["unchanged"] == 1  # the contact exists now: its name is held back
    assert fetch(db_url, "SELECT first_name FROM contact") == [("Eva",)]


def test_a_default_parent_is_not_given_to_the_parent_itself(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    header = ["account_number", "name", "customer_group", "parent_account"]
    rows = [["HQ", "Head office", "Enterprise", ""], ["BR-1", "Branch", "Enterprise", ""]]
    path = write_csv(tmp_path / "a.csv", header, rows)

    run = run_import(path, "Account", db_url, "--default", "parent_account=HQ")

    assert run.exit_code == 0, run.stdout
    assert fetch(
        db_url,
        "SELECT a.account_number, p.account_number FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
    ) == [("BR-1", "HQ"), ("HQ", None)]
