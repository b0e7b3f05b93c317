"""Workbook cells at the edges of trust (issue #12, finding F7), on the reader directly.

An error cell saved without its code (`<c t="e"/>`) was read as an empty cell, which on
update clears the field: it fails its row like #N/A does. A cell no spreadsheet program
writes (a shared string that does not exist, `abc` where a number belongs) still stops the
sheet, but the message says which cell holds what instead of quoting a Python exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

import raw_workbooks as raw
from custimport.errors import InputFileError
from custimport.io.formats import open_source
from custimport.io.source import RawRow, RowSource


def read_all(path: Path) -> tuple[RowSource, list[RawRow]]:
    with open_source(path) as source:
        rows = list(source)
    return source, rows


def numbered(rows: list[RawRow]) -> list[tuple[int, list[str], str | None]]:
    return [(row.line_no, row.cells, row.error) for row in rows]


NO_CODE = (
    "is marked as a spreadsheet error, with no value saved: correct the formula or clear the cell"
)


def test_fails_a_row_whose_error_cell_has_no_value(tmp_path: Path) -> None:
    sheet = raw.sheet_xml(
        [
            ["id", "name", "city", "note"],
            ["A1", "Ann", "Oslo", '<c r="D2" t="e"/>'],
            ["A2", "Bob", "Rome", "fine"],
        ]
    )
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert numbered(rows) == [
        (2, ["A1", "Ann", "Oslo", ""], f"column 'note' (cell D2) {NO_CODE}"),
        (3, ["A2", "Bob", "Rome", "fine"], None),
    ]


def test_fails_a_row_whose_only_cell_is_an_error_without_a_value(tmp_path: Path) -> None:
    """Not an empty row to skip: its cell says something went wrong."""
    sheet = raw.sheet_xml([["id", "name"], ["", '<c r="B2" t="e"/>'], ["3", "x"]])
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert numbered(rows) == [
        (2, ["", ""], f"column 'name' (cell B2) {NO_CODE}"),
        (3, ["3", "x"], None),
    ]


def test_refuses_a_header_whose_last_cell_is_an_error_without_a_value(tmp_path: Path) -> None:
    sheet = raw.sheet_xml([["id", "name", '<c r="C1" t="e"/>'], ["1", "x"]])
    path = raw.write_workbook(tmp_path / "a.xlsx", sheet)
    with pytest.raises(InputFileError) as raised:
        open_source(path)
    assert str(raised.value) == f"{path}: header cell C1 {NO_CODE}"


def _stopped_by(tmp_path: Path, cell: str, strings: list[str] | None = None) -> str | None:
    """The stop message of a sheet whose row 3 holds `cell` after a good row 2."""
    sheet = raw.sheet_xml([["id", "name", "size"], ["A1", "Ann", "1"], ["A2", "Bob", cell]])
    table = raw.shared_strings_xml(strings) if strings is not None else None
    source, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet, table))
    assert numbered(rows) == [(2, ["A1", "Ann", "1"], None)]
    return source.stopped


@pytest.mark.parametrize(
    "cell, strings, reason",
    [
        (
            '<c r="C3" t="s"><v>912</v></c>',
            [f"s{n}" for n in range(40)],
            "cell C3 refers to shared string 912, but the workbook has 40",
        ),
        (
            '<c r="C3" t="s"><v>abc</v></c>',
            ["one"],
            "cell C3 holds 'abc' where the number of a shared string belongs",
        ),
        ('<c r="C3"><v>abc</v></c>', None, "cell C3 holds 'abc' where a number belongs"),
        (
            '<c r="C3" t="b"><v>yes</v></c>',
            None,
            "cell C3 holds 'yes' where true or false (1 or 0) belongs",
        ),
        (
            '<c r="C3" t="d"><v>someday</v></c>',
            None,
            "cell C3 holds 'someday' where a date belongs",
        ),
        (
            '<c r="C3x"><v>1</v></c>',
            None,
            "a cell of row 3 has the reference 'C3x', which names no cell",
        ),
    ],
)
def test_says_in_words_which_cell_stops_the_sheet(
    tmp_path: Path, cell: str, strings: list[str] | None, reason: str
) -> None:
    assert _stopped_by(tmp_path, cell, strings) == (
        f"reading stopped after sheet row 2: {reason}; the rest of the sheet was not read"
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl's; the command silences it
def test_fails_a_date_cell_beyond_the_dates_a_spreadsheet_shows(tmp_path: Path) -> None:
    """openpyxl turns such a serial number into the text "#VALUE!", which was stored."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "since"])
    sheet.append(["A1", 45000])
    sheet.append(["A2", 1e12])
    for row in (2, 3):
        sheet.cell(row, 2).number_format = "yyyy-mm-dd"
    workbook.save(tmp_path / "d.xlsx")
    _, rows = read_all(tmp_path / "d.xlsx")
    assert numbered(rows) == [
        (2, ["A1", "2023-03-15"], None),
        (
            3,
            ["A2", "1000000000000"],
            "column 'since' (cell B3) is formatted as a date, but holds 1000000000000, beyond "
            "the dates a spreadsheet shows: correct the value or format the cell as a number",
        ),
    ]
