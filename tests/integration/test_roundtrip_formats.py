"""Property: whatever valid data a database holds, export → import in every format is a no-op.

Hypothesis builds datasets the importer accepts (groups, accounts with parents anywhere in
the file and INDIVIDUAL primary contacts, contacts with and without email), imports them
into a new SQLite database per example, then exports each model in each format and imports
it again: every row must come back `unchanged` and every column of every table, timestamps
included, must stay as it was. (SQLite only: one database per example; the example-based
export tests run on both engines.)
"""

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import cli, fetch, run_import, write_csv

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
MODELS = ("CustomerGroup", "Account", "Contact")
TABLES = ("customer_group", "account", "contact")

# What the database can hold after an import: trimmed, not empty, no NUL or lone surrogate;
# no other control character or \r either, which XLSX cannot hold (tested on their own).
CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    ',;"\t\n|=#0 '
)
TEXT = st.text(CHARS, min_size=1, max_size=12).map(str.strip).filter(bool)
OPTIONAL = st.none() | TEXT
GROUP_NAME = TEXT
EMAIL_DOMAINS = ("example.com", "Example.ORG", "mail.example.net")
WEBSITE = st.none() | st.from_regex(
    r"(https?://)?[a-z]{1,8}\.(com|org)(/[a-z0-9]{1,5})?", fullmatch=True
)
FLAG_TRUE = st.sampled_from(["true", "yes", "1", "TRUE"])
FLAG_FALSE = st.sampled_from(["false", "no", "0", ""])
Record = dict[str, str | None]


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[Record]]:
    fold = (str.lower, str.casefold)
    names = draw(st.lists(GROUP_NAME, min_size=1, max_size=3, unique_by=fold))
    groups = [
        {"name": n, "group_type": draw(st.sampled_from(["INDIVIDUAL", "business"]))} for n in names
    ]
    numbers = draw(st.lists(TEXT, min_size=1, max_size=6, unique=True))
    # a parent ranks above its child, which rules out cycles; the file order is random
    ranks = draw(st.permutations(range(len(numbers))))
    accounts = [_account(draw, groups, numbers, ranks, i) for i in range(len(numbers))]
    taken: set[tuple[str, str, str]] = set()  # (account, first, last) of contacts without email
    for account in accounts:
        if account["primary_contact_first_name"] and not account["primary_contact_email"]:
            taken.add(_name_key(account, "primary_contact_first_name", "primary_contact_last_name"))
    contacts = []
    for n in range(draw(st.integers(0, 6))):
        contact = _contact(draw, accounts, groups, n)
        if contact["email"] is None:
            key = _name_key(contact, "first_name", "last_name")
            if key in taken:
                continue
            taken.add(key)
        contacts.append(contact)
    return {"CustomerGroup": groups, "Account": accounts, "Contact": contacts}


def _name_key(record: Record, first: str, last: str) -> tuple[str, str, str]:
    number = record.get("account") or record["account_number"]
    return (str(number), str(record[first]).casefold(), str(record[last]).casefold())


def _spellings(name: str) -> list[str]:
    """The name, and in capitals when that is the same name to a case-insensitive match."""
    return [name] + [v for v in (name.upper(),) if v != name and v.lower() == name.lower()]


def _account(
    draw: st.DrawFn, groups: list[Record], numbers: list[str], ranks: list[int], i: int
) -> Record:
    group = draw(st.sampled_from(groups))
    higher = [numbers[j] for j in range(len(numbers)) if ranks[j] > ranks[i]]
    individual = group["group_type"] == "INDIVIDUAL"
    return {
        "account_number": numbers[i],
        "name": draw(TEXT),
        "legal_name": draw(OPTIONAL),
        "customer_group": draw(st.sampled_from(_spellings(str(group["name"])))),
        "parent_account": draw(st.none() | st.sampled_from(higher)) if higher else None,
        "website": draw(WEBSITE),
        "industry": draw(OPTIONAL),
        "description": draw(OPTIONAL),
        "primary_contact_first_name": draw(TEXT) if individual else None,
        "primary_contact_last_name": draw(TEXT) if individual else None,
        "primary_contact_email": f"Primary.{i}@Example.com"
        if individual and draw(st.booleans())
        else None,
        "primary_contact_phone": draw(OPTIONAL) if individual else None,
    }


def _contact(draw: st.DrawFn, accounts: list[Record], groups: list[Record], n: int) -> Record:
    account = draw(st.sampled_from(accounts))
    group_type = next(
        g["group_type"]
        for g in groups
        if str(g["name"]).lower() == str(account["customer_group"]).lower()
    )
    # an INDIVIDUAL account's primary contact belongs to its Account row
    flag = FLAG_FALSE if group_type == "INDIVIDUAL" else FLAG_TRUE | FLAG_FALSE
    domain = draw(st.sampled_from(EMAIL_DOMAINS))
    return {
        "account": account["account_number"],
        "first_name": draw(TEXT),
        "last_name": draw(TEXT),
        "email": f"Contact.{n}@{domain}" if draw(st.booleans()) else None,
        "phone": draw(OPTIONAL),
        "job_title": draw(OPTIONAL),
        "department": draw(OPTIONAL),
        "is_primary": draw(flag),
    }


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {table: fetch(db_url, f"SELECT * FROM {table} ORDER BY id") for table in TABLES}


def load(folder: Path, db_url: str, data: dict[str, list[Record]]) -> None:
    """Import the dataset (as JSON Lines); it is valid, so every row must be created."""
    for model in MODELS:
        path = folder / f"{model}-input.jsonl"
        records = data[model]
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        if not records:
            continue
        run = run_import(path, model, db_url)
        assert run.exit_code == 0, (run.stderr, run.stdout)
        assert run.rows["failed"] == 0, run.stdout


# each example: every format and model exported and imported (12 keeps the suite short)
@settings(max_examples=12, deadline=None)
@given(data=datasets())
def test_export_then_import_is_unchanged_in_every_format(data: dict[str, list[Record]]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db_url = f"sqlite:///{folder / 'db.sqlite'}"
        load(folder, db_url, data)
        before = snapshot(db_url)
        for fmt in FORMATS:
            for model, table in zip(MODELS, TABLES, strict=True):
                if not before[table]:
                    continue  # JSON formats cannot name the columns of an empty table
                path = folder / f"{model}.{fmt}"
                exported = cli("export", "--model", model, "--db", db_url, "-o", path, "-q")
                if fmt == "xlsx" and exported.exit_code == 2:  # XML cannot hold the value
                    assert_refused_for_xml(exported.stderr)
                    continue
                assert exported.exit_code == 0, exported.stderr
                run = run_import(path, model, db_url)
                assert run.exit_code == 0, (fmt, model, run.stderr)
                assert run.rows["unchanged"] == run.rows["read"] == len(before[table]), (
                    fmt,
                    model,
                    run.rows,
                )
        assert snapshot(db_url) == before


def assert_refused_for_xml(stderr: str) -> None:
    """XLSX refuses, in one line naming the column, what XML cannot hold (SPEC §12.6):
    control characters and U+FFFE/U+FFFF, which the text strategy can draw."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: row "), stderr
    assert "XLSX cannot store" in lines[0], stderr


def test_a_group_named_with_a_non_ascii_capital_reimports_unchanged(
    tmp_path: Path, db_url: str
) -> None:
    path = write_csv(tmp_path / "groups.csv", ["name", "group_type"], [["Ärzte", "BUSINESS"]])
    assert run_import(path, "CustomerGroup", db_url).rows["created"] == 1
    again = run_import(path, "CustomerGroup", db_url)
    assert again.rows["unchanged"] == 1, again.stdout
