"""rows/matching.py: the --match-on / --account-ref choices and the row keys (SPEC §10)."""

import pickle

import pytest

from custimport.errors import UsageError
from custimport.rows.matching import RowKey, ambiguous, in_effect, parse_match_on


@pytest.mark.parametrize(
    ("model", "given", "canonical"),
    [
        ("Account", None, "account_number"),
        ("Account", "Website, NAME", "name,website"),
        ("Contact", None, "email"),
        ("Contact", "phone", "phone"),
        ("CustomerGroup", "name", "name"),
    ],
)
def test_choices_in_their_canonical_spelling(model: str, given: str | None, canonical: str) -> None:
    assert parse_match_on(model, given) == canonical


@pytest.mark.parametrize(
    ("model", "match_on", "account_ref", "named"),
    [
        ("Account", "email", None, "account_number, name, website, name,website"),
        ("Contact", "website", None, "email, name, phone"),
        ("CustomerGroup", "website", None, "use name"),
        ("CustomerGroup", None, "name", "Account and Contact files only"),
        ("Contact", None, "email", "account_number, name, website"),
    ],
)
def test_other_choices_are_usage_errors_naming_the_valid_ones(
    model: str, match_on: str | None, account_ref: str | None, named: str
) -> None:
    with pytest.raises(UsageError, match=named):
        in_effect(model, match_on, account_ref)


def test_row_keys_normalise_and_survive_pickling_for_the_worker() -> None:
    key = pickle.loads(pickle.dumps(RowKey("Account", "name,website")))
    assert key({"name": "ACME, Corp.", "website": "https://www.acme.com/x"}) == (
        "acme corp",
        "acme.com",
    )
    assert key({"name": "Acme", "website": None}) is None  # no key: the handler fails it
    contact = RowKey("Contact", "phone", "name")
    assert contact({"account": "ACME Corp", "phone": "+1 (415) 555-0100"}) == (
        "acme corp",
        "14155550100",
    )


def test_an_ambiguity_names_at_most_five_keys() -> None:
    message = ambiguous("accounts", 7, "name", "acme", [f"A-{i}" for i in range(7, 0, -1)])
    assert message == "ambiguous: 7 accounts match name 'acme' (A-1, A-2, A-3, A-4, A-5, …)"
