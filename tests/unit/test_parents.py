"""Cycle detection over parent links (SPEC §4)."""

from collections.abc import Hashable

from custimport.rows.cycles import leads_back


def walker(links: dict[Hashable, Hashable | None]):  # type: ignore[no-untyped-def]
    return lambda node: links.get(node)


def test_no_parent_makes_no_cycle() -> None:
    assert not leads_back("A", None, walker({}))


def test_a_chain_to_a_root_makes_no_cycle() -> None:
    assert not leads_back("A", "B", walker({"B": "C", "C": None}))


def test_self_reference_is_a_cycle() -> None:
    assert leads_back("A", "A", walker({}))


def test_two_accounts_pointing_at_each_other_are_a_cycle() -> None:
    links = {"A": "B", "B": "A"}
    assert leads_back("A", links["A"], walker(links))
    assert leads_back("B", links["B"], walker(links))


def test_a_cycle_of_ten_is_found_from_every_member() -> None:
    links: dict[Hashable, Hashable | None] = {f"N{i}": f"N{(i + 1) % 10}" for i in range(10)}
    assert all(leads_back(node, parent, walker(links)) for node, parent in links.items())


def test_hanging_off_a_cycle_is_not_a_cycle_of_ones_own() -> None:
    links = {"X": "A", "A": "B", "B": "A"}
    assert not leads_back("X", "A", walker(links))


def test_mixed_ids_and_numbers_are_walked_alike() -> None:
    links: dict[Hashable, Hashable | None] = {"NEW-1": 7, 7: 9, 9: "NEW-1"}
    assert leads_back("NEW-1", 7, walker(links))
