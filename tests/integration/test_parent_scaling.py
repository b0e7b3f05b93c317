"""Parent links: cycles and orders found in one pass, whatever the links' shape (SPEC §4, §12.4).

Linear is checked by counting work, never by timing it: the calls of `parent_of`, or
the lines our code executes (sys.settrace) for N and 4N rows. Quadratic work grows 16x
from N to 4N, linear 4x; the walk from every account that these replaced took 87 s for
a cycle of 20,000 accounts.
"""

import sys
from collections.abc import Callable, Hashable
from types import FrameType, ModuleType
from typing import Any

import pytest
from sqlalchemy import create_engine

from custimport.rows import account_links as account_parents
from custimport.rows import cycles as parents
from custimport.rows.account_links import AccountBatch, AccountWrite, ParentLinks
from custimport.rows.contract import Plan
from custimport.rows.cycles import cycle_members, order_waiting
from custimport.rows.outcomes import Outcome, PendingRow
from custimport.run.spill import SpilledRows
from custimport.run.waiting_rows import WaitingRows, WaitingSpill

# --- counting work ----------------------------------------------------------------------


def steps(action: Callable[[], object], *modules: ModuleType) -> int:
    """Lines executed inside `modules` while `action` runs."""
    files = {module.__file__ for module in modules}
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename in files else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        action()
    finally:
        sys.settrace(previous)
    return count


def assert_linear(work: Callable[[int], int], n: int = 1000) -> None:
    small, large = work(n), work(4 * n)
    assert large <= 4.5 * small, f"{small} steps for {n}, {large} for {4 * n}: not linear"


class Walker:
    """parent_of over a dict of links, counting how often it is asked."""

    def __init__(self, links: dict[Hashable, Hashable | None]) -> None:
        self.links = links
        self.calls = 0

    def __call__(self, node: Hashable) -> Hashable | None:
        self.calls += 1
        return self.links.get(node)


def cycle(prefix: str, length: int) -> dict[Hashable, Hashable | None]:
    return {f"{prefix}{i}": f"{prefix}{(i + 1) % length}" for i in range(length)}


def chain(prefix: str, length: int) -> dict[Hashable, Hashable | None]:
    return {f"{prefix}{i}": f"{prefix}{i + 1}" if i < length - 1 else None for i in range(length)}


# --- cycle_members ------------------------------------------------------------------------


def test_no_links_make_no_cycle() -> None:
    assert cycle_members([], Walker({})) == set()
    assert cycle_members(["A"], Walker({"A": None})) == set()


def test_a_self_reference_is_a_cycle_of_one() -> None:
    assert cycle_members(["A"], Walker({"A": "A"})) == {"A"}


def test_a_chain_to_a_root_holds_no_cycle() -> None:
    links = chain("N", 50)
    assert cycle_members(links, Walker(links)) == set()


def test_every_member_of_a_cycle_is_found_and_only_them() -> None:
    links = cycle("C", 10)
    assert cycle_members(links, Walker(links)) == set(links)


def test_several_disjoint_cycles_are_all_found() -> None:
    links = {**cycle("A", 1), **cycle("B", 2), **cycle("C", 7), **chain("N", 5)}
    assert cycle_members(links, Walker(links)) == {*cycle("A", 1), *cycle("B", 2), *cycle("C", 7)}


def test_a_chain_hanging_off_a_cycle_is_not_on_it() -> None:
    links = {**cycle("C", 3), "H0": "C1", "H1": "H0", "H2": "H1"}
    # walked from the hanging end first, and from the cycle first: the same answer
    assert cycle_members(["H2", *links], Walker(links)) == set(cycle("C", 3))
    assert cycle_members([*cycle("C", 3), "H2"], Walker(links)) == set(cycle("C", 3))


def test_accounts_in_the_database_and_in_the_file_are_walked_alike() -> None:
    links: dict[Hashable, Hashable | None] = {"NEW-1": 7, 7: 9, 9: "NEW-1", "NEW-2": 9}
    assert cycle_members(["NEW-1", "NEW-2"], Walker(links)) == {"NEW-1", 7, 9}


@pytest.mark.parametrize(
    "shape",
    [
        cycle("C", 20_000),
        chain("N", 20_000),
        {**chain("N", 10_000), "N9999": "N0"},  # a chain that ends in a cycle of all of it
        {f"L{i}": "ROOT" for i in range(20_000)},  # a star: many walks meet at once
    ],
    ids=["cycle", "chain", "rho", "star"],
)
def test_each_account_is_stepped_from_once_whatever_the_shape(
    shape: dict[Hashable, Hashable | None],
) -> None:
    walker = Walker(shape)
    cycle_members(shape, walker)
    assert walker.calls <= len(shape) + 1  # the star's root is asked once, too


# --- order_waiting: the rows that waited for a later parent -----------------------------------


def order(rows: dict[str, str | None]) -> tuple[list[str], list[str], list[str]]:
    keys = list(rows)
    found = order_waiting(keys, list(rows.values()))
    return (
        [keys[i] for i in found.cycles],
        [keys[i] for i in found.hanging],
        [keys[i] for i in found.ready],
    )


def test_a_forward_chain_is_ordered_from_its_root_down() -> None:
    rows: dict[str, str | None] = {f"N{i}": f"N{i + 1}" for i in range(5)}  # N5 is elsewhere
    assert order(rows) == ([], [], ["N4", "N3", "N2", "N1", "N0"])


def test_every_row_comes_after_the_waiting_row_it_needs() -> None:
    rows: dict[str, str | None] = {"A": "B", "B": "OLD", "C": "A", "D": "B", "E": "C", "F": None}
    _, _, ready = order(rows)
    assert sorted(ready) == sorted(rows)
    for child, parent in rows.items():
        if parent in rows:
            assert ready.index(parent) < ready.index(child)


def test_a_cycle_of_waiting_rows_and_the_rows_hanging_off_it_are_set_apart() -> None:
    rows: dict[str, str | None] = {
        "H1": "C2",
        "C1": "C2",
        "H2": "H1",
        "OK1": "OK2",
        "C2": "C3",
        "C3": "C1",
        "OK2": "GONE",
        "S": "S",
    }
    cycles, hanging, ready = order(rows)
    assert cycles == ["C1", "C2", "C3", "S"]  # in file order
    assert hanging == ["H1", "H2"]  # each after its parent
    assert ready == ["OK2", "OK1"]


def test_rows_without_a_key_wait_on_others_but_no_row_waits_on_them() -> None:
    found = order_waiting([None, "P", None], ["P", "Q", None])
    assert (found.cycles, list(found.hanging), list(found.ready)) == ([], [], [1, 2, 0])


@pytest.mark.parametrize("shape", ["cycle", "forward chain", "backward chain", "comb"])
def test_ordering_waiting_rows_is_linear(shape: str) -> None:
    def links(n: int) -> tuple[list[str], list[str | None]]:
        keys = [f"N{i}" for i in range(n)]
        if shape == "cycle":
            return keys, [f"N{(i + 1) % n}" for i in range(n)]
        if shape == "forward chain":
            return keys, [f"N{i + 1}" for i in range(n)]
        if shape == "backward chain":
            return keys, [f"N{i - 1}" if i else "OLD" for i in range(n)]
        return keys, [f"N{i + 2}" if i % 2 == 0 else f"N{i - 1}" for i in range(n)]

    def work(n: int) -> int:
        keys, parents_of = links(n)
        return steps(lambda: order_waiting(keys, parents_of), parents)

    assert_linear(work)


# --- ParentLinks: a batch's rows ------------------------------------------------------------


def account_batch(links: dict[str, str | None]) -> tuple[AccountBatch, Plan[AccountWrite]]:
    """New accounts, one per link, as planning leaves them before parents are linked."""
    batch = AccountBatch(existing={}, parents={}, now="2024-01-01 00:00:00")
    for line, (number, parent) in enumerate(links.items(), start=2):
        data = {"account_number": number, "parent_account": parent}
        row = PendingRow(line, data, [number, parent or ""])
        columns = {"account_number": number, "parent_account_id": None, "updated_at": batch.now}
        batch.writes[number] = AccountWrite(row, Outcome.CREATED, number=number, columns=columns)
        if parent is not None:
            batch.parent_numbers[number] = parent
    return batch, Plan()


def settle(links: dict[str, str | None], final: bool = False) -> tuple[AccountBatch, Plan[Any]]:
    batch, plan = account_batch(links)
    parent_links = ParentLinks(has_parent_column=True)
    with create_engine("sqlite://").connect() as conn:  # new accounts only: never asked
        parent_links.link_in_batch(batch, plan, final)
        parent_links.fail_cycles(conn, batch, plan)
    return batch, plan


def test_a_cycle_inside_a_batch_fails_each_row_and_the_rows_hanging_off_it() -> None:
    links: dict[str, str | None] = {f"C{i}": f"C{(i + 1) % 4}" for i in range(4)}
    batch, plan = settle({**links, "H0": "C2", "H1": "H0", "OK": None})
    messages = {f.line_no: f.errors[0][1] for f in plan.failures}
    assert list(batch.writes) == ["OK"]
    assert messages == {
        2: "parent account 'C1' would make a cycle of parent accounts",
        3: "parent account 'C2' would make a cycle of parent accounts",
        4: "parent account 'C3' would make a cycle of parent accounts",
        5: "parent account 'C0' would make a cycle of parent accounts",
        6: "parent account 'C2' was not imported (its row at line 4 failed)",
        7: "parent account 'H0' was not imported (its row at line 6 failed)",
    }


def test_rows_waiting_on_a_later_parent_take_the_rows_waiting_on_them_along() -> None:
    batch, plan = settle({"A": "B", "B": "LATER", "C": "A", "D": None, "E": "D"})
    assert [row.data["account_number"] for row in plan.deferred] == ["B", "A", "C"]
    assert list(batch.writes) == ["D", "E"] and not plan.failures


def test_at_the_end_of_the_file_they_fail_instead_naming_the_missing_parent() -> None:
    _, plan = settle({"A": "B", "B": "NOPE", "C": "A"}, final=True)
    assert [f.errors[0][1] for f in plan.failures] == [
        "parent account 'NOPE' not found",
        "parent account 'B' was not imported (its row at line 3 failed)",
        "parent account 'A' was not imported (its row at line 2 failed)",
    ]


def test_parents_a_batch_creates_are_written_before_their_children() -> None:
    batch, _ = settle({"C": "P", "B": None, "P": "G", "G": None})
    order_of = list(batch.writes)
    assert order_of.index("G") < order_of.index("P") < order_of.index("C")


@pytest.mark.parametrize("shape", ["cycle", "chain leaving the batch", "chain ending in it"])
def test_settling_a_batch_is_linear_in_its_rows(shape: str) -> None:
    def links(n: int) -> dict[str, str | None]:
        if shape == "cycle":
            return {f"N{i}": f"N{(i + 1) % n}" for i in range(n)}
        last = "LATER" if shape == "chain leaving the batch" else None
        return {f"N{i}": f"N{i + 1}" if i < n - 1 else last for i in range(n)}

    def work(n: int) -> int:
        return steps(lambda: settle(links(n)), account_parents, parents)

    assert_linear(work)


# --- the waiting rows' batches --------------------------------------------------------------


class Accounts:
    """The two things waiting rows need from a handler, as ParentLinks gives them."""

    def __init__(self) -> None:
        self.parent_links = ParentLinks(has_parent_column=True)

    def link_of(self, data: dict[str, Any]) -> tuple[str | None, str | None]:
        return self.parent_links.link_of(data)

    def fail_waiting(self, row: PendingRow, on_cycle: bool) -> Any:
        return self.parent_links.fail_waiting(row, on_cycle)


def waiting_rows(links: dict[str, str | None]) -> list[PendingRow]:
    return [
        PendingRow(line, {"account_number": n, "parent_account": p}, [n, p or ""])
        for line, (n, p) in enumerate(links.items(), start=2)
    ]


def test_waiting_rows_come_back_failures_first_then_parents_first_in_batches() -> None:
    handler = Accounts()
    spill = WaitingSpill(handler)
    spill.extend(waiting_rows({"H": "C1", "C1": "C2", "A": "B", "C2": "C1", "B": "OLD"}))
    settle_rows = WaitingRows(handler, 2)
    batches = [
        ([r.data["account_number"] for r in rows], [f.line_no for f in failed])
        for rows, failed in settle_rows.batches(spill, lambda: False)
    ]
    assert batches == [([], [3, 5]), ([], [2]), (["B", "A"], [])]
    assert settle_rows.left == 0
    spill.close()


def test_rows_spilled_in_order_only_are_settled_the_same_way() -> None:
    handler = Accounts()
    spill = SpilledRows()
    spill.extend(waiting_rows({"H": "C1", "C1": "C2", "A": "B", "C2": "C1", "B": "OLD"}))
    batches = [
        ([r.data["account_number"] for r in rows], [f.line_no for f in failed])
        for rows, failed in WaitingRows(handler, 2).batches(spill, lambda: False)
    ]
    assert batches == [([], [3, 5]), ([], [2]), (["B", "A"], [])]
    spill.close()


def test_a_stop_while_rows_spilled_in_order_are_read_hands_out_nothing() -> None:
    spill = SpilledRows()
    spill.extend(waiting_rows({f"N{i}": f"N{i + 1}" for i in range(10)}))
    settle_rows = WaitingRows(Accounts(), 3)
    assert list(settle_rows.batches(spill, lambda: True)) == []
    assert settle_rows.left == 10
    spill.close()


def test_a_stop_between_batches_leaves_the_rows_not_handed_out_counted_as_left() -> None:
    handler = Accounts()
    spill = WaitingSpill(handler)
    spill.extend(waiting_rows({f"N{i}": f"N{i + 1}" for i in range(10)}))
    settle_rows = WaitingRows(handler, 3)
    batches = settle_rows.batches(spill, lambda: False)
    next(batches)
    assert settle_rows.left == 7  # handed out one batch; the caller stops here
    batches.close()
    spill.close()


def test_a_waiting_spill_forgets_what_came_after_a_mark_and_reads_any_position() -> None:
    spill = WaitingSpill(Accounts())
    spill.extend(waiting_rows({"A": "B", "B": None}))
    mark = spill.mark()
    spill.extend(waiting_rows({"X": "Y"}))
    spill.truncate(mark)
    spill.extend(waiting_rows({"C": "A", "D": "C"}))
    assert (spill.keys, spill.parents) == (["A", "B", "C", "D"], ["B", None, "A", "C"])
    assert [r.data["account_number"] for r in spill.read([3, 0, 2])] == ["D", "A", "C"]
    assert [[r.line_no for r in rows] for rows in spill.chunks(3)] == [[2, 3, 2], [3]]
    spill.close()
