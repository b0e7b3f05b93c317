"""A key missing from one JSON object is a column that row does not have (SPEC §3, §4).

On update the stored value is left alone (an explicit null or "" clears it); on create
an absent optional field is NULL and an absent required field fails that row only,
naming the field; an absent field never makes a row `updated`. Each model, on both
engines, through the real command; results are read back with SQL.
"""

import json
import re
from pathlib import Path
from typing import Any

from helpers import Run, fetch, run_import, seed_groups

_ENTRY = re.compile(r"^line (\d+)$")
_ERROR = re.compile(r"^  error: ([^:]+): (.*)$")


def write_jsonl(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def errors_by_line(run: Run) -> dict[int, list[tuple[str, str]]]:
    """{line: [(field, message), ...]} from the run's error log (empty when none failed)."""
    log = run.report["error_log"]
    if not log:
        return {}
    entries: dict[int, list[tuple[str, str]]] = {}
    current = 0
    for line in Path(log).read_text(encoding="utf-8").splitlines():
        if entry := _ENTRY.match(line):
            current = int(entry.group(1))
            entries[current] = []
        elif error := _ERROR.match(line):
            entries[current].append((error.group(1), error.group(2)))
    return entries


def absent(field: str) -> str:
    return f"required column '{field}' is missing from this row"


# --- customer groups ------------------------------------------------------------------


def _groups(db_url: str) -> dict[str, tuple[str, Any]]:
    rows = fetch(db_url, "SELECT name, group_type, updated_at FROM customer_group")
    return {name: (kind, updated) for name, kind, updated in rows}


def test_a_group_without_the_group_type_key_keeps_its_type_and_is_unchanged(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    before = _groups(db_url)
    path = write_jsonl(
        tmp_path / "groups.jsonl",
        [{"name": "Retail", "group_type": "INDIVIDUAL"}, {"name": "Enterprise"}],
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert (run.exit_code, run.rows["unchanged"], run.rows["updated"]) == (0, 2, 0)
    assert _groups(db_url) == before


def test_a_group_whose_group_type_is_null_fails_and_keeps_its_type(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "groups.jsonl",
        [
            {"name": "Retail", "group_type": "INDIVIDUAL"},
            {"name": "Enterprise", "group_type": None},
        ],
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert (run.exit_code, run.rows["failed"], run.rows["unchanged"]) == (1, 1, 1)
    assert errors_by_line(run) == {2: [("group_type", "must not be empty")]}
    assert _groups(db_url)["Enterprise"][0] == "BUSINESS"


def test_a_new_group_without_its_name_or_group_type_key_fails_alone(
    tmp_path: Path, db_url: str
) -> None:
    path = write_jsonl(
        tmp_path / "groups.jsonl",
        [
            {"name": "Retail", "group_type": "individual"},
            {"name": "Typeless"},
            {"group_type": "BUSINESS"},
            {"name": "Enterprise", "group_type": "BUSINESS"},
        ],
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 2, 2)
    assert errors_by_line(run) == {
        2: [("group_type", absent("group_type"))],
        3: [("name", absent("name"))],
    }
    assert set(_groups(db_url)) == {"Retail", "Enterprise"}


# --- accounts ---------------------------------------------------------------------------

CONTACT_KEYS = (
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
    "primary_contact_phone",
)
ACCOUNT_SQL = """
    SELECT a.name, a.legal_name, g.name, p.account_number, a.website, a.industry,
           a.description, a.updated_at
    FROM account a JOIN customer_group g ON g.id = a.customer_group_id
    LEFT JOIN account p ON p.id = a.parent_account_id
    WHERE a.account_number = :number
"""
CONTACT_SQL = """
    SELECT c.first_name, c.last_name, c.email, c.phone, c.is_primary, c.updated_at
    FROM contact c JOIN account a ON a.id = c.account_id
    WHERE a.account_number = :number ORDER BY c.id
"""


def account(number: str, **changes: Any) -> dict[str, Any]:
    """An object with every key of an account file (so it can come first and name them)."""
    values = {
        "account_number": number,
        "name": f"Account {number}",
        "legal_name": f"{number} Ltd",
        "customer_group": "Enterprise",
        "parent_account": None,
        "website": f"{number.lower()}.example",
        "industry": "Software",
        "description": f"About {number}",
        **dict.fromkeys(CONTACT_KEYS),
    }
    return values | changes


def _account(db_url: str, number: str) -> dict[str, Any]:
    names = ("name", "legal_name", "group", "parent", "website", "industry", "description")
    [row] = fetch(db_url, ACCOUNT_SQL, number=number)
    return dict(zip((*names, "updated_at"), row, strict=True))


def _contacts(db_url: str, number: str) -> list[tuple[Any, ...]]:
    return fetch(db_url, CONTACT_SQL, number=number)


def _seed_accounts(tmp_path: Path, db_url: str) -> None:
    """B1, B2 (child of B1) in Enterprise; I1 in Retail (INDIVIDUAL) with Jane Doe."""
    seed_groups(tmp_path, db_url)
    jane = dict(zip(CONTACT_KEYS, ("Jane", "Doe", "jane@example.com", "+1 555 0100"), strict=True))
    rows = [
        account("B1"),
        account("B2", parent_account="B1"),
        account("I1", customer_group="Retail", **jane),
    ]
    run = run_import(write_jsonl(tmp_path / "seed.jsonl", rows), "Account", db_url)
    assert (run.exit_code, run.rows["created"]) == (0, 3), run.stdout


def test_an_account_without_some_keys_keeps_those_fields(tmp_path: Path, db_url: str) -> None:
    """The reported case: no description key (and no others) on A2's object."""
    _seed_accounts(tmp_path, db_url)
    before = _account(db_url, "B2")
    path = write_jsonl(
        tmp_path / "accounts.jsonl", [account("B1"), {"account_number": "B2", "name": "Beta"}]
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["updated"], run.rows["unchanged"]) == (0, 1, 1)
    after = _account(db_url, "B2")
    assert after["name"] == "Beta"
    unchanged = ("legal_name", "group", "parent", "website", "industry", "description")
    assert {f: after[f] for f in unchanged} == {f: before[f] for f in unchanged}
    assert after["parent"] == "B1" and after["description"] == "About B2"


def test_the_same_case_in_a_json_array_keeps_the_fields(tmp_path: Path, db_url: str) -> None:
    _seed_accounts(tmp_path, db_url)
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([account("B1"), {"account_number": "B2", "industry": "Retail"}]))
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["updated"], run.rows["unchanged"]) == (0, 1, 1)
    after = _account(db_url, "B2")
    assert (after["industry"], after["description"], after["parent"]) == (
        "Retail",
        "About B2",
        "B1",
    )


def test_accounts_whose_given_keys_match_are_unchanged_and_not_written(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    before = {n: _account(db_url, n) for n in ("B1", "B2", "I1")}
    contacts_before = _contacts(db_url, "I1")
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [
            account("B1"),
            {"account_number": "B2", "name": "Account B2"},
            {"account_number": "I1", "primary_contact_email": "jane@example.com"},
        ],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["unchanged"], run.rows["updated"]) == (0, 3, 0)
    assert run.report["contacts"] == {"created": 0, "updated": 0}
    assert {n: _account(db_url, n) for n in before} == before
    assert _contacts(db_url, "I1") == contacts_before


def test_an_explicit_null_or_empty_string_clears_an_account_field(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [
            account("B1"),
            {"account_number": "B2", "description": None, "website": "", "parent_account": None},
            {"account_number": "I1", "customer_group": None},  # a required field: fails
        ],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["updated"], run.rows["failed"]) == (1, 1, 1)
    assert errors_by_line(run) == {3: [("customer_group", "must not be empty")]}
    after = _account(db_url, "B2")
    assert (after["description"], after["website"], after["parent"]) == (None, None, None)
    assert (after["industry"], after["legal_name"]) == ("Software", "B2 Ltd")


def test_a_new_account_without_optional_keys_gets_nulls(tmp_path: Path, db_url: str) -> None:
    _seed_accounts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [
            account("B1"),
            {"account_number": "N1", "name": "New", "customer_group": "Partners"},
        ],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["created"], run.rows["unchanged"]) == (0, 1, 1)
    created = _account(db_url, "N1")
    assert (created["name"], created["group"]) == ("New", "Partners")
    optional = ("legal_name", "parent", "website", "industry", "description")
    assert [created[f] for f in optional] == [None] * len(optional)


def test_a_new_account_without_a_required_key_fails_that_row_only(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [
            account("B1"),
            {"account_number": "N1", "customer_group": "Enterprise"},
            {"account_number": "N2", "name": "Groupless"},
            {"industry": "Retail"},  # no account_number either: it would be generated
            {"account_number": "N3", "name": "Fine", "customer_group": "Partners"},
            {"account_number": "B2", "website": "new.example"},  # an update needs neither
        ],
    )
    run = run_import(path, "Account", db_url)
    assert run.rows == {
        "read": 6,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "skipped": 0,
        "failed": 3,
    }
    assert run.exit_code == 1
    assert errors_by_line(run) == {
        2: [("name", absent("name"))],
        3: [("customer_group", absent("customer_group"))],
        4: [("name", absent("name")), ("customer_group", absent("customer_group"))],
    }
    numbers = {n for (n,) in fetch(db_url, "SELECT account_number FROM account")}
    assert numbers == {"B1", "B2", "I1", "N3"}
    assert _account(db_url, "B2")["website"] == "new.example"


def test_an_individual_account_without_primary_contact_keys_keeps_its_contact(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    contacts_before = _contacts(db_url, "I1")
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [account("B1"), {"account_number": "I1", "name": "Jane Doe", "customer_group": "Retail"}],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["updated"], run.rows["unchanged"]) == (0, 1, 1)
    assert run.report["contacts"] == {"created": 0, "updated": 0}
    assert _account(db_url, "I1")["name"] == "Jane Doe"
    assert _contacts(db_url, "I1") == contacts_before


def test_an_individual_account_with_some_primary_contact_keys_changes_only_those(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [account("B1"), {"account_number": "I1", "primary_contact_phone": "+1 555 0199"}],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["updated"]) == (0, 1)
    assert run.report["contacts"] == {"created": 0, "updated": 1}
    [(first, last, email, phone, is_primary, _)] = _contacts(db_url, "I1")
    assert (first, last, email, phone, bool(is_primary)) == (
        "Jane",
        "Doe",
        "jane@example.com",
        "+1 555 0199",
        True,
    )


def test_an_individual_account_needs_both_names_when_created_or_given_empty(
    tmp_path: Path, db_url: str
) -> None:
    _seed_accounts(tmp_path, db_url)
    contacts_before = _contacts(db_url, "I1")
    path = write_jsonl(
        tmp_path / "accounts.jsonl",
        [
            account("B1"),
            {"account_number": "I1", "primary_contact_first_name": None},
            {
                "account_number": "I2",
                "name": "New person",
                "customer_group": "Retail",
                "primary_contact_first_name": "Max",
            },
        ],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["failed"], run.rows["unchanged"]) == (1, 2, 1)
    assert [fields for [(fields, _)] in errors_by_line(run).values()] == [
        "primary_contact_first_name",
        "primary_contact_last_name",
    ]
    assert _contacts(db_url, "I1") == contacts_before
    assert fetch(db_url, "SELECT count(*) FROM account WHERE account_number = 'I2'") == [(0,)]


# --- contacts -------------------------------------------------------------------------

CONTACT_ROW_SQL = """
    SELECT c.first_name, c.last_name, c.phone, c.job_title, c.department, c.is_primary,
           c.updated_at
    FROM contact c JOIN account a ON a.id = c.account_id
    WHERE a.account_number = 'B1' AND c.email = :email
"""


def contact(email: str, **changes: Any) -> dict[str, Any]:
    """An object with every key of a contact file."""
    first = email.split("@")[0].capitalize()
    values = {
        "account": "B1",
        "first_name": first,
        "last_name": "Lee",
        "email": email,
        "phone": "+1 555 0101",
        "job_title": "Buyer",
        "department": "Purchasing",
        "is_primary": False,
    }
    return values | changes


def _contact(db_url: str, email: str) -> tuple[Any, ...]:
    [row] = fetch(db_url, CONTACT_ROW_SQL, email=email)
    return (*row[:5], bool(row[5]), row[6])


def _seed_contacts(tmp_path: Path, db_url: str) -> None:
    """Account B1 (Enterprise) with Ann (primary) and Bob."""
    seed_groups(tmp_path, db_url)
    run = run_import(write_jsonl(tmp_path / "b1.jsonl", [account("B1")]), "Account", db_url)
    assert run.exit_code == 0, run.stdout
    rows = [contact("ann@example.com", is_primary=True), contact("bob@example.com")]
    run = run_import(write_jsonl(tmp_path / "seed.jsonl", rows), "Contact", db_url)
    assert (run.exit_code, run.rows["created"]) == (0, 2), run.stdout


def test_a_contact_without_some_keys_keeps_those_fields(tmp_path: Path, db_url: str) -> None:
    _seed_contacts(tmp_path, db_url)
    ann, bob = _contact(db_url, "ann@example.com"), _contact(db_url, "bob@example.com")
    path = write_jsonl(
        tmp_path / "contacts.jsonl",
        [
            contact("bob@example.com"),
            {"account": "B1", "email": "ann@example.com", "phone": "+1 555 0199"},
        ],
    )
    run = run_import(path, "Contact", db_url)
    assert (run.exit_code, run.rows["updated"], run.rows["unchanged"]) == (0, 1, 1)
    assert _contact(db_url, "ann@example.com")[:6] == (*ann[:2], "+1 555 0199", *ann[3:6])
    assert _contact(db_url, "ann@example.com")[5] is True  # no is_primary key: still primary
    assert _contact(db_url, "bob@example.com") == bob


def test_contacts_whose_given_keys_match_are_unchanged_and_not_written(
    tmp_path: Path, db_url: str
) -> None:
    _seed_contacts(tmp_path, db_url)
    before = [_contact(db_url, e) for e in ("ann@example.com", "bob@example.com")]
    path = write_jsonl(
        tmp_path / "contacts.jsonl",
        [
            contact("bob@example.com"),
            {"account": "B1", "email": "ann@example.com"},
            {"account": "B1", "email": "bob@example.com", "first_name": "Bob"},
        ],
    )
    # the third row is Bob again: a duplicate of line 1, whatever keys it has
    run = run_import(path, "Contact", db_url)
    assert (run.rows["unchanged"], run.rows["updated"], run.rows["failed"]) == (2, 0, 1)
    assert errors_by_line(run) == {3: [("email", "duplicate of line 1")]}
    assert [_contact(db_url, e) for e in ("ann@example.com", "bob@example.com")] == before


def test_an_explicit_null_or_empty_string_clears_a_contact_field(
    tmp_path: Path, db_url: str
) -> None:
    _seed_contacts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "contacts.jsonl",
        [
            contact("bob@example.com"),
            {"account": "B1", "email": "ann@example.com", "phone": None, "job_title": ""},
        ],
    )
    run = run_import(path, "Contact", db_url)
    assert (run.exit_code, run.rows["updated"]) == (0, 1)
    first, _, phone, job, department, primary, _ = _contact(db_url, "ann@example.com")
    assert (first, phone, job, department, primary) == ("Ann", None, None, "Purchasing", True)


def test_a_new_contact_without_optional_keys_gets_nulls(tmp_path: Path, db_url: str) -> None:
    _seed_contacts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "contacts.jsonl",
        [
            contact("bob@example.com"),
            {"account": "B1", "first_name": "Dee", "last_name": "New", "email": "dee@example.com"},
        ],
    )
    run = run_import(path, "Contact", db_url)
    assert (run.exit_code, run.rows["created"], run.rows["unchanged"]) == (0, 1, 1)
    assert _contact(db_url, "dee@example.com")[:6] == ("Dee", "New", None, None, None, False)
    assert _contact(db_url, "ann@example.com")[5] is True


def test_a_new_contact_without_a_required_key_fails_that_row_only(
    tmp_path: Path, db_url: str
) -> None:
    _seed_contacts(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "contacts.jsonl",
        [
            contact("bob@example.com"),
            {"account": "B1", "first_name": "Eve", "email": "eve@example.com"},
            {"account": "B1", "email": "fay@example.com"},
            {"first_name": "Gil", "last_name": "Doe", "email": "gil@example.com"},
            {"account": "B1", "first_name": "Hal", "last_name": "Doe", "email": "hal@example.com"},
            {"account": "B1", "email": "ann@example.com", "department": "Board"},
        ],
    )
    run = run_import(path, "Contact", db_url)
    assert run.rows == {
        "read": 6,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "skipped": 0,
        "failed": 3,
    }
    assert run.exit_code == 1
    assert errors_by_line(run) == {
        2: [("last_name", absent("last_name"))],
        3: [("first_name", absent("first_name")), ("last_name", absent("last_name"))],
        4: [("account", absent("account"))],
    }
    emails = {e for (e,) in fetch(db_url, "SELECT email FROM contact")}
    assert emails == {"ann@example.com", "bob@example.com", "hal@example.com"}
    assert _contact(db_url, "ann@example.com")[4] == "Board"


# --- issue #12, F3: a key the first object lacks is a column too --------------------------


def test_a_key_the_first_object_lacks_is_imported_from_the_objects_that_have_it(
    tmp_path: Path, db_url: str
) -> None:
    """The reported case: P2 failed with "unexpected key 'website'"."""
    seed_groups(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "fm.jsonl",
        [
            {"account_number": "P1", "name": "a", "customer_group": "Enterprise"},
            {
                "account_number": "P2",
                "name": "b",
                "customer_group": "Enterprise",
                "website": "b.com",
            },
        ],
    )
    run = run_import(path, "Account", db_url)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (0, 2, 0), run.stdout
    assert (_account(db_url, "P1")["website"], _account(db_url, "P2")["website"]) == (
        None,
        "b.com",
    )


def test_the_rejects_file_keeps_every_key_of_a_failed_object(tmp_path: Path, db_url: str) -> None:
    """Fixing the rejects file and importing it loses nothing: each key is a column."""
    seed_groups(tmp_path, db_url)
    path = write_jsonl(
        tmp_path / "fm.jsonl",
        [
            {"account_number": "P1", "name": "a", "customer_group": "Enterprise"},
            {"account_number": "P2", "name": "b", "customer_group": "Nowhere", "industry": "Ag"},
        ],
    )
    rejects = tmp_path / "rejects.csv"
    run = run_import(path, "Account", db_url, "--rejects", rejects)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 1, 1), run.stdout
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "account_number,name,customer_group,industry,error"
    assert lines[1].startswith("P2,b,Nowhere,Ag,")
    assert [field for field, _ in errors_by_line(run)[2]] == ["customer_group"]
