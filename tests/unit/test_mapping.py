"""Header normalisation and mapping files (SPEC §3)."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custimport.errors import MappingError, MissingColumnsError
from custimport.rows.mapping import (
    MappingFile,
    build_column_map,
    cell_positions,
    load_mapping_file,
    normalise,
    record_at,
    record_from,
    require_columns,
)
from custimport.rows.modes import Mode, required_columns
from custimport.schemas import ACCOUNT, CONTACT

FIELDS = ACCOUNT.fields


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Account Number", "account_number"),
        ("  account-number ", "account_number"),
        ("ACCOUNT.NUMBER", "account_number"),
        ("account__number", "account_number"),
        ("Primary Contact - First Name", "primary_contact_first_name"),
    ],
)
def test_normalises_case_space_dashes_and_dots(header: str, expected: str) -> None:
    assert normalise(header) == expected


def test_matches_headers_to_fields_and_lists_unknown_columns() -> None:
    column_map = build_column_map(["Account Number", "Name", "Colour"], FIELDS)
    assert column_map.columns_by_field == {"account_number": "Account Number", "name": "Name"}
    assert column_map.unknown_columns == ["Colour"]


def test_mapping_overrides_named_columns_and_others_still_match_by_name() -> None:
    mapping = {"Customer No.": "account_number", "Notes": None}
    column_map = build_column_map(["Customer No.", "Name", "Notes"], FIELDS, mapping)
    assert column_map.columns_by_field == {"account_number": "Customer No.", "name": "Name"}
    assert column_map.ignored_columns == ["Notes"]
    assert column_map.unknown_columns == []


def test_mapping_target_is_normalised_too() -> None:
    column_map = build_column_map(["Cust"], FIELDS, {"Cust": "Account Number"})
    assert column_map.columns_by_field == {"account_number": "Cust"}


@pytest.mark.parametrize("target", ["id", "customer_group_id", "created_at", "updated_at", "nope"])
def test_mapping_to_a_field_that_is_not_importable_is_a_usage_error(target: str) -> None:
    with pytest.raises(MappingError, match="not an importable field; valid fields: account_number"):
        build_column_map(["X"], FIELDS, {"X": target})


def test_two_columns_for_one_field_is_a_usage_error() -> None:
    with pytest.raises(MappingError, match="'Acct' and 'account_number' both map to the field"):
        build_column_map(["Acct", "account_number"], FIELDS, {"Acct": "account_number"})


def test_two_headers_normalising_to_one_field_is_a_usage_error() -> None:
    with pytest.raises(MappingError, match="both map to the field 'name'"):
        build_column_map(["Name", "NAME"], FIELDS)


def test_missing_required_columns_are_named_with_close_matches() -> None:
    column_map = build_column_map(["account_number", "nam", "customer_groups"], FIELDS)
    with pytest.raises(MissingColumnsError) as raised:
        require_columns(column_map, required_columns(ACCOUNT, Mode.CREATE_UPDATE), [])
    assert str(raised.value) == (
        "required columns missing: name, customer_group "
        "(did you mean 'nam' for name, 'customer_groups' for customer_group?)"
    )


def test_update_only_needs_only_the_key_columns() -> None:
    column_map = build_column_map(["account_number", "website"], FIELDS)
    require_columns(column_map, required_columns(ACCOUNT, Mode.UPDATE_ONLY), [])


def test_contact_update_only_accepts_email_or_name_as_key() -> None:
    by_email = build_column_map(["account", "email"], CONTACT.fields)
    require_columns(by_email, required_columns(CONTACT, Mode.UPDATE_ONLY), [])
    neither = build_column_map(["account", "phone"], CONTACT.fields)
    with pytest.raises(MissingColumnsError, match="email or first_name"):
        require_columns(neither, required_columns(CONTACT, Mode.UPDATE_ONLY), [])


def test_record_trims_values_and_turns_empty_cells_into_none() -> None:
    record = record_from(
        {"A": "  x  ", "B": "   ", "C": ""}, {"name": "A", "website": "B", "industry": "C"}
    )
    assert record == {"name": "x", "website": None, "industry": None}


@given(
    cells=st.lists(st.sampled_from(["", " ", " x ", "y", "\u00a0z"]), min_size=4, max_size=4),
    order=st.permutations(["A", "B", "C", "D"]),
    mapped=st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=4, unique=True),
)
def test_picking_cells_by_position_gives_the_same_record_as_by_column(
    cells: list[str], order: list[str], mapped: list[str]
) -> None:
    """The CSV path (cells in header order) and the dict path agree for any column order
    and any subset of mapped columns, fields in mapping order."""
    columns_by_field = {f"field_{column}": column for column in mapped}
    by_position = record_at(cells, cell_positions(order, columns_by_field))
    by_column = record_from(dict(zip(order, cells, strict=True)), columns_by_field)
    assert by_position == by_column
    assert list(by_position) == list(columns_by_field)


def test_loads_a_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"Company": "name", "Notes": None}), encoding="utf-8")
    loaded = load_mapping_file(path)
    assert loaded.columns == {"Company": "name", "Notes": None}
    assert (loaded.policies, loaded.defaults, loaded.empty_cells) == ({}, {}, None)
    assert not loaded.extended


def test_loads_the_extended_form(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    extended = {
        "columns": {"Customer No.": "account_number", "Internal Notes": None},
        "policies": {"website": "if_empty", "industry": "on_create"},
        "defaults": {"customer_group": "Retail", "description": 7, "name": True},
        "empty_cells": "keep",
    }
    path.write_text(json.dumps(extended), encoding="utf-8")
    loaded = load_mapping_file(path)
    assert loaded.columns == extended["columns"]
    assert loaded.policies == extended["policies"]
    # numbers and booleans are taken as a cell holding them would be
    assert loaded.defaults == {"customer_group": "Retail", "description": "7", "name": "true"}
    assert (loaded.empty_cells, loaded.extended) == ("keep", True)


def test_only_empty_cells_is_the_extended_form(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"empty_cells": "keep"}', encoding="utf-8")
    assert load_mapping_file(path) == MappingFile(empty_cells="keep", extended=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"columns": {}, "colums": {}}', "unknown key 'colums'; the extended form's keys are"),
        ('{"columns": ["a"], "policies": {}}', "'columns' must be a JSON object"),
        ('{"policies": {"website": 3}}', "policies['website'] is 3; it must be a policy name"),
        ('{"defaults": {"website": null}}', "defaults['website'] is null; it must be a text"),
        ('{"columns": {"A": 3}}', "each value must be a field name or null"),
        ('{"columns": {}, "empty_cells": false}', "'empty_cells' must be \"clear\" or"),
        ('{"empty_cells": "keep", "bogus": 1}', "unknown key 'bogus'"),
        ('{"defaults": {"industry": 1e3}}', "write it as text (in quotes)"),
        ('{"defaults": {"industry": 1e400}}', "write it as text (in quotes)"),
        ('{"defaults": {"industry": ' + "1" * 5000 + "}}", "more than 4,300 digits"),
    ],
)
def test_rejects_a_bad_extended_form(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MappingError, match=re.escape(message)):
        load_mapping_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ('["name"]', "must hold a JSON object"),
        ('{"A": 3}', "each value must be a field name or null"),
    ],
)
def test_rejects_a_bad_mapping_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MappingError, match=re.escape(message)):
        load_mapping_file(path)


def test_missing_mapping_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping_file(tmp_path / "absent.json")
