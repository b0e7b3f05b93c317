"""The merge plan's rules (rows/account_merge.py, rows/merge_rules.py), without a database."""

from typing import Any

from custimport.rows.account_merge import AccountMerge, plan_account_merge
from custimport.rows.merge_rules import matching_contacts, named_contacts, plan_contact_merge


def account(row_id: int, number: str, **values: Any) -> dict[str, Any]:
    row = {
        "id": row_id,
        "account_number": number,
        "name": f"Account {number}",
        "legal_name": None,
        "website": None,
        "industry": None,
        "description": None,
        "parent_account_id": None,
        "parent_number": None,
        "customer_group_id": 1,
        "group_name": "Enterprise",
        "group_type": "BUSINESS",
    }
    return row | values


def contact(row_id: int, first: str, email: str | None = None, **values: Any) -> dict[str, Any]:
    row = {
        "id": row_id,
        "first_name": first,
        "last_name": "Lee",
        "email": email,
        "phone": None,
        "job_title": None,
        "department": None,
        "is_primary": False,
    }
    return row | values


def plan(kept_contacts: list[dict[str, Any]], duplicate_contacts: list[dict[str, Any]]) -> Any:
    merge = AccountMerge(
        kept=account(1, "K", website="  "),
        duplicate=account(2, "D", website="d.example"),
        kept_ancestors=[],
        parent_chain=[],
        children=[],
        kept_contacts=kept_contacts,
        duplicate_contacts=duplicate_contacts,
    )
    return plan_account_merge(merge)


def test_a_blank_field_is_empty_and_takes_the_duplicates_value() -> None:
    assert plan([], []).accounts == {1: {"website": "d.example"}}


def test_the_duplicates_primary_merged_into_a_kept_contact_makes_that_one_primary() -> None:
    result = plan(
        [contact(10, "Ann", "ann@x.com")], [contact(20, "Ann", "ANN@x.com", is_primary=True)]
    )
    assert result.contacts == {10: {"is_primary": True}}
    assert result.deleted_contacts == [20]
    assert [c.kind for c in result.conflicts] == ["same_contact"]


def test_a_name_shared_by_two_kept_contacts_moves_the_contact_and_says_so() -> None:
    result = plan([contact(10, "Cy"), contact(11, "Cy")], [contact(20, "CY")])
    assert result.contacts == {20: {"account_id": 1}} and result.deleted_contacts == []
    assert [(c.kind, c.key) for c in result.conflicts] == [("ambiguous_name", "D/CY Lee")]


def test_a_contact_merge_keeps_the_kept_contacts_flag_and_values() -> None:
    kept = contact(10, "Ann", "ann@x.com", is_primary=True, phone="1")
    result = plan_contact_merge(
        kept, contact(11, "Ann", "a2@x.com", phone="2", job_title="CEO"), "K"
    )
    assert result.contacts == {10: {"job_title": "CEO"}} and result.conflicts == []
    assert [(d.field, d.kept, d.dropped) for d in result.dropped] == [
        ("email", "ann@x.com", "a2@x.com"),
        ("phone", "1", "2"),
    ]


def test_a_contact_key_prefers_the_email_then_contacts_without_one() -> None:
    with_email, without = contact(1, "Ann", "ann@x.com"), contact(2, "Ann")
    assert matching_contacts("ANN@x.com", [with_email, without]) == [with_email]
    assert matching_contacts("ann lee", [with_email, without]) == [without]
    assert matching_contacts("Ann Lee", [with_email]) == [with_email]


def test_a_duplicate_under_the_kept_account_leaves_its_parent_alone_quietly() -> None:
    merge = AccountMerge(
        kept=account(1, "K"),
        duplicate=account(2, "D", parent_account_id=1, parent_number="K"),
        kept_ancestors=[],
        parent_chain=[1],
        children=[account(3, "C")],
        kept_contacts=[],
        duplicate_contacts=[],
    )
    result = plan_account_merge(merge)
    assert result.accounts == {3: {"parent_account_id": 1}}
    assert result.conflicts == [] and result.moved_children == 1


def test_a_key_names_the_split_with_an_email_then_the_longest_account_number() -> None:
    """`A/B/x@y.example` with accounts A (contact b/x@…) and A/B (contact x@…)."""
    on_a, on_ab = contact(1, "Bea", "b/x@y.example"), contact(2, "Xa", "x@y.example")
    splits = [("A", "B/x@y.example", [on_a]), ("A/B", "x@y.example", [on_ab])]
    assert named_contacts(splits) == ("A/B", [on_ab])
    assert named_contacts(list(reversed(splits))) == ("A/B", [on_ab])
    assert named_contacts([("A", "b/x@y.example", [on_a]), ("A/b", "x@y.example", [])]) == (
        "A",
        [on_a],
    )
    assert named_contacts([("A", "nobody", [on_a])]) == ("", [])
