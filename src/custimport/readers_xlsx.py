"""XLSX input through openpyxl's read-only mode, which streams the sheet XML row by row.

Cells become the text the user typed or saw: 42.0 -> "42", an account number stored as the
number 123 with format "00000" -> "00123", a date -> "2024-03-01". Reading the formatted
display value would be closer still, but openpyxl does not render number formats.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from custimport.errors import InputFileError
from custimport.readers import (
    RawRow,
    RowSource,
    SourceInfo,
    cell_problem,
    failed_row,
    float_text,
    header_names,
)

# openpyxl warns about workbook features it does not keep (data validation, extensions);
# they do not affect cell values, and in a CLI they would only be noise on stderr.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")

_ZERO_PADDED = re.compile(r"0+")


def open_xlsx(path: Path, size: int, sheet: str | None, *, expected: bool) -> RowSource:
    """Open the workbook, pick the sheet and read its header (the first non-empty row).

    `expected` says the user asked for a workbook; otherwise this is a zip found by content,
    and failing to open it means the file is simply not text.
    """
    handle = path.open("rb")  # a file object: openpyxl refuses names not ending in .xlsx
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a zip that is not a workbook
        handle.close()
        if expected:
            detail = exc.args[0] if exc.args else type(exc).__name__  # KeyError's str() quotes
            raise InputFileError(f"{path}: not a readable xlsx workbook ({detail})") from None
        raise InputFileError(f"{path} is not a text file (a zip archive, not a workbook)") from None

    def close() -> None:
        workbook.close()
        handle.close()

    try:
        return _open_sheet(path, size, _pick_sheet(path, workbook, sheet), close)
    except BaseException:
        close()
        raise


def _pick_sheet(path: Path, workbook: Any, name: str | None) -> Any:
    """The named sheet (an exact match, else the only case-insensitive one), or the first."""
    if name is None:
        return workbook.worksheets[0]
    names: list[str] = workbook.sheetnames
    wanted = name.casefold()
    matches = [n for n in names if n == name] or [n for n in names if n.casefold() == wanted]
    if len(matches) != 1:
        listed = ", ".join(f"'{n}'" for n in names)
        raise InputFileError(f"{path}: no sheet named '{name}'; the sheets are {listed}")
    return workbook[matches[0]]


def _open_sheet(path: Path, size: int, worksheet: Any, close: Any) -> RowSource:
    expected_rows = worksheet.max_row  # from the sheet's <dimension>, for progress only
    worksheet.reset_dimensions()  # some writers store a wrong one, which would cut rows off
    rows = _nonempty_rows(worksheet.iter_rows())
    first = next(rows, None)
    if first is None:
        raise InputFileError(f"{path}: sheet '{worksheet.title}' is empty: no header row")
    header_cells = first[1]
    while header_cells and not header_cells[-1]:
        header_cells.pop()
    header = header_names(header_cells, path)
    progress = _Progress(size, expected_rows)
    info = SourceInfo(path, "xlsx", None, None, header, size)
    return RowSource(info, _sheet_rows(rows, header, progress), progress.position, close)


class _Progress:
    """Bytes read cannot be measured inside a zip; rows done of rows expected stands in."""

    def __init__(self, size: int, expected_rows: int | None) -> None:
        self.size = size
        self.expected_rows = expected_rows or 0
        self.row = 0

    def position(self) -> int:
        if not self.expected_rows:
            return 0
        return min(self.size * self.row // self.expected_rows, self.size - 1)


def _nonempty_rows(cell_rows: Iterator[Sequence[Any]]) -> Iterator[tuple[int, list[str]]]:
    """(sheet row number, cell texts) for rows with any text; the number comes from the cells."""
    for cells in cell_rows:
        texts = [cell_text(cell) for cell in cells]
        if any(texts):
            row_no = next(cell.row for cell in cells if cell.value is not None)
            yield row_no, texts


def _sheet_rows(
    rows: Iterator[tuple[int, list[str]]], header: list[str], progress: _Progress
) -> Iterator[RawRow]:
    width = len(header)
    for row_no, texts in rows:
        progress.row = row_no
        if len(texts) > width:
            if any(texts[width:]):
                found = max(n for n, text in enumerate(texts, 1) if text)
                yield failed_row(row_no, texts, f"expected {width} fields, found {found}")
                continue
            del texts[width:]  # empty cells beyond the header are only formatting
        texts += [""] * (width - len(texts))
        problem = cell_problem(header, texts, "xlsx")
        if problem is not None:
            yield failed_row(row_no, texts, problem)
        else:
            yield RawRow(row_no, dict(zip(header, texts, strict=True)), texts)


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
    text = float_text(value) if isinstance(value, float) else str(value)
    if number_format and _ZERO_PADDED.fullmatch(number_format) and text.isdigit():
        return text.zfill(len(number_format))
    return text
