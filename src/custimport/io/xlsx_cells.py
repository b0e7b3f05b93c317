"""What a workbook cell says: the text the user typed, or a formula saved without a value.

Cells become the text the user typed or saw: 42.0 -> "42", an account number stored as the
number 123 with format "00000" -> "00123", a date -> "2024-03-01". Reading the formatted
display value would be closer still, but openpyxl does not render number formats.

A formula saved without its value is told from an empty cell in the one pass openpyxl makes.

With `data_only=True` openpyxl gives a formula cell's cached value, and None when the file
holds none (a workbook written by a program that does not calculate, such as openpyxl
itself): an empty cell, which on update would clear the field. Reading the sheet a second
time without `data_only` would tell them apart at twice the cost; instead openpyxl's sheet
parser is subclassed so that such a cell's value becomes a `FormulaWithoutValue` (its text
is the formula, for the error log and rejects), and the readers fail its row.

A spreadsheet error (`t="e"`: #N/A, #REF!, or no code at all) fails its row too, as does a
date whose serial number is beyond the dates a spreadsheet shows (openpyxl would make it
the text "#VALUE!"). A cell that no spreadsheet program writes (a shared string that does
not exist, `abc` in a number cell) raises `UnreadableCell`, which stops the sheet, saying
in words which cell holds what.

"Without a value" is no `<v>`, or an empty one (openpyxl writes `<v />`), on a cell not
typed `t="str"`: that is how Excel and LibreOffice save a formula whose value is the empty
string, which stays an empty cell.

The check costs a Python call per cell on top of openpyxl's own parsing, and looks further
only at cells without a value. Measured on 100,000 rows of 12 columns (benchmarks/generate.py
accounts), CPU seconds to iterate the sheet, three runs each: 7.5-7.8 s before, 7.6-8.2 s
after (inline strings); the whole reader, shared strings as Excel writes them: 7.9-8.1 s
before, 7.9-8.5 s after. A second reading pass would have doubled it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet import _read_only
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS

from custimport.io.source import float_text

_FORMULA_TAG = f"{{{SHEET_MAIN_NS}}}f"
_VALUE_TAG = f"{{{SHEET_MAIN_NS}}}v"
_ZERO_PADDED = re.compile(r"0+")
_EXACT_INTEGERS = 2**53  # beyond this a double (every number in a workbook) has gaps
_NO_VALUE = (
    "is a formula saved without its value: open and save the file in a spreadsheet program "
    "first, so that the values are stored"
)
_ERROR_VALUE = "holds the spreadsheet error {}, not a value: correct the formula or clear the cell"
_ERROR_NO_CODE = (
    "is marked as a spreadsheet error, with no value saved: correct the formula or clear the cell"
)
_NOT_A_DATE = (
    "is formatted as a date, but holds {}, beyond the dates a spreadsheet shows: correct the "
    "value or format the cell as a number"
)
_WHAT_BELONGS = {"n": "a number", "b": "true or false (1 or 0)", "d": "a date"}
_INEXACT = (
    "is the number {}, too large for a spreadsheet to keep every digit of: format the column "
    "as text and type the value again"
)


class UnusableCell(str):
    """A cell whose content cannot be imported as it is: the text is what the cell holds
    (`=SUM(A1:A3)`, `1.2345678901234568e+16`), for the error log and rejects; `reason`
    completes "column 'x' (cell C5) …"."""

    __slots__ = ("reason",)
    reason: str

    def __new__(cls, text: str, reason: str) -> UnusableCell:
        made = super().__new__(cls, text)
        made.reason = reason
        _Counter.seen += 1
        return made


class _Counter:
    """How many unusable cells were made in this process: a row whose reading moved it is
    searched for them, so other rows pay one comparison."""

    seen = 0


def unusable_seen() -> int:
    return _Counter.seen


_parse_cell = WorkSheetParser.parse_cell  # called directly: cheaper than super() per cell


class UnreadableCell(Exception):
    """A cell that cannot be read, said in words: the sheet stops there."""


class _ValueAwareParser(WorkSheetParser):  # type: ignore[misc]
    def parse_cell(self, element: Any) -> dict[str, Any]:
        try:
            cell: dict[str, Any] = _parse_cell(self, element)
        except (ValueError, IndexError):
            reason = _unreadable(element, self.shared_strings, self.row_counter, self.col_counter)
            if reason is None:
                raise
            raise UnreadableCell(reason) from None
        if cell["data_type"] == "e":  # #N/A, #REF!, #DIV/0!, or a date out of range
            cell["value"] = _error_cell(element, cell["value"])
        elif cell["value"] is None and self.data_only and element.get("t") != "str":
            formula = element.find(_FORMULA_TAG)
            if formula is not None:
                cell["value"] = UnusableCell("=" + (formula.text or ""), _NO_VALUE)
        return cell


def _error_cell(element: Any, value: object) -> UnusableCell:
    if element.get("t") != "e":  # openpyxl's "#VALUE!" for a date serial out of range
        serial = element.findtext(_VALUE_TAG) or ""
        return UnusableCell(serial, _NOT_A_DATE.format(serial))
    if value is None:  # `<c t="e"/>`: an error, though not which one
        return UnusableCell("", _ERROR_NO_CODE)
    return UnusableCell(str(value), _ERROR_VALUE.format(value))


def _unreadable(element: Any, strings: Any, row: int, column: int) -> str | None:
    """Why openpyxl could not read this cell, in words; None if the cause is not known."""
    ref = element.get("r")
    if ref is not None:
        try:
            coordinate_to_tuple(ref)
        except ValueError:
            return f"a cell of row {row:,} has the reference {ref!r}, which names no cell"
    cell = f"cell {ref or get_column_letter(column) + str(row)}"
    kind = element.get("t", "n")
    text = element.findtext(_VALUE_TAG) or ""
    if kind == "s":
        if text.strip().isdigit():
            has = len(strings)
            return f"{cell} refers to shared string {int(text)}, but the workbook has {has}"
        return f"{cell} holds {text!r} where the number of a shared string belongs"
    if kind in _WHAT_BELONGS:
        return f"{cell} holds {text!r} where {_WHAT_BELONGS[kind]} belongs"
    return None


# Read-only worksheets build their parser by this module-level name.
_read_only.WorkSheetParser = _ValueAwareParser


def unusable_problem(row_no: int, texts: list[str], header: list[str] | None) -> str | None:
    """The row error for its first unusable cell; for the header row (None), the cell alone."""
    for n, text in enumerate(texts):
        if isinstance(text, UnusableCell):
            cell = f"cell {get_column_letter(n + 1)}{row_no}"
            if header is None:
                return f"{cell} {text.reason}"
            name = f"column '{header[n]}'" if n < len(header) else "a column beyond the header"
            return f"{name} ({cell}) {text.reason}"
    return None


def cell_text(cell: Any) -> str:
    """The value as the user typed it; number formats matter only for zero padding."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value, cell.number_format)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _number_text(value: float, number_format: str | None) -> str:
    """Integers beyond 2^53 stored as a double (Excel stores every number so, and keeps 15
    digits) lost digits already: such a cell fails its row rather than become, say, the
    account number `1.2345678901234568e+16` (SPEC §12.2)."""
    if isinstance(value, float):
        text = float_text(value)
        if value.is_integer() and abs(value) > _EXACT_INTEGERS:
            return UnusableCell(text, _INEXACT.format(text))
    else:
        text = str(value)
    if number_format and _ZERO_PADDED.fullmatch(number_format) and text.isdigit():
        return text.zfill(len(number_format))
    return text
