"""The synonym table of CRM exports and the suggestions for unmatched columns (SPEC §11)."""

import re
from collections import defaultdict
from pathlib import Path

import pytest

from custimport.rows.mapping import build_column_map, normalise
from custimport.rows.suggestions import field_score, propose_mapping, suggest_fields
from custimport.rows.synonyms import HINTS, SYNONYMS
from custimport.schemas import ACCOUNT, CONTACT, MODELS, model_spec

SALESFORCE_ACCOUNTS = [
    "Account ID",
    "Account Name",
    "Account Number",
    "Type",
    "Industry",
    "Website",
    "Phone",
    "Billing City",
]


def test_the_tables_name_only_the_three_models_and_their_fields() -> None:
    names = {spec.name for spec in MODELS.values()}
    for table in (SYNONYMS, HINTS):
        assert set(table) <= names
        for model, fields in table.items():
            spec = model_spec(model)
            assert spec is not None
            assert set(fields) <= set(spec.fields), model


@pytest.mark.parametrize("model", sorted(SYNONYMS))
def test_no_header_means_two_fields_within_a_model(model: str) -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    for table in (SYNONYMS, HINTS):  # a hint is a header that is not a synonym
        for field_name, headers in table.get(model, {}).items():
            for header in headers:
                meanings[normalise(header)].add(field_name)
    twice = {header: fields for header, fields in meanings.items() if len(fields) > 1}
    assert twice == {}
    synonyms = [normalise(h) for headers in SYNONYMS[model].values() for h in headers]
    hints = [normalise(h) for headers in HINTS.get(model, {}).values() for h in headers]
    assert len(synonyms) == len(set(synonyms)), "a synonym listed twice"
    assert not set(synonyms) & set(hints), "a header both synonym and hint"


@pytest.mark.parametrize("model", sorted(SYNONYMS))
def test_no_synonym_is_the_name_of_a_field_of_its_model(model: str) -> None:
    spec = model_spec(model)
    assert spec is not None
    for headers in SYNONYMS[model].values():
        for header in headers:
            assert normalise(header) not in spec.fields, header


def test_synonyms_match_salesforce_headers_and_are_listed() -> None:
    column_map = build_column_map(SALESFORCE_ACCOUNTS, ACCOUNT.fields, None, "Account")
    assert column_map.columns_by_field == {
        "name": "Account Name",
        "account_number": "Account Number",
        "industry": "Industry",
        "website": "Website",
    }
    assert column_map.synonyms == {"Account Name": "name"}
    assert column_map.unknown_columns == ["Account ID", "Type", "Phone", "Billing City"]


def test_synonyms_apply_per_model() -> None:
    header = ["First Name", "Surname", "E-mail Address", "Phone Number", "Job Position"]
    column_map = build_column_map(header, CONTACT.fields, None, "Contact")
    assert column_map.synonyms == {
        "Surname": "last_name",
        "E-mail Address": "email",
        "Phone Number": "phone",
        "Job Position": "job_title",
    }
    as_account = build_column_map(header, ACCOUNT.fields, None, "Account")
    assert as_account.synonyms == {}


def test_without_a_model_no_synonym_applies() -> None:
    column_map = build_column_map(["Account Name"], ACCOUNT.fields)
    assert (column_map.columns_by_field, column_map.synonyms) == ({}, {})
    assert column_map.unknown_columns == ["Account Name"]


def test_a_synonym_never_takes_a_field_a_column_has_by_name() -> None:
    column_map = build_column_map(["Account Name", "name"], ACCOUNT.fields, None, "Account")
    assert column_map.columns_by_field == {"name": "name"}
    assert column_map.synonyms == {}
    assert column_map.unknown_columns == ["Account Name"]


def test_a_synonym_never_takes_a_field_the_mapping_gives_another_column() -> None:
    header = ["Acct", "Company Name", "Sector"]
    column_map = build_column_map(header, ACCOUNT.fields, {"Acct": "name"}, "Account")
    assert column_map.columns_by_field == {"name": "Acct", "industry": "Sector"}
    assert column_map.synonyms == {"Sector": "industry"}
    assert column_map.unknown_columns == ["Company Name"]


def test_a_column_the_mapping_ignores_is_not_matched_by_synonym() -> None:
    column_map = build_column_map(["Company"], ACCOUNT.fields, {"Company": None}, "Account")
    assert (column_map.synonyms, column_map.ignored_columns) == ({}, ["Company"])


def test_of_two_synonyms_for_one_field_the_preferred_wins_and_the_other_stays_unknown() -> None:
    header = ["Company Domain Name", "Website URL", "Phone Number", "Mobile Phone Number"]
    for model, fields in (("Account", ACCOUNT.fields), ("Contact", CONTACT.fields)):
        column_map = build_column_map(header, fields, None, model)
        matched = set(column_map.synonyms) | set(column_map.unknown_columns)
        assert matched == set(header)
    account = build_column_map(header, ACCOUNT.fields, None, "Account")
    assert account.synonyms == {"Website URL": "website"}
    contact = build_column_map(header, CONTACT.fields, None, "Contact")
    assert contact.synonyms == {"Phone Number": "phone"}
    assert contact.unknown_columns == ["Company Domain Name", "Website URL", "Mobile Phone Number"]


def test_columns_by_field_keeps_the_header_order_with_synonyms() -> None:
    header = ["Company", "account_number", "Sector", "website"]
    column_map = build_column_map(header, ACCOUNT.fields, None, "Account")
    assert list(column_map.columns_by_field.values()) == header


@pytest.mark.parametrize(
    ("column", "field_name", "model"),
    [
        ("Acct Nm", "name", "Account"),
        ("Acct No", "account_number", "Account"),
        ("Cust Grp", "customer_group", "Account"),
        ("Web", "website", "Account"),
        ("FirstName", "first_name", "Contact"),
        ("Emial", "email", "Contact"),
        ("Title", "job_title", "Contact"),  # a hint: a job or a salutation
    ],
)
def test_suggests_abbreviated_misspelt_joined_and_ambiguous_headers(
    column: str, field_name: str, model: str
) -> None:
    spec = model_spec(model)
    assert spec is not None
    suggested = suggest_fields([column], spec.fields, model)
    assert suggested[column].field == field_name
    assert 0.7 <= suggested[column].confidence < 1.0 or column == "FirstName"


@pytest.mark.parametrize(
    ("column", "model"),
    [
        ("Account Owner", "Contact"),  # shares one word with `account`
        ("Company ID", "Account"),  # `id` is not an abbreviation of `industry`
        ("Owner Name", "Account"),
        ("Billing City", "Account"),
        ("Lifecycle Stage", "Contact"),
    ],
)
def test_does_not_suggest_a_field_for_a_column_that_only_shares_a_word(
    column: str, model: str
) -> None:
    spec = model_spec(model)
    assert spec is not None
    assert suggest_fields([column], spec.fields, model) == {}


def test_a_field_is_suggested_for_one_column_only_the_best() -> None:
    suggested = suggest_fields(["Acct Nm", "Account Nam"], ACCOUNT.fields, "Account")
    assert {c: s.field for c, s in suggested.items()} == {"Account Nam": "name"}
    assert field_score("Acct Nm", "name", "Account") >= 0.7  # it would have been suggested


def test_the_proposal_has_every_column_and_never_a_field_twice() -> None:
    header = ["Account Name", "Acct Nm", "Acct No", "name", "Billing City", "Internal"]
    mapping = {"Internal": None}
    column_map = build_column_map(header, ACCOUNT.fields, mapping, "Account")
    proposal = propose_mapping(header, column_map, mapping, ACCOUNT.fields, "Account")
    assert list(proposal.columns) == header
    assert {c: (p.field, p.how) for c, p in proposal.columns.items()} == {
        "Account Name": (None, "none"),  # `name` has its column
        "Acct Nm": (None, "none"),
        "Acct No": ("account_number", "suggested"),
        "name": ("name", "name"),
        "Billing City": (None, "none"),
        "Internal": (None, "ignored"),
    }
    fields = [f for f in proposal.as_file()["columns"].values() if f]
    assert len(fields) == len(set(fields))


def test_the_readme_lists_the_synonym_table_as_it_is() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Column names of CRM exports (synonyms)", 1)[1]
    listed: dict[str, dict[str, tuple[str, ...]]] = {}
    model = ""
    for row in re.findall(r"^\| (.+) \|$", section.split("\n\n| field |", 1)[1], re.M):
        name, _, headers = row.partition(" | ")
        if name.startswith("**"):
            model = name.split("**")[1]
            listed[model] = {}
        elif headers.startswith("`"):
            listed[model][name.strip("`")] = tuple(re.findall(r"`([^`]+)`", headers))
    assert listed == SYNONYMS
