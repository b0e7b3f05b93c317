"""rows/near_keys.py: which keys a spreadsheet probably damaged (SPEC §10)."""

import pytest

from custimport.rows.near_keys import (
    damaged_key_message,
    looks_scientific,
    near_hint,
    scientific_range,
    unpadded,
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [("00123", "123"), ("123", "123"), ("000", ""), ("0", ""), ("ACME-001", None), ("١٢٣", None)],
)
def test_unpadded(number: str, expected: str | None) -> None:
    assert unpadded(number) == expected


@pytest.mark.parametrize(
    ("number", "scientific"),
    [
        ("1.23457E+17", True),
        ("1,23457E+17", True),  # a decimal comma
        ("9E11", True),
        ("1.5e+11", True),
        ("1E5", False),  # spreadsheets show 12 digits or more so: 1E5 is an ordinary key
        ("1.2E+10", False),
        ("AC1E+17", False),
        ("1.23457E-17", False),
        ("1.23457E+017", True),  # a zero-padded exponent
        ("1E+100", True),
        ("1E+99999999", True),  # refused; nothing stored is that long
    ],
)
def test_scientific_notation(number: str, scientific: bool) -> None:
    assert looks_scientific(number) is scientific


def test_a_scientific_key_stands_for_the_numbers_it_rounds() -> None:
    assert scientific_range("1.23457E+17") == [("123456500000000000", "123457499999999999")]
    # 1E+11 rounds 50,000,000,000 to 149,999,999,999: two lengths, two ranges
    assert scientific_range("1E+11") == [
        ("50000000000", "99999999999"),
        ("100000000000", "149999999999"),
    ]
    assert scientific_range("ACME") == []


def test_messages_name_at_most_five_keys() -> None:
    keys = [f"0{'0' * n}123" for n in range(7)]
    message = damaged_key_message("123", keys)
    assert "'00000123', '0000123'" in message and "and 2 more" in message
    assert "--allow-new-keys" in message
    assert near_hint([]) == ""
    assert (
        near_hint(["00123"]) == " (did you mean '00123'? a spreadsheet may have changed the number)"
    )
