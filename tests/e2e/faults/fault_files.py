"""Input files of every format, built byte by byte so a test knows where each record lies.

A damage is then placed in a chosen record (the first, one in the middle, the last) and the
test knows exactly which records stand before it, which one holds it and which follow.
Names carry a non-ASCII letter so every text file holds valid multi-byte UTF-8: a stray
byte then makes it a damaged UTF-8 file (SPEC §3), not a cp1252 one.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

GROUP_FIELDS = ("name", "group_type")
TEXT_FORMATS = ("csv", "tsv", "json", "jsonl")
FORMATS = (*TEXT_FORMATS, "xlsx")


def group_records(count: int, prefix: str = "Gruppe Ü") -> list[dict[str, str]]:
    """Valid, distinct customer groups; every third one INDIVIDUAL."""
    return [
        {"name": f"{prefix}{i:05d}", "group_type": "INDIVIDUAL" if i % 3 == 0 else "BUSINESS"}
        for i in range(1, count + 1)
    ]


@dataclass
class TextFile:
    """A text file's bytes and, for each record (1-based), its byte span [start, end)."""

    data: bytes
    spans: list[tuple[int, int]]

    def span(self, record: int) -> tuple[int, int]:
        return self.spans[record - 1]

    def name_offset(self, record: int) -> int:
        """The offset of the middle of record `record`'s name value (inside its quotes)."""
        start, end = self.span(record)
        text = self.data[start:end]
        found = text.find("Ü".encode())
        assert found >= 0, text
        return start + found + 3


def text_file(fmt: str, fields: tuple[str, ...], records: list[dict[str, str]]) -> TextFile:
    """The records in one text format, with the byte span of each record."""
    pieces = [_opening(fmt, fields)]
    spans = []
    offset = len(pieces[0])
    for number, record in enumerate(records, 1):
        piece = _record(fmt, fields, record)
        if fmt == "json" and number < len(records):
            piece += b",\n"
        spans.append((offset, offset + len(piece)))
        pieces.append(piece)
        offset += len(piece)
    pieces.append(b"]\n" if fmt == "json" else b"")
    return TextFile(b"".join(pieces), spans)


def _opening(fmt: str, fields: tuple[str, ...]) -> bytes:
    if fmt in ("csv", "tsv"):
        return _delimited(fmt, list(fields))
    return b"[\n" if fmt == "json" else b""


def _record(fmt: str, fields: tuple[str, ...], record: dict[str, str]) -> bytes:
    if fmt in ("csv", "tsv"):
        return _delimited(fmt, [record[field] for field in fields])
    text = json.dumps({field: record[field] for field in fields}, ensure_ascii=False)
    return (text + ("\n" if fmt == "jsonl" else "")).encode()


def _delimited(fmt: str, cells: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    writer.writerow(cells)
    return buffer.getvalue().encode()


def xlsx_bytes(fields: tuple[str, ...], records: list[dict[str, str]]) -> bytes:
    """An XLSX workbook of the records, header in row 1 (so record k is sheet row k + 1)."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(fields))
    for record in records:
        sheet.append([record[field] for field in fields])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def rewrite_member(data: bytes, member: str, change: object) -> bytes:
    """The same zip with one member's bytes passed through `change` (bytes -> bytes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == member:
                content = change(content)  # type: ignore[operator]
            target.writestr(info, content)
    return buffer.getvalue()


def sheet_row_offset(sheet_xml: bytes, sheet_row: int) -> int:
    """Where `<row r="N"` starts in the sheet XML."""
    found = sheet_xml.find(f'<row r="{sheet_row}"'.encode())
    assert found >= 0, sheet_row
    return found


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
