"""Keys seen earlier in a file, kept in a temporary SQLite database."""

from custimport.run.seen_keys import SeenKeys


def test_first_rows_of_a_key_are_remembered_and_later_ones_point_back() -> None:
    seen = SeenKeys()
    assert seen.first_lines([("A", 2), ("B", 3)]) == {}
    assert seen.first_lines([("B", 10), ("C", 11), ("A", 12)]) == {10: 3, 12: 2}
    seen.close()


def test_a_key_twice_in_one_batch_points_at_its_first_line() -> None:
    seen = SeenKeys()
    assert seen.first_lines([("X", 5), ("Y", 6), ("X", 9), ("X", 12)]) == {9: 5, 12: 5}
    seen.close()


def test_tuple_keys_are_distinct_from_each_other_and_exact() -> None:
    seen = SeenKeys()
    keyed = [(("A-1", "ann@x.com"), 2), (("A-1", "ann", "lee"), 3), (("A-1", "ann@x.com"), 4)]
    assert seen.first_lines(keyed) == {4: 2}
    assert seen.first_lines([(("A-1", "ann", "lee"), 7), (("A-2", "ann", "lee"), 8)]) == {7: 3}
    seen.close()


def test_keys_with_separator_like_characters_do_not_collide() -> None:
    seen = SeenKeys()
    keyed = [(("a\x1fb", "c"), 2), (("a", "b\x1fc"), 3), (("a', 'b", "c"), 4)]
    assert seen.first_lines(keyed) == {}
    seen.close()


def test_many_keys_across_lookup_chunks() -> None:
    seen = SeenKeys()
    first = [(f"K{i}", i) for i in range(5000)]
    assert seen.first_lines(first) == {}
    again = [(f"K{i}", 10_000 + i) for i in range(0, 5000, 7)]
    assert seen.first_lines(again) == {10_000 + i: i for i in range(0, 5000, 7)}
    seen.close()


def test_keys_whose_hashes_collide_are_still_told_apart_exactly() -> None:
    """Keys are looked up by hash; a hash taken by another key must not make a duplicate."""
    seen = SeenKeys(hash_of=len)  # every key of the same length collides
    assert seen.first_lines([("AB", 2), ("CD", 3), ("EFG", 4)]) == {}
    assert seen.first_lines([("CD", 5), ("XY", 6), ("AB", 7), ("XY", 8)]) == {5: 3, 7: 2, 8: 6}
    assert seen.first_lines([("XY", 9), ("EFG", 10), ("HIJ", 11)]) == {9: 6, 10: 4}
    seen.close()


def test_many_colliding_keys_across_lookup_chunks() -> None:
    seen = SeenKeys(hash_of=lambda text: len(text) % 7)
    first = [(f"K{i}", i) for i in range(3000)]
    assert seen.first_lines(first) == {}
    again = [(f"K{i}", 10_000 + i) for i in range(0, 3000, 11)]
    assert seen.first_lines(again) == {10_000 + i: i for i in range(0, 3000, 11)}
    seen.close()
