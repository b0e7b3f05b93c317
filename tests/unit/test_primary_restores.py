"""Which primary contacts undoing a merge would leave (rows/primary_restores.py), without a
database: accounts 1 (K, kept) and 2 (D, merged and inserted again by the undo)."""

from custimport.rows.primary_restores import (
    NONE_LEFT,
    AccountAfter,
    Clash,
    ContactRecord,
    primary_clashes,
)

K, D = AccountAfter("K", False, False), AccountAfter("D", True, True)


def moved(row_id: int, before: bool | None, after: bool | None) -> ContactRecord:
    """A contact the merge moved from D to K, its flag as recorded (None: not held)."""
    return ContactRecord(
        row_id,
        f"D / c{row_id}",
        "updated",
        {"account_id": 2, "is_primary": before},
        {"account_id": 1, "is_primary": after},
    )


def test_a_moved_contact_primary_now_beside_one_made_primary_again_is_a_second_primary() -> None:
    records = [moved(10, None, None), moved(11, True, False)]
    found = primary_clashes(records, {10: (1, True), 11: (1, False)}, {1: K, 2: D})
    reason = "it would be a second primary contact of D"
    assert found == [
        Clash("contact", 10, "D / c10", reason),
        Clash("contact", 11, "D / c11", reason),
    ]


def test_an_individual_account_brought_back_without_a_primary_is_named() -> None:
    found = primary_clashes([moved(10, None, None)], {10: (1, False)}, {1: K, 2: D})
    assert found == [Clash("account", 2, "D", NONE_LEFT)]


def test_a_faithful_undo_leaves_nothing_to_say() -> None:
    """10 moved as it was, 11 moved and demoted (K kept its primary 20): D gets 11 back."""
    records = [moved(10, False, False), moved(11, True, False)]
    now = {10: (1, False), 11: (1, False), 20: (1, True)}
    assert primary_clashes(records, now, {1: K, 2: D}) == []


def test_an_individual_account_that_had_no_primary_before_the_undo_is_not_named() -> None:
    """Not the undo's doing: K (INDIVIDUAL here) had none, D is not INDIVIDUAL."""
    kept, merged = AccountAfter("K", True, False), AccountAfter("D", False, True)
    assert primary_clashes([moved(10, False, False)], {10: (1, False)}, {1: kept, 2: merged}) == []


def test_a_contact_the_undo_deletes_is_no_primary_of_anything() -> None:
    created = ContactRecord(30, "K / c30", "created", None, {"account_id": 1, "is_primary": True})
    individual = AccountAfter("K", True, False)
    found = primary_clashes([created], {30: (1, True)}, {1: individual})
    assert found == [Clash("account", 1, "K", NONE_LEFT)]
