"""The import modes (rows/modes.py): the one table that says what a row does, no database.

Every handler takes its decisions from `decide`, so this table is what SPEC §2 and §4 say
of --mode: create_only skips a record that exists, update_only one that does not, and
create_update skips nothing. The skip reasons are the report's words.
"""

import pytest

from custimport.errors import UsageError
from custimport.rows.modes import (
    Decision,
    Mode,
    creates,
    decide,
    key_required,
    required_columns,
    updates,
)
from custimport.schemas import ACCOUNT, CONTACT, CUSTOMER_GROUP


@pytest.mark.parametrize(
    ("mode", "exists", "decision"),
    [
        (Mode.CREATE_ONLY, False, Decision.CREATE),
        (Mode.CREATE_ONLY, True, Decision.SKIP_EXISTING),
        (Mode.UPDATE_ONLY, False, Decision.SKIP_MISSING),
        (Mode.UPDATE_ONLY, True, Decision.UPDATE),
        (Mode.CREATE_UPDATE, False, Decision.CREATE),
        (Mode.CREATE_UPDATE, True, Decision.UPDATE),
    ],
)
def test_each_mode_decides_a_found_and_a_missing_record(
    mode: Mode, exists: bool, decision: Decision
) -> None:
    assert decide(mode, exists) is decision


def test_skips_carry_the_reasons_the_report_counts_and_writes_none() -> None:
    reasons = {decision: decision.skip_reason for decision in Decision}
    assert reasons == {
        Decision.SKIP_EXISTING: "already exists",
        Decision.SKIP_MISSING: "not found",
        Decision.CREATE: None,
        Decision.UPDATE: None,
    }


def test_which_modes_create_and_which_update() -> None:
    assert [m for m in Mode if creates(m)] == [Mode.CREATE_ONLY, Mode.CREATE_UPDATE]
    assert [m for m in Mode if updates(m)] == [Mode.UPDATE_ONLY, Mode.CREATE_UPDATE]


@pytest.mark.parametrize("text", ["create_only", "update_only", "create_update"])
def test_the_users_text_parses_into_the_mode_whose_value_it_is(text: str) -> None:
    mode = Mode.parse(text)
    assert mode.value == text
    assert f"{mode}" == text  # the summary and the JSON report show it as typed


def test_an_unknown_mode_names_every_mode_in_the_order_of_the_help() -> None:
    with pytest.raises(UsageError) as raised:
        Mode.parse("upsert")
    assert str(raised.value) == (
        "unknown mode 'upsert'; use one of create_only, update_only, create_update"
    )


def test_a_mode_in_another_case_is_not_parsed_here() -> None:
    """The command line lower-cases --mode first; the service takes the canonical text."""
    with pytest.raises(UsageError, match="unknown mode 'CREATE_ONLY'"):
        Mode.parse("CREATE_ONLY")


def test_a_row_without_its_key_names_the_mode_that_needs_it() -> None:
    assert key_required(Mode.UPDATE_ONLY) == "is required in update_only mode"


@pytest.mark.parametrize("mode", [Mode.CREATE_ONLY, Mode.CREATE_UPDATE])
def test_modes_that_create_need_the_columns_a_create_needs(mode: Mode) -> None:
    assert required_columns(ACCOUNT, mode) == (("name",), ("customer_group",))
    assert required_columns(CUSTOMER_GROUP, mode) == (("name",), ("group_type",))
    assert required_columns(CONTACT, mode) == (("account",), ("first_name",), ("last_name",))


def test_update_only_needs_only_the_columns_that_find_a_record() -> None:
    assert required_columns(ACCOUNT, Mode.UPDATE_ONLY) == (("account_number",),)
    assert required_columns(CUSTOMER_GROUP, Mode.UPDATE_ONLY) == (("name",),)
    assert required_columns(CONTACT, Mode.UPDATE_ONLY) == (("account",), ("email", "first_name"))
