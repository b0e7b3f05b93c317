"""Primary claims held to the end of a Contact file, and rows' cells packed for the pipe."""

import json
import pickle
from pathlib import Path

import pytest

from custimport.io.formats import open_source
from custimport.rows.keys import SUPERSEDED, contact_row_key
from custimport.rows.outcomes import PendingRow
from custimport.run.prepare import PreparedBatch, Preparer, PreparerSettings, source_options
from custimport.run.primary_claims import ContestedAccounts, HeldClaims, LastClaims
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


ROWS = [
    ("A-1", "One", "one@x.com", "yes"),
    ("A-1", "Two", "two@x.com", "no"),
    ("A-2", "Three", "three@x.com", "1"),
    ("A-1", "Four", "four@x.com", "true"),
    ("A-2", "Five", "five@x.com", ""),
]
FIELDS = ("account", "first_name", "email", "is_primary")


def prepared(tmp_path: Path, max_failures: int | None, fmt: str = "csv") -> list[PreparedBatch]:
    """A Contact file's batches as the preparer hands them to the writer (batches of 2).

    CSV's first row is line 2 (after the header), JSON Lines' is line 1."""
    path = tmp_path / f"contacts.{fmt}"
    if fmt == "csv":
        lines = [",".join(FIELDS), *(",".join(row) for row in ROWS)]
    else:
        lines = [json.dumps(dict(zip(FIELDS, row, strict=True))) for row in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = model_spec("Contact")
    assert spec is not None
    columns = {name: name for name in FIELDS}
    with open_source(path) as source:
        options = source_options(source.info, None)
        settings = PreparerSettings(spec, columns, contact_row_key, 2, max_failures, options)
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


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_claims_of_an_account_claimed_once_are_decided_at_once_the_others_wait(
    tmp_path: Path, fmt: str
) -> None:
    """A-2 is claimed once (the scan of two columns knows): its claim goes in place. A-1 is
    claimed twice: both claims come after every other row, the first superseded."""
    first = 2 if fmt == "csv" else 1
    batches = prepared(tmp_path, max_failures=None, fmt=fmt)
    assert lines_and_claims(batches) == [
        [(first + 1, "-")],
        [(first + 2, "wins")],
        [(first + 4, "-")],
        [(first, "superseded"), (first + 3, "wins")],
    ]
    assert [batch.rows_read for batch in batches] == [2, 4, 5, 5]


def test_under_max_errors_claims_stay_in_place_decided_by_a_first_pass(tmp_path: Path) -> None:
    batches = prepared(tmp_path, max_failures=10)
    assert lines_and_claims(batches) == [
        [(2, "superseded"), (3, "-")],
        [(4, "wins"), (5, "wins")],
        [(6, "-")],
    ]


def test_the_scan_counts_claiming_rows_per_account_from_raw_text(tmp_path: Path) -> None:
    """Raw text, like the validator reads it: trimmed, any case of true/yes/1. A claim on a
    row that will fail validation still counts (more waiting, never a wrong winner)."""
    path = tmp_path / "contacts.csv"
    path.write_text(
        "account,first_name,note,is_primary\n"
        " A-1 ,One,,YES\n"
        'A-1,"Two\nlines",x, true \n'
        "A-2,Three,,1\n"
        "A-2,Four,,no\n"
        "A-3,Bad,,yes\n"
        "A-3,,,yes\n"  # fails validation (no first_name), still counted
        "A-4,Wide,,yes,extra\n"  # a row of the wrong width fails to read: not counted
        "A-4,Five,,yes\n",
        encoding="utf-8",
    )
    with open_source(path) as source:
        options = source_options(source.info, None)
    contested = ContestedAccounts()
    contested.scan(options, "account", "is_primary")
    assert contested.contested(["A-1", "A-2", "A-3", "A-4", "A-9"]) == {"A-1", "A-3"}
    contested.close()
