"""Primary claims held to the end of a Contact file, and rows' cells packed for the pipe."""

import pickle
from pathlib import Path

from custimport.handle_contacts import ContactHandler
from custimport.prepare import PreparedBatch, Preparer, PreparerSettings, source_options
from custimport.primary_claims import SUPERSEDED, HeldClaims, LastClaims
from custimport.readers import open_source
from custimport.rows import PendingRow
from custimport.schemas import model_spec


def claim(line: int, account: str) -> PendingRow:
    return PendingRow(line, {"account": account, "is_primary": True}, [account, str(line)])


def test_the_last_claim_of_each_account_wins() -> None:
    claims = LastClaims()
    claims.record([("A-1", 2), ("B-1", 3)])
    claims.record([("A-1", 7), ("C-1", 8)])
    claims.done_recording()
    assert claims.winners([2, 3, 7, 8]) == {3, 7, 8}
    assert claims.winners([2]) == set()
    claims.close()


def test_held_claims_come_back_in_file_order_in_chunks_with_losers_marked() -> None:
    held = HeldClaims()
    held.hold([claim(2, "A"), claim(3, "B"), claim(5, "A")])
    held.hold([])
    held.hold([claim(9, "C"), claim(11, "B")])
    chunks = list(held.released(2))
    held.close()
    assert [[row.line_no for row in chunk] for chunk in chunks] == [[2, 3], [5, 9], [11]]
    superseded = {row.line_no for chunk in chunks for row in chunk if row.data.get(SUPERSEDED)}
    assert superseded == {2, 3}
    assert chunks[0][0].cells == ["A", "2"]


def test_nothing_held_releases_nothing() -> None:
    held = HeldClaims()
    assert list(held.released(10)) == []
    held.close()


def test_cells_travel_joined_and_come_back_the_same() -> None:
    for cells in (["a", "", "c"], ["only"], ["", ""], [], ["bad\x00cell", "x"]):
        row = PendingRow(7, {"x": 1}, cells)
        line, data, packed = pickle.loads(pickle.dumps(row.packed()))
        assert PendingRow(line, data, packed).cells == cells
        assert (line, data) == (7, {"x": 1})


def prepared(tmp_path: Path, max_failures: int | None) -> list[PreparedBatch]:
    """A Contact file's batches as the preparer hands them to the writer (batches of 2)."""
    path = tmp_path / "contacts.csv"
    lines = [
        "account,first_name,last_name,email,is_primary",
        "A-1,One,Lee,one@x.com,yes",
        "A-1,Two,Lee,two@x.com,no",
        "A-2,Three,Lee,three@x.com,1",
        "A-1,Four,Lee,four@x.com,true",
        "A-2,Five,Lee,five@x.com,",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = model_spec("Contact")
    assert spec is not None
    columns = {name: name for name in lines[0].split(",")}
    with open_source(path) as source:
        options = source_options(source.info, None)
        settings = PreparerSettings(spec, columns, ContactHandler.key_of, 2, max_failures, options)
        preparer = Preparer(settings)
        try:
            return list(preparer.batches(source, lambda: False, lambda: 0))
        finally:
            preparer.close()


def lines_and_claims(batches: list[PreparedBatch]) -> list[list[tuple[int, str]]]:
    def state(row: PendingRow) -> str:
        if not row.data.get("is_primary"):
            return "-"
        return "superseded" if row.data.get(SUPERSEDED) else "wins"

    return [[(row.line_no, state(row)) for row in batch.rows] for batch in batches]


def test_the_preparer_hands_out_claims_after_every_other_row(tmp_path: Path) -> None:
    batches = prepared(tmp_path, max_failures=None)
    assert lines_and_claims(batches) == [
        [(3, "-")],
        [],
        [(6, "-")],
        [(2, "superseded"), (4, "wins")],
        [(5, "wins")],
    ]
    assert [batch.rows_read for batch in batches] == [2, 4, 5, 5, 5]


def test_under_max_errors_claims_stay_in_place_decided_by_a_first_pass(tmp_path: Path) -> None:
    batches = prepared(tmp_path, max_failures=10)
    assert lines_and_claims(batches) == [
        [(2, "superseded"), (3, "-")],
        [(4, "wins"), (5, "wins")],
        [(6, "-")],
    ]
