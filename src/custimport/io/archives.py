"""Compressed input: a gzip file, or a zip holding one file, is read as the format inside.

The readers get the expanded bytes as a stream (`Payload.open`), chunk by chunk, so memory
does not grow with the file: no archive is expanded into memory or, for text, to disk. Only
a workbook inside an archive is written out to a private temporary file (`staging`), because
openpyxl needs to seek in its zip. Seeks that encoding detection makes to sample the middle
of the file work on the stream too (a forward seek expands and drops, a backward one starts
again): that is one more expansion, 0.55 s for the 1,000,000-account CSV (182 MB, 39 MB
gzip -6), against an import of about 40 s.

Before the first row, the archive is checked whole, in bounded chunks, as `xlsx_archive`
checks workbooks (SPEC §12.3, §12.4): a gzip stream or zip member that is cut short, damaged
(a CRC that does not match, a broken deflate stream) or implausibly large for its compressed
size (a bomb) is one line, exit 2, with nothing written, rather than found after the rows
before it were imported (a flipped byte would have been imported as it was). The check also
gives the expanded size, for progress and for the samples. It costs one expansion (0.55 s on
the file above); a process that reads the file again is given the size and skips it. Whole
import of that file, one run each: 45.8 s from the .gz against 39.2 s from the plain file,
and 46.5 against 42.8 in a second pair (0.86x, 0.92x; peak RSS 128 MB for both). If the
file changes afterwards, the reader stops where the data breaks and says so
(`TextStream.stopped`), the rows before it counted as for any damaged file.

The run record's SHA-256 is of the file as given (the compressed bytes): `recording`.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from custimport.errors import InputFileError
from custimport.io.xlsx_archive import RATIO, RATIO_FLOOR, inflation_damage

__all__ = ["GZIP_MAGIC", "ZIP_MAGICS", "Payload", "archive_payload"]

GZIP_MAGIC = b"\x1f\x8b"
# a zip starts with a member, or, when it holds none, with its end-of-directory record
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
CHUNK = 1 << 20
_WORKBOOK_PART = "[Content_Types].xml"
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_JUNK = ("__MACOSX/",)  # what macOS's "Compress" adds beside the file
_METHODS = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}


@dataclass(frozen=True)
class Payload:
    """What an archive holds: its name (for the format by extension), size and bytes."""

    kind: str  # "gzip" or "zip"
    inner: Path  # the name of what is inside, "" when a gzip file's name does not say
    size: int  # bytes, expanded
    open: Callable[[], BinaryIO]  # a new stream of the expanded bytes, from the start


def archive_payload(
    file: Path, name: Path, head: bytes, expanded_size: int | None = None
) -> Payload | None:
    """The payload of a gzip file or of a zip that is not a workbook; None for anything else.

    `expanded_size`: the size an earlier open found when it checked this archive, which is
    then not checked again (a process reading the file a second time). `name` is what
    messages call the file.
    """
    if head.startswith(GZIP_MAGIC):
        return _gzip_payload(file, name, expanded_size)
    if head.startswith(ZIP_MAGICS):
        return _zip_payload(file, name, checked=expanded_size is not None)
    return None


def _gzip_payload(file: Path, name: Path, expanded_size: int | None) -> Payload:
    size = expanded_size if expanded_size is not None else _checked_gzip(file, name)
    inner = name.with_suffix("") if name.suffix.lower() == ".gz" else Path("")
    return Payload("gzip", inner, size, lambda: _gzip_stream(file))


def _gzip_stream(file: Path) -> BinaryIO:
    return gzip.open(file, "rb")  # type: ignore[return-value]


def _checked_gzip(file: Path, name: Path) -> int:
    """Expand once, in bounded chunks, counting: the CRC and length are checked at the end."""
    compressed = file.stat().st_size
    limit = max(RATIO_FLOOR, RATIO * compressed)
    size = 0
    try:
        with gzip.open(file, "rb") as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise InputFileError(_bomb(name, compressed, size))
    except EOFError:
        raise InputFileError(
            f"{name} is a gzip archive that ends early: it was cut short after "
            f"{compressed:,} bytes, before the end of its compressed data"
        ) from None
    except (OSError, zlib.error) as exc:
        raise InputFileError(f"{name} is a gzip archive that is damaged ({exc})") from None
    return size


def _zip_payload(file: Path, name: Path, *, checked: bool) -> Payload | None:
    """The one file of a zip; None for a workbook, for a zip named as one (the workbook
    reader says what is wrong with it), and, unless named .zip, for an unreadable zip."""
    if name.suffix.lower() in _WORKBOOK_SUFFIXES:
        return None
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if name.suffix.lower() != ".zip":
            return None
        raise InputFileError(f"{name}: not a readable zip archive ({exc})") from None
    with archive:
        if _WORKBOOK_PART in archive.namelist():
            return None
        info = _single_member(name, archive)
        _check_member(name, info)
        if not checked:
            _check_inflation(name, archive, info)
    return Payload("zip", Path(info.filename), info.file_size, lambda: _member(file, info))


def _single_member(name: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith(_JUNK)
    ]
    if len(members) == 1:
        return members[0]
    if not members:
        raise InputFileError(f"{name}: the zip archive holds no file to import")
    listed = ", ".join(info.filename for info in members[:5])
    more = ", …" if len(members) > 5 else ""
    raise InputFileError(
        f"{name}: the zip archive holds {len(members)} files ({listed}{more}); it must hold "
        "exactly one: take the file out, or name it"
    )


def _check_member(name: Path, info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise InputFileError(f"{name}: {info.filename} is encrypted in the zip: take it out first")
    if info.compress_type not in _METHODS:
        raise InputFileError(
            f"{name}: {info.filename} is compressed with method {info.compress_type}, which "
            "custimport cannot read: take it out first"
        )
    if info.file_size > max(RATIO_FLOOR, RATIO * info.compress_size):
        raise InputFileError(_bomb(name, info.compress_size, info.file_size))


def _check_inflation(name: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    detail = inflation_damage(archive, info)
    if detail is not None:
        raise InputFileError(
            f"{name}: {info.filename} in the zip archive is damaged or cut short ({detail})"
        )


def _member(file: Path, info: zipfile.ZipInfo) -> BinaryIO:
    """The member's stream; it keeps the archive's file open until it is closed itself."""
    with zipfile.ZipFile(file) as archive:
        return archive.open(info)  # type: ignore[return-value]


def _bomb(name: Path, compressed: int, expanded: int) -> str:
    return (
        f"{name}: refused as a likely compression bomb: {compressed:,} bytes expand to "
        f"{expanded:,} or more, a ratio over {RATIO}:1; if the file is genuine, expand it first"
    )
