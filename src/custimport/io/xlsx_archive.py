"""Refuse a workbook whose zip is implausible (SPEC §12.4) or damaged (§12.3), up front.

A 5.5 MB workbook whose shared strings inflated to 1.6 GB took 208 s and 3.5 GB of memory
before this check. openpyxl holds the shared-strings table in memory whole and reads the
small parts (workbook, styles, relationships) in one piece; only worksheets stream. So,
from the zip directory, before openpyxl opens anything:

- every member is stored or deflated (spreadsheet programs use nothing else; other methods
  inflate without a bound per read);
- its declared expanded size is at most `RATIO` times its compressed size once it expands
  beyond `RATIO_FLOOR`, and at most 4 GiB;
- the shared-strings table is at most 1 GiB, and every part that is read in one piece (all
  but worksheets and the table) at most 256 MiB.

Declared sizes can lie. Python's zipfile never hands out more than the declared size (it
stops there, and the CRC of a member that held more then fails). So every member is then
inflated here once, in bounded chunks, and its CRC checked: a false size is caught before
openpyxl inflates a part in a single call, and a damaged deflate stream or a flipped byte
is refused with nothing written, rather than found at the end of a sheet whose rows before
it were imported (a flipped byte would have been imported as it was). Inflating costs little
beside parsing: 0.1 s of CPU for a 100,000-row workbook that openpyxl takes 8 s to read.
What only parsing finds (XML that breaks part-way) still stops reading part-way
(`xlsx_reader`).

Measured on real-shaped data (benchmarks/generate.py accounts, 12 columns, shared strings as
Excel writes them): 1,000,000 rows make a 73 MB workbook whose sheet expands to 300 MB (8.0:1)
and whose shared-strings table to 269 MB (7.5:1, a quarter of its limit; openpyxl held it in
711 MB of RSS); this check took 0.96 s of CPU on it. Workbooks of identical rows or of
styled empty cells stay under 24:1; deflate itself cannot exceed 1032:1.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from custimport.errors import InputFileError

RATIO = 100
RATIO_FLOOR = 8 * 2**20  # a member expanding to less is harmless whatever its ratio
MEMBER_MAX = 4 * 2**30
SHARED_STRINGS_MAX = 2**30
WHOLE_PART_MAX = 256 * 2**20
CHUNK = 2**20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CONTENT_TYPES = "[Content_Types].xml"
_STREAMED = ("worksheet+xml", "sharedStrings+xml")  # content types openpyxl reads in pieces
_LIMITS = {"worksheet+xml": MEMBER_MAX, "sharedStrings+xml": SHARED_STRINGS_MAX}


def check_workbook_archive(file: Path, name: Path | None = None) -> None:
    """Raise InputFileError naming the first member whose size is implausible.

    A file that is not a zip at all passes: openpyxl says so in its own words. `name` is
    what messages call the file, when it is read from a copy (taken out of an archive).
    """
    path = name or file
    try:
        with zipfile.ZipFile(file) as archive:
            streamed = _streamed_parts(path, archive)
            members = archive.infolist()
            for info in members:
                kind = streamed.get(info.filename, "")
                _check_declared(path, info, _LIMITS.get(kind, WHOLE_PART_MAX))
            for info in members:
                _check_inflation(path, archive, info)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return  # not a zip, or broken: openpyxl's refusal names the problem


def _check_declared(path: Path, info: zipfile.ZipInfo, limit: int) -> None:
    if info.compress_type not in _METHODS:
        raise InputFileError(
            f"{path}: not a workbook a spreadsheet program wrote: {info.filename} is compressed "
            f"with method {info.compress_type} (only stored and deflated are accepted)"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR and ratio > RATIO:
        why = f"a ratio of {ratio:,.0f}:1, where {RATIO}:1 is the most accepted"
    elif info.file_size > limit:
        why = f"more than the {_size(limit)} accepted for this part"
    else:
        return
    raise InputFileError(
        f"{path}: refused as a likely zip bomb: {info.filename} would expand from "
        f"{_size(info.compress_size)} to {_size(info.file_size)}, {why}; if the workbook is "
        "genuine, save it as CSV"
    )


def _streamed_parts(path: Path, archive: zipfile.ZipFile) -> dict[str, str]:
    """Member name -> the content type of those openpyxl streams (sheets, shared strings)."""
    try:
        info = archive.getinfo(_CONTENT_TYPES)
    except KeyError:
        return {}
    _check_declared(path, info, WHOLE_PART_MAX)
    _check_inflation(path, archive, info)
    try:
        root = ElementTree.fromstring(archive.read(info))
    except ElementTree.ParseError:
        return {}
    found = {}
    for override in root:
        kind = override.get("ContentType", "")
        name = override.get("PartName", "").lstrip("/")
        streamed = next((suffix for suffix in _STREAMED if kind.endswith(suffix)), None)
        if name and streamed is not None:
            found[name] = streamed
    return found


def inflation_damage(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """Inflate a member in bounded chunks (zipfile stops at the declared size and checks
    the CRC); what is wrong with it, or None. Shared with archives.py's single-file zips."""
    try:
        with archive.open(info) as member:
            while member.read(CHUNK):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, OSError) as exc:
        return str(exc) or "its compressed data ends early"  # EOFError says nothing
    return None


def _check_inflation(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    detail = inflation_damage(archive, info)
    if detail is not None:
        raise InputFileError(
            f"{path}: not a readable xlsx workbook: {info.filename} is damaged, or does not "
            f"hold what the zip directory declares ({detail})"
        )


def _size(count: int) -> str:
    if count < 2**20:
        return f"{count:,} bytes"
    if count < 2**30:
        return f"{count / 2**20:,.1f} MB"
    return f"{count / 2**30:,.1f} GB"
