"""XLSX input through openpyxl's read-only mode, which streams the sheet XML row by row.

What each cell says (typed text, numbers, dates, a formula saved without its value, which
fails its row rather than clearing a field) is `xlsx_cells`; the zip is checked for
bombs and damage before openpyxl opens it (`xlsx_archive`).

A sheet whose XML breaks part-way (found only by parsing) cannot be resumed: openpyxl's
row generator is dead after an exception. The rows read so far stand, `stopped` says after
which sheet row and why, and the rest is reported as unread (SPEC §12.1).
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook

from custimport.errors import InputFileError
from custimport.io.source import (
    RawRow,
    RowSource,
    SourceInfo,
    cell_problem,
    failed_row,
    header_names,
)
from custimport.io.xlsx_archive import check_workbook_archive
from custimport.io.xlsx_cells import (
    UnreadableCell,
    UnusableCell,
    cell_text,
    unusable_problem,
    unusable_seen,
)

# openpyxl warns about workbook features it does not keep (data validation, extensions);
# they do not affect cell values, and in a CLI they would only be noise on stderr.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")


def open_xlsx(
    file: Path,
    size: int,
    sheet: str | None,
    *,
    expected: bool,
    name: Path | None = None,
    header_row: int | None = None,
) -> RowSource:
    """Open the workbook, pick the sheet and read its header (the first non-empty row, or
    sheet row `header_row`, the rows above it ignored).

    `expected` says the user asked for a workbook; otherwise this is a zip found by content,
    and failing to open it means the file is simply not text. `name` is what messages call
    the file (a workbook taken out of an archive is read from a copy).
    """
    path = name or file
    check_workbook_archive(file, path)
    handle = file.open("rb")  # a file object: openpyxl refuses names not ending in .xlsx
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
        return _open_sheet(path, size, _pick_sheet(path, workbook, sheet), close, header_row)
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


def _open_sheet(
    path: Path, size: int, worksheet: Any, close: Any, header_row: int | None
) -> RowSource:
    expected_rows = worksheet.max_row  # from the sheet's <dimension>, for progress only
    worksheet.reset_dimensions()  # some writers store a wrong one, which would cut rows off
    breakage = _Breakage()
    rows = _nonempty_rows(breakage.guard(worksheet.iter_rows()))
    first = next(rows, None)
    while first is not None and header_row is not None and first[0] < header_row:
        first = next(rows, None)  # title rows above the header
    if breakage.reason is not None:
        raise InputFileError(f"{path}: cannot read sheet '{worksheet.title}': {breakage.reason}")
    if header_row is not None and (first is None or first[0] != header_row):
        raise InputFileError(
            f"{path}: sheet '{worksheet.title}' row {header_row} is empty: no header row there"
        )
    if first is None:
        raise InputFileError(f"{path}: sheet '{worksheet.title}' is empty: no header row")
    header_cells = first[1]
    problem = unusable_problem(first[0], header_cells, None)  # before trailing "" go: an
    if problem is not None:  # error cell without a value is one
        raise InputFileError(f"{path}: header {problem}")
    while header_cells and not header_cells[-1]:
        header_cells.pop()
    header = header_names(header_cells, path)
    progress = _Progress(size, expected_rows)
    progress.row = first[0]  # until a row follows, reading can only stop after the header
    info = SourceInfo(path, "xlsx", None, None, header, size)
    rows_read = _sheet_rows(rows, header, progress)
    return RowSource(
        info, rows_read, progress.position, close, stopped=lambda: breakage.stop(progress.row)
    )


class _Breakage:
    """Ends the sheet's rows at the first exception openpyxl raises part-way, and says why.

    Only openpyxl's own iteration is guarded (our code's bugs still surface as such); any
    exception there means the file, not the program, is broken: expat's ParseError for XML,
    zlib.error, EOFError or BadZipFile for the compressed data, `UnreadableCell` for a
    shared string that does not exist or a number that is not one.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def guard(self, cell_rows: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        while True:
            try:
                cells = next(cell_rows)
            except StopIteration:
                return
            except Exception as exc:  # see the class docstring
                self.reason = _broken(exc)
                return
            yield cells

    def stop(self, last_row: int) -> str | None:
        if self.reason is None:
            return None
        return (
            f"reading stopped after sheet row {last_row:,}: {self.reason}; "
            "the rest of the sheet was not read"
        )


def _broken(exc: Exception) -> str:
    if isinstance(exc, UnreadableCell):
        return str(exc)
    if isinstance(exc, ParseError):
        return f"the sheet's XML is broken ({exc})"
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        detail = str(exc) or "its compressed data ends early"
        return f"the workbook's compressed data is damaged ({detail})"
    return f"the sheet cannot be read ({type(exc).__name__}: {exc})"


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
        if any(texts) or UnusableCell in map(type, texts):  # `<c t="e"/>` is not empty
            row_no = next(cell.row for cell in cells if cell.value is not None)
            yield row_no, texts


def _sheet_rows(
    rows: Iterator[tuple[int, list[str]]], header: list[str], progress: _Progress
) -> Iterator[RawRow]:
    width = len(header)
    unusable = unusable_seen()
    for row_no, texts in rows:
        progress.row = row_no
        if unusable != unusable_seen():  # a cell that cannot be imported came by: this row's?
            unusable = unusable_seen()
            problem = unusable_problem(row_no, texts, header)
            if problem is not None:
                yield failed_row(row_no, texts, problem)
                continue
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
