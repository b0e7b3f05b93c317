"""rows/phones.py: E.164 for valid numbers, nothing guessed for the others."""

import pytest

from custimport.rows.phones import check_region, e164, normalise_phones


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("020 7946 0018", "GB", "+442079460018"),
        ("+49 30 901820", "GB", "+4930901820"),  # its own prefix wins over the region
        ("(212) 736-5000", "US", "+12127365000"),
        ("0049 30 901820", "DE", "+4930901820"),  # 00: the international prefix dialled in DE
        ("555-0100", "US", None),  # too short
        ("ext. 12 only", "GB", None),
        ("+", "GB", None),
        ("+1 650 253 0000 ext. 123", "US", None),  # an extension: E.164 would drop it
        ("020 7946 0018 x 55", "GB", None),
        ("020 7946 0018;ext=99", "GB", None),
        ("1-800-FLOWERS", "US", None),  # letters: a vanity number stays as written
    ],
)
def test_e164(value: str, region: str, expected: str | None) -> None:
    assert e164(value, region) == expected


def test_rows_are_rewritten_in_place_and_the_rest_counted() -> None:
    rows = [{"phone": "020 7946 0018"}, {"primary_contact_phone": "nope", "phone": None}, {}]
    assert normalise_phones(rows, "GB") == 1
    assert rows == [
        {"phone": "+442079460018"},
        {"primary_contact_phone": "nope", "phone": None},
        {},
    ]


def test_regions() -> None:
    assert check_region(" gb ") == "GB"
    with pytest.raises(ValueError, match="unknown phone region 'UK'"):
        check_region("UK")
