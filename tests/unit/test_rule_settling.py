"""rows/change_rules.py: settling the rules, and what they make of one row (SPEC §9)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custimport.errors import MappingError
from custimport.rows.change_rules import EmptyCells, Policy, recorded_mapping, settle_rules
from custimport.rows.mapping import MappingFile
from custimport.rows.outcomes import RowFailure
from custimport.schemas import ACCOUNT, CONTACT, CUSTOMER_GROUP


def stored(values: dict[str, Any]) -> Any:
    return lambda name: values.get(name)


def test_options_override_the_mapping_files_entries_one_by_one() -> None:
    mapping = MappingFile(
        policies={"website": "on_create", "industry": "if_empty"},
        defaults={"customer_group": "Retail"},
        empty_cells="keep",
        extended=True,
    )
    rules = settle_rules(
        ACCOUNT, mapping, ["Website=OVERWRITE"], ["customer_group=Partners"], "clear"
    )
    assert rules.policies == {"website": Policy.OVERWRITE, "industry": Policy.IF_EMPTY}
    assert rules.defaults == {"customer_group": "Partners"}
    assert rules.empty_cells is EmptyCells.CLEAR
    assert recorded_mapping(mapping, rules) == {
        "columns": {},
        "policies": {"website": "overwrite", "industry": "if_empty"},
        "defaults": {"customer_group": "Partners"},
        "empty_cells": "clear",
    }


def test_no_rules_record_the_flat_mapping_as_before() -> None:
    mapping = MappingFile(columns={"Cust": "account_number"})
    assert recorded_mapping(mapping, settle_rules(ACCOUNT, mapping)) == {"Cust": "account_number"}
    assert recorded_mapping(None, settle_rules(ACCOUNT, None)) is None
    assert not settle_rules(ACCOUNT, None, ["website=overwrite"]).active


def test_defaults_are_validated_and_normalised_like_cells() -> None:
    rules = settle_rules(
        CONTACT, None, defaults=["phone= 555 ", "department=Sales"], empty_cells="KEEP"
    )
    assert rules.defaults == {"phone": "555", "department": "Sales"}
    group_rules = settle_rules(CUSTOMER_GROUP, None, defaults=["group_type=business"])
    assert group_rules.defaults == {"group_type": "BUSINESS"}
    with pytest.raises(MappingError, match="must be INDIVIDUAL or BUSINESS"):
        settle_rules(CUSTOMER_GROUP, None, defaults=["group_type=person"])


def test_an_update_under_clear_fills_empty_cells_with_defaults_then_applies_policies() -> None:
    rules = settle_rules(
        ACCOUNT,
        None,
        ["website=if_empty", "industry=on_create", "legal_name=if_empty"],
        ["description=n/a"],
    )
    data = {"account_number": "A", "website": "w", "industry": "i", "description": None}
    data["legal_name"] = "L"
    out = rules.for_update(data, stored({"website": "", "legal_name": "kept"}))
    assert out == {"account_number": "A", "website": "w", "description": "n/a"}
    assert data["description"] is None  # the row's own data is left as it was


def test_an_update_under_keep_drops_empty_cells_even_with_a_default() -> None:
    rules = settle_rules(ACCOUNT, None, defaults=["industry=Other"], empty_cells="keep")
    data = {"account_number": "A", "name": None, "industry": None, "website": "w"}
    assert rules.for_update(data, stored({})) == {"account_number": "A", "website": "w"}


def test_a_create_gets_defaults_and_keep_still_requires_its_fields() -> None:
    rules = settle_rules(ACCOUNT, None, defaults=["customer_group=Retail"], empty_cells="keep")
    rules = rules.for_columns(frozenset({"account_number", "name"}))
    assert rules.no_column == {"customer_group"}
    assert rules.for_create({"account_number": "A", "name": "N"}) == {
        "account_number": "A",
        "name": "N",
        "customer_group": "Retail",
    }
    with pytest.raises(RowFailure) as failure:
        rules.for_create({"account_number": "A", "name": None})
    assert (failure.value.field_name, failure.value.message) == ("name", "must not be empty")


def test_validation_lets_through_only_what_a_rule_takes_care_of() -> None:
    assert settle_rules(ACCOUNT, None).may_be_empty == frozenset()
    assert settle_rules(ACCOUNT, None, defaults=["name=N"]).may_be_empty == {"name"}
    assert settle_rules(ACCOUNT, None, empty_cells="keep").may_be_empty == {
        "name",
        "customer_group",
    }
    # a contact's account and a group's name find the record: never empty
    assert settle_rules(CONTACT, None, empty_cells="keep").may_be_empty == {
        "first_name",
        "last_name",
    }
    assert settle_rules(CUSTOMER_GROUP, None, empty_cells="keep").may_be_empty == {"group_type"}


def test_a_default_stands_in_for_a_required_column() -> None:
    rules = settle_rules(ACCOUNT, None, defaults=["customer_group=Retail"])
    assert rules.still_required([("name",), ("customer_group",)]) == (("name",),)


values = st.one_of(st.none(), st.sampled_from(["", "x", "y"]))


@given(
    data=st.dictionaries(st.sampled_from(["name", "website", "industry"]), values),
    current=st.dictionaries(st.sampled_from(["name", "website", "industry"]), values),
    policies=st.dictionaries(
        st.sampled_from(["name", "website", "industry"]), st.sampled_from(list(Policy))
    ),
    keep=st.booleans(),
)
def test_an_update_only_ever_narrows_the_row_or_fills_defaults(
    data: dict[str, Any], current: dict[str, Any], policies: dict[str, Policy], keep: bool
) -> None:
    rules = settle_rules(
        ACCOUNT,
        None,
        [f"{name}={policy}" for name, policy in policies.items()],
        empty_cells="keep" if keep else "clear",
    )
    out = rules.for_update(data, stored(current))
    assert out.keys() <= data.keys()
    assert all(out[name] == data[name] for name in out)  # no default given: values as read
    for name, policy in policies.items():
        if name in out:
            assert policy is Policy.OVERWRITE or current.get(name) in (None, "")
            assert policy is not Policy.ON_CREATE
    if keep:
        assert None not in out.values()
