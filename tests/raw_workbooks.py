"""Workbooks built part by part with zipfile, so that tests can break them the way files break.

openpyxl only writes well-formed workbooks; these helpers write the XML themselves (inline
strings, or a shared-strings table as Excel does) and then damage the result: raw bytes in
the sheet XML, a sheet cut short, flipped bytes in a deflate stream, a zip directory that
declares false sizes, a shared-strings table that inflates a thousandfold.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
WORKBOOK = "xl/workbook.xml"  # openpyxl reads this part in one piece
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPES}.sheet.main+xml"/>'
    f'<Override PartName="/{SHEET}" ContentType="{_TYPES}.worksheet+xml"/>'
)
_STRINGS_TYPE = f'<Override PartName="/{STRINGS}" ContentType="{_TYPES}.sharedStrings+xml"/>'

_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
    f'Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG_RELS}">'
    f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)


def column(n: int) -> str:
    """1 -> A, 27 -> AA."""
    name = ""
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def text_cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def row_xml(row_no: int, cells: Sequence[str]) -> str:
    """A row of inline strings; a cell already written as XML (`<c …`) goes in as it is."""
    parts = [
        cell if cell.startswith("<c ") else text_cell(f"{column(n)}{row_no}", cell)
        for n, cell in enumerate(cells, 1)
        if cell
    ]
    return f'<row r="{row_no}">{"".join(parts)}</row>'


def sheet_xml(rows: Iterable[Sequence[str]]) -> bytes:
    """With a `<dimension>` first, as Excel writes it: without one, openpyxl parses the whole
    sheet while opening the workbook, looking for it, and damage shows up there already."""
    body = "".join(row_xml(n, cells) for n, cells in enumerate(rows, 1))
    return (
        f'{_XML}<worksheet xmlns="{_MAIN}"><dimension ref="A1"/>'
        f"<sheetData>{body}</sheetData></worksheet>"
    ).encode()


def write_workbook(
    path: Path,
    sheet: bytes,
    strings: bytes | None = None,
    *,
    method: int = zipfile.ZIP_DEFLATED,
    strings_added_later: bool = False,
) -> Path:
    """A workbook whose sheet (and shared strings) are these bytes, exactly; no styles part
    (openpyxl does without one). `strings_added_later`: the table is named in the content
    types, for a test to add it with `inflating_member`."""
    named = strings is not None or strings_added_later
    types = _CONTENT_TYPES + (_STRINGS_TYPE if named else "") + "</Types>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr(WORKBOOK, _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr(zipfile.ZipInfo(SHEET), sheet, compress_type=method)
        if strings is not None:
            archive.writestr(STRINGS, strings)
    return path


def member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """(where the member's compressed bytes start in the file, how many there are)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def corrupt_deflate(path: Path, name: str, at: float = 0.5) -> None:
    """Replace a run of the member's compressed bytes, `at` of the way in, with garbage."""
    start, length = member_data_offset(path, name)
    overwrite(path, start + int(length * at), bytes([0xFF] * 16))


def declare_size(path: Path, name: str, size: int) -> None:
    """Make the zip directory (and the local header) claim `size` expanded bytes for `name`."""
    local, central = _entry_offsets(path, name)
    overwrite(path, local + 22, struct.pack("<I", size))
    overwrite(path, central + 24, struct.pack("<I", size))


def inflating_member(
    path: Path, name: str, head: bytes, unit: bytes, megabytes: int, tail: bytes
) -> None:
    """Add `name` to the workbook: `head`, `unit` repeated to `megabytes` MB, `tail`, deflated
    fast (a bomb needs no better ratio than level 1 gives: about 200:1)."""
    repeat = unit * (2**20 // len(unit))
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    crc = zlib.crc32(head)
    parts = [packer.compress(head)]
    for _ in range(megabytes):
        crc = zlib.crc32(repeat, crc)
        parts.append(packer.compress(repeat))
    crc = zlib.crc32(tail, crc)
    parts += [packer.compress(tail), packer.flush()]
    size = len(head) + len(repeat) * megabytes + len(tail)
    add_deflated(path, name, b"".join(parts), crc=crc, size=size)


def add_deflated(path: Path, name: str, stream: bytes, *, crc: int, size: int) -> None:
    """Add a member whose compressed bytes are `stream`, as given (zipfile deflates only what
    it compresses itself): store it, then say in both headers that it is deflated, with the
    CRC and the expanded size given."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(zipfile.ZipInfo(name), stream, compress_type=zipfile.ZIP_STORED)
    local, central = _entry_offsets(path, name)
    for method_at, crc_at in ((local + 8, local + 14), (central + 10, central + 16)):
        overwrite(path, method_at, struct.pack("<H", zipfile.ZIP_DEFLATED))
        overwrite(path, crc_at, struct.pack("<I", crc))
    declare_size(path, name, size)


def _entry_offsets(path: Path, name: str) -> tuple[int, int]:
    """Where `name`'s local header and its central directory entry start."""
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    data = path.read_bytes()
    encoded = name.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack("<H", data[at + 28 : at + 30])[0]
        if data[at + 46 : at + 46 + length] == encoded:
            return local, at
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} is not in the central directory")


def shared_strings_xml(strings: Sequence[str]) -> bytes:
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return f'{_XML}<sst xmlns="{_MAIN}" count="{len(strings)}">{items}</sst>'.encode()


def strings_head() -> bytes:
    return f'{_XML}<sst xmlns="{_MAIN}">'.encode()
