"""Output formats for `export`: rows of text (None for NULL) → CSV, TSV, XLSX, JSON, JSONL.

Every writer streams: a row is written as it arrives, the JSON array included, and XLSX goes
through openpyxl's write-only mode. Each writes values in the form the readers read back as
the same text, which is what makes export → import report every row `unchanged` (SPEC
§12.6); a value it cannot write so stops it with `UnwritableValueError` (see `writable`).
CSV and TSV cells that a spreadsheet would run as formulas get the escape of `formulas`
(SPEC §12.7).
"""

import csv
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from custimport.errors import UsageError
from custimport.io.formulas import escaped_cells
from custimport.io.writable import (
    XLSX_MAX_CHARS,
    XLSX_UNFIT,
    Row,
    UnwritableValueError,
    checked,
    holds_unwritable_text,
    import_problem,
    refuse,
    text_problem,
    xlsx_problem,
)

__all__ = ["FORMATS", "XLSX_MAX_CHARS", "Row", "UnwritableValueError", "Written", "write_rows"]

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
BY_EXTENSION = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}
BY_EXTENSION |= {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_JSON = json.JSONEncoder(ensure_ascii=False)
_DELIMITERS = {"csv": ",", "tsv": "\t"}


@dataclass
class Written:
    """What a writer did."""

    rows: int = 0


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
    fmt: str,
    out: BinaryIO,
    columns: Sequence[str],
    rows: Iterable[Row],
    title: str = "Sheet",
    max_lengths: Sequence[int | None] | None = None,
) -> Written:
    """Write the header and every row to `out` in `fmt`; `title` names the XLSX sheet.

    Raises `UnwritableValueError` at the first value the readers would not read back as
    written, or, given `max_lengths` (per column; None: no limit), that import would not
    store as it is.
    """
    if fmt in _DELIMITERS and max_lengths is None:  # checked a block at a time, as written
        with _text(out) as text:
            return _write_delimited(text, columns, rows, _DELIMITERS[fmt], check_blocks=True)
    if max_lengths is None:
        rows = checked(columns, rows, text_problem, [sys.maxsize] * len(columns), False)
    else:
        limits = [n or sys.maxsize for n in max_lengths]
        rows = checked(columns, rows, import_problem(limits), limits, True)
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
    text: TextIO, columns: Sequence[str], rows: Iterable[Row], sep: str, check_blocks: bool = False
) -> Written:
    """csv quotes a value holding the line terminator (`\\n`) but not a lone `\\r`, which the
    reader takes for a line break; a row with one is written fully quoted instead. Rows are
    formatted a block at a time and the block searched once, which keeps the check cheap;
    with `check_blocks`, so is the test of what no text file can hold (`text_problem`): a
    block that may hold such a value is refused at its first one. Cells a spreadsheet would
    run as formulas are escaped (`formulas.escaped_cells`)."""
    plain = csv.writer(text, delimiter=sep, lineterminator="\n")
    quoted = csv.writer(text, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(escaped_cells(columns))
    block = io.StringIO()
    staged = csv.writer(block, delimiter=sep, lineterminator="\n")
    written = Written()

    def formatted_block(chunk: Sequence[Row]) -> str:
        block.seek(0)
        block.truncate()
        staged.writerows(chunk)
        return block.getvalue()

    for given in _chunks(rows):
        chunk = list(map(escaped_cells, given))
        formatted = formatted_block(chunk)
        if check_blocks and holds_unwritable_text(formatted):
            for n, row in enumerate(given, written.rows + 1):
                refuse(n, columns, row, text_problem)
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
    return _write_delimited(text, columns, rows, _DELIMITERS["csv"])


def _write_tsv(text: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> Written:
    return _write_delimited(text, columns, rows, _DELIMITERS["tsv"])


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

    Whatever stops the export part-way (a value XLSX cannot hold, the database, a signal, a
    full disk) also discards openpyxl's half-written sheet (`_discard`).
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    written = Written()
    try:
        sheet.append(list(columns))
        for record, row in enumerate(rows, 1):
            for value in row:
                if value and (len(value) > XLSX_MAX_CHARS or XLSX_UNFIT.search(value)):
                    refuse(record, columns, row, lambda v, _: xlsx_problem(v))
            sheet.append([_xlsx_cell(sheet, value) for value in row])
            written.rows += 1
        workbook.save(out)
    except BaseException:
        _discard(sheet)
        raise
    return written


def _xlsx_cell(sheet: Any, value: str | None) -> Any:
    if not value:
        return None
    if value[0] in "=#":  # openpyxl would store "=…" as a formula and "#N/A" as an error
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def _discard(sheet: Any) -> None:
    """Close openpyxl's half-written sheet and delete its temporary file.

    A write-only sheet streams its XML through a generator into a temporary file of its own.
    Left to the garbage collector after a failure, the generator finishes its XML into a file
    closed by then, and Python prints that error's traceback ("Exception ignored in …")
    after our one-line error. The file holds the rows written so far, personal data: it is
    deleted now rather than when the process exits.
    """
    with suppress(Exception):  # already closed, or closing fails on a full disk: go on
        sheet.close()
    writer = getattr(sheet, "_writer", None)
    if writer is not None:
        with suppress(Exception):  # already deleted by a save that got that far
            writer.cleanup()
