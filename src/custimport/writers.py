"""Output formats for `export`: rows of text (None for NULL) → CSV, TSV, XLSX, JSON, JSONL.

Every writer streams: a row is written as it arrives, the JSON array included, and XLSX goes
through openpyxl's write-only mode. Each writes values in the form the readers read back as
the same text, which is what makes export → import report every row `unchanged`.
"""

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from custimport.errors import UsageError

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
BY_EXTENSION = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}
BY_EXTENSION |= {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
Row = Sequence[str | None]
_JSON = json.JSONEncoder(ensure_ascii=False)


class UnwritableValueError(UsageError):
    """A value the chosen format cannot hold (a control character in XLSX)."""


@dataclass
class Written:
    """What a writer did: rows written, and values it had to change (XLSX line breaks)."""

    rows: int = 0
    carriage_returns: int = 0


def format_for(requested: str | None, path: Path | None) -> str:
    """--format as given; else what the file name says; else csv."""
    if requested and requested.lower() != "auto":
        fmt = requested.lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format '{requested}' (choose from {', '.join(FORMATS)})")
        return fmt
    return BY_EXTENSION.get(path.suffix.lower(), "csv") if path else "csv"


def misleading_name(fmt: str, path: Path) -> bool:
    """Whether import would read `path` as another format than `fmt` (it goes by extension)."""
    expected = BY_EXTENSION.get(path.suffix.lower())
    if expected is None or expected == fmt or fmt == "xlsx":  # a workbook is known by content
        return False
    return not {expected, fmt} <= {"csv", "tsv"}  # the delimiter is sniffed either way


def write_rows(
    fmt: str, out: BinaryIO, columns: Sequence[str], rows: Iterable[Row], title: str = "Sheet"
) -> Written:
    """Write the header and every row to `out` in `fmt`; `title` names the XLSX sheet."""
    if fmt == "xlsx":
        return _write_xlsx(out, columns, rows, title)
    with _text(out) as text:
        return _TEXT_WRITERS[fmt](text, columns, rows)


@contextmanager
def _text(out: BinaryIO) -> Iterator[TextIO]:
    """UTF-8 without a BOM, no newline translation; `out` stays open (it may be stdout)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        yield text
        text.flush()
    finally:
        text.detach()


def _write_delimited(
    text: TextIO, columns: Sequence[str], rows: Iterable[Row], sep: str
) -> Written:
    """csv quotes a value holding the line terminator (`\\n`) but not a lone `\\r`, which the
    reader takes for a line break; a row with one is written fully quoted instead. Rows are
    formatted a block at a time and the block searched once, which keeps the check cheap."""
    plain = csv.writer(text, delimiter=sep, lineterminator="\n")
    quoted = csv.writer(text, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(columns)
    block = io.StringIO()
    staged = csv.writer(block, delimiter=sep, lineterminator="\n")
    written = Written()
    for chunk in _chunks(rows):
        block.seek(0)
        block.truncate()
        staged.writerows(chunk)
        formatted = block.getvalue()
        if "\r" not in formatted:
            text.write(formatted)
        else:
            for row in chunk:
                (quoted if any(value and "\r" in value for value in row) else plain).writerow(row)
        written.rows += len(chunk)
    return written


def _chunks(rows: Iterable[Row], size: int = 1000) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _write_csv(text: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> Written:
    return _write_delimited(text, columns, rows, ",")


def _write_tsv(text: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> Written:
    return _write_delimited(text, columns, rows, "\t")


def _write_json(text: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> Written:
    """One object per line inside the array, so the file is written as the rows arrive."""
    written = Written()
    text.write("[")
    for row in rows:
        text.write(",\n" if written.rows else "\n")
        text.write(_JSON.encode(dict(zip(columns, row, strict=True))))
        written.rows += 1
    text.write("\n]\n" if written.rows else "]\n")
    return written


def _write_jsonl(text: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> Written:
    written = Written()
    for row in rows:
        text.write(_JSON.encode(dict(zip(columns, row, strict=True))) + "\n")
        written.rows += 1
    return written


_TEXT_WRITERS: dict[str, Callable[[TextIO, Sequence[str], Iterable[Row]], Written]] = {
    "csv": _write_csv,
    "tsv": _write_tsv,
    "json": _write_json,
    "jsonl": _write_jsonl,
}


def _write_xlsx(out: BinaryIO, columns: Sequence[str], rows: Iterable[Row], title: str) -> Written:
    """Every value a text cell, so `00123` stays `00123` and `=x` or `#N/A` stay text.

    XML turns a carriage return into a line feed on reading, so a `\\r` cannot survive a
    workbook: it is written as the line feed it would become, and counted.
    """
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    written = Written()
    for row in rows:
        try:
            sheet.append([_xlsx_cell(sheet, value, written) for value in row])
        except IllegalCharacterError:
            raise _unwritable(columns, row, written.rows + 2) from None
        written.rows += 1
    workbook.save(out)
    return written


def _xlsx_cell(sheet: Any, value: str | None, written: Written) -> Any:
    if not value:
        return None
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        written.carriage_returns += 1
    if value[0] in "=#":  # openpyxl would store "=…" as a formula and "#N/A" as an error
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def _unwritable(columns: Sequence[str], row: Row, sheet_row: int) -> UnwritableValueError:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    column = next(
        (c for c, v in zip(columns, row, strict=True) if v and ILLEGAL_CHARACTERS_RE.search(v)),
        "?",
    )
    return UnwritableValueError(
        f"row {sheet_row}, column '{column}': the value holds a control character that XLSX "
        "cannot store; export as csv, tsv, json or jsonl instead"
    )
