"""Failure reasons grouped by kind (rows/reasons.py, SPEC §11): pure, no database."""

import pytest

from custimport.rows.reasons import MAX_KINDS, OTHER, FailureReasons, reason_of


@pytest.mark.parametrize(
    ("field_name", "message", "kind"),
    [
        (
            "customer_group",
            "unknown customer group 'Retail' (did you mean 'retail'?)",
            "customer_group: unknown customer group …",
        ),
        (
            "customer_group",
            "unknown customer group 'Foo'",
            "customer_group: unknown customer group …",
        ),
        (
            "customer_group",
            'unknown customer group "O\'Brien & Sons"',
            "customer_group: unknown customer group …",
        ),
        ("account_number", "duplicate of line 12", "account_number: duplicate of line N"),
        ("row", "expected 3 fields, found 11", "row: expected N fields, found N"),
        ("name", "must be at most 255 characters", "name: must be at most N characters"),
        (
            "website",
            "is not a valid website (a domain or URL without spaces)",
            "website: is not a valid website",
        ),
        (  # an apostrophe inside a word opens no quoted value
            "is_primary",
            "the account's contact is owned by the account row",
            "is_primary: the account's contact is owned by the account row",
        ),
        (  # digits inside a word (a codec's name) are not a number
            "row",
            "the character 'é', which this database cannot store (encoding LATIN1)",
            "row: the character …, which this database cannot store",
        ),
        ("row", "a parenthesis (with (one) inside) goes whole", "row: a parenthesis goes whole"),
    ],
)
def test_a_reason_is_the_field_and_the_message_without_its_values(
    field_name: str, message: str, kind: str
) -> None:
    assert reason_of(field_name, message) == kind


def test_a_very_long_message_makes_a_reason_of_bounded_length() -> None:
    reason = reason_of("row", "the database refused the row: " + "x" * 5000)
    assert len(reason) == 200 and reason.endswith("…")


def test_a_row_counts_once_for_each_distinct_reason_it_has() -> None:
    reasons = FailureReasons()
    reasons.add(7, [("name", "must not be empty"), ("website", "is not a valid website")])
    reasons.add(
        3,
        [
            ("customer_group", "unknown customer group 'A'"),
            ("customer_group", "unknown customer group 'B' (did you mean 'b'?)"),
        ],
    )
    reasons.add(4, [("name", "must not be empty")])
    assert [(r.reason, r.count, r.first_line) for r in reasons.top()] == [
        ("name: must not be empty", 2, 4),
        ("customer_group: unknown customer group …", 1, 3),
        ("website: is not a valid website", 1, 7),
    ]


def test_the_first_line_and_its_example_are_the_earliest_whatever_the_order_rows_fail() -> None:
    """Rows that waited for a parent later in the file fail after the lines below them."""
    reasons = FailureReasons()
    reasons.add(9, [("parent_account", "parent account 'P-9' not found")])
    reasons.add(4, [("parent_account", "parent account 'P-4' not found")])
    reasons.add(6, [("parent_account", "parent account 'P-6' not found")])
    [reason] = reasons.top()
    assert (reason.count, reason.first_line) == (3, 4)
    assert reason.example == "parent account 'P-4' not found"


def test_only_the_top_five_are_given_most_frequent_first_then_earliest() -> None:
    reasons = FailureReasons()
    for line, field_name in enumerate(["a", "b", "c", "d", "e", "f", "g"], start=2):
        reasons.add(line, [(field_name, "is wrong")])
    reasons.add(20, [("g", "is wrong")])
    assert [r.reason for r in reasons.top()] == [
        "g: is wrong",
        "a: is wrong",
        "b: is wrong",
        "c: is wrong",
        "d: is wrong",
    ]


def test_kinds_past_the_cap_share_one_bucket() -> None:
    """A message that holds values unquoted must not make one counter per row."""
    reasons = FailureReasons()
    for line in range(MAX_KINDS + 50):
        reasons.add(line + 2, [("row", f"refused: value{line}x")])
    assert len(reasons) == MAX_KINDS + 1
    [top] = reasons.top(1)
    assert (top.reason, top.count, top.first_line) == (OTHER, 50, MAX_KINDS + 2)
