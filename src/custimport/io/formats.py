"""Which reader a file needs: its format from the option, the extension or the content,
its encoding, and the header read; `open_source` is the one way in for every caller.

Standard input (`-`) is first copied to a private file (`staging` says why), and a gzip or
single-file zip is read as the format inside (`archives`); from there on both are files
like any other, named in messages and reports as the user gave them. Title rows above the
header are skipped by `--header-row`, and Excel's `sep=;` first line sets the delimiter
and is skipped; line numbers stay physical either way.

XLSX needs openpyxl, slow to import, so it is imported only for a workbook.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from custimport.errors import InputFileError
from custimport.io.archives import Payload, archive_payload
from custimport.io.csv_reader import DELIMITERS, checked_delimiter, open_csv, sniff_delimiter
from custimport.io.encoding_guess import checked_codec, choose_encoding, sample_text
from custimport.io.json_reader import open_json, open_jsonl
from custimport.io.source import RowSource, SourceInfo
from custimport.io.staging import Scratch, copy_if_stream, copy_stdin, is_stdin
from custimport.io.text import SAMPLE_SIZE, ZIP_MAGIC, TextStream

__all__ = ["FORMATS", "open_source", "reopen_arguments"]

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
_BY_EXTENSION = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}
_BY_EXTENSION |= {".xlsm": "xlsx", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# Excel's first line naming the delimiter; it is not part of the data
_EXCEL_SEP = re.compile(f"sep=([{re.escape(DELIMITERS)}])(?:\r\n|\n|\r|$)", re.IGNORECASE)


@dataclass(frozen=True)
class _Asked:
    """What the caller asked for, checked, and where the file's bytes are."""

    name: Path  # what messages and reports call the file: as given, `-` for stdin
    format: str
    codec: str | None
    delimiter: str | None
    sheet: str | None
    header_row: int | None
    expanded_size: int | None
    scratch: Scratch


def open_source(
    path: Path,
    *,
    format: str = "auto",
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    name: Path | None = None,
    expanded_size: int | None = None,
) -> RowSource:
    """Open `path` (`-`: standard input), detect what needs detecting and read the header;
    rows follow on iteration. Closing it removes any temporary file it made.

    `name` and `expanded_size` are for reading a file again (`reopen_arguments`): what to
    call it, and the size an archive was found to expand to (it is not checked again).
    Raises `InputFileError` for every problem that concerns the file as a whole.
    """
    fmt = _checked_format(format)
    asked = _Asked(
        Path(name) if name is not None else Path(path),
        fmt,
        checked_codec(encoding),
        checked_delimiter(delimiter),
        sheet,
        _checked_header_row(header_row, fmt),
        expanded_size,
        Scratch(),
    )
    try:
        given = Path(path)
        file = (
            copy_stdin(asked.scratch) if is_stdin(given) else copy_if_stream(given, asked.scratch)
        )
        source = _open_file(file, asked)
    except BaseException:
        asked.scratch.remove()
        raise
    source.on_close(asked.scratch.remove)
    source.info = dataclasses.replace(
        source.info, path=asked.name, file=None if file == asked.name else file
    )
    return source


def reopen_arguments(info: SourceInfo) -> dict[str, Any]:
    """open_source's arguments for reading the file again exactly as it was read, from its
    own copy if it made one (standard input, a workbook taken out of an archive), by the
    same name, and without checking an archive again. The sheet is the caller's to add."""
    return {
        "path": info.unpacked or info.given_file,
        "name": info.path,
        "format": info.format,
        "encoding": info.encoding or "auto",
        "delimiter": info.delimiter,
        "header_row": info.header_row,
        "expanded_size": info.size_bytes if info.compression and not info.unpacked else None,
    }


def _open_file(file: Path, asked: _Asked) -> RowSource:
    raw, size = _open_binary(file, asked.name)
    try:
        head = raw.read(SAMPLE_SIZE)
        if size == 0:
            raise InputFileError(f"{asked.name}: file is empty: no header row")
        payload = archive_payload(file, asked.name, head, asked.expanded_size)
        if payload is not None:
            raw.close()
            return _open_payload(payload, asked)
        if asked.format == "xlsx" or (asked.format == "auto" and head.startswith(ZIP_MAGIC)):
            raw.close()
            expected = asked.format == "xlsx" or asked.name.suffix.lower() in _WORKBOOK_SUFFIXES
            return _open_xlsx(file, size, asked, expected=expected)
        codec = choose_encoding(raw, head, size, asked.name, asked.codec)
        raw.seek(0)
        return _open_text(raw, size, head, codec, asked, asked.name, lambda: file.open("rb"))
    except BaseException:
        raw.close()
        raise


def _open_payload(payload: Payload, asked: _Asked) -> RowSource:
    """The file inside an archive: a workbook is copied out (openpyxl seeks), text streams."""
    raw = payload.open()
    try:
        head = raw.read(SAMPLE_SIZE)
        if not head:
            inside = f" ({payload.inner})" if payload.inner.name else ""
            raise InputFileError(f"{asked.name}: the file inside{inside} is empty: no header row")
        if asked.format == "xlsx" or (asked.format == "auto" and head.startswith(ZIP_MAGIC)):
            raw.seek(0)
            workbook = asked.scratch.copy(raw, ".xlsx")
            raw.close()
            source = _open_xlsx(workbook, workbook.stat().st_size, asked, expected=True)
            source.info = dataclasses.replace(source.info, unpacked=workbook)
        else:
            codec = choose_encoding(raw, head, payload.size, asked.name, asked.codec)
            raw.seek(0)
            source = _open_text(raw, payload.size, head, codec, asked, payload.inner, payload.open)
    except BaseException:
        raw.close()
        raise
    source.info = dataclasses.replace(source.info, compression=payload.kind)
    return source


def _open_xlsx(file: Path, size: int, asked: _Asked, *, expected: bool) -> RowSource:
    """Workbooks need openpyxl, which is slow to import; CSV-only runs never pay for it."""
    from custimport.io.xlsx_reader import open_xlsx

    source = open_xlsx(
        file, size, asked.sheet, expected=expected, name=asked.name, header_row=asked.header_row
    )
    source.info = dataclasses.replace(source.info, header_row=asked.header_row)
    return source


def _open_text(
    raw: BinaryIO,
    size: int,
    head: bytes,
    codec: str,
    asked: _Asked,
    typed: Path,
    reopen: Callable[[], BinaryIO],
) -> RowSource:
    """`typed`: the name whose extension tells the format (inside an archive, the inner
    file's); `reopen`: a new stream of the same bytes, for JSON's pre-pass."""
    path = asked.name
    whole = len(head) == size
    sample = sample_text(path, codec, head, whole=whole)
    if not whole:  # the last line may be cut short
        sample = sample[: max(sample.rfind("\n"), sample.rfind("\r")) + 1]
    sample = sample.removeprefix("\ufeff")
    if whole and not sample.strip():
        raise InputFileError(f"{path}: file is empty: no header row")
    fmt = asked.format if asked.format != "auto" else _format_from_content(typed, path, sample)
    stream = TextStream(raw, codec)
    try:
        source = _open_format(path, stream, size, fmt, asked, sample, reopen)
    except InputFileError:
        if stream.stopped is not None:  # no header because the decoder gave up before it
            raise InputFileError(f"{path}: {stream.stopped}") from None
        raise
    source.stop_probes.insert(0, lambda: stream.stopped)
    return source


def _open_format(
    path: Path,
    stream: TextStream,
    size: int,
    fmt: str,
    asked: _Asked,
    sample: str,
    reopen: Callable[[], BinaryIO],
) -> RowSource:
    if fmt in ("json", "jsonl"):
        _checked_header_row(asked.header_row, fmt)
        return (open_json if fmt == "json" else open_jsonl)(path, stream, size, reopen)
    excel_sep = _EXCEL_SEP.match(sample)
    skip = asked.header_row - 1 if asked.header_row else int(excel_sep is not None)
    delim = asked.delimiter or (excel_sep.group(1) if excel_sep else None)
    if delim is None:
        below = "".join(io.StringIO(sample, newline="").readlines()[skip:])
        delim = "\t" if fmt == "tsv" else sniff_delimiter(below)
    source = open_csv(path, stream, size, fmt, delim, skip=skip, exact=asked.header_row is not None)
    source.info = dataclasses.replace(source.info, header_row=asked.header_row)
    return source


def _checked_format(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt != "auto" and fmt not in FORMATS:
        raise InputFileError(f"unknown format '{fmt}' (choose from auto, {', '.join(FORMATS)})")
    return fmt


def _checked_header_row(header_row: int | None, fmt: str) -> int | None:
    if header_row is None:
        return None
    if header_row < 1:
        raise InputFileError(f"--header-row must be 1 or more, got {header_row}")
    if fmt in ("json", "jsonl"):
        raise InputFileError(
            f"--header-row is for CSV, TSV and XLSX files: {fmt.upper()} objects name their "
            "own columns"
        )
    return header_row


def _open_binary(path: Path, name: Path) -> tuple[BinaryIO, int]:
    """Open for reading, turning the usual OS failures into one-line messages."""
    try:
        if path.is_dir():
            raise InputFileError(f"{name}: is a directory, not a file")
        raw = path.open("rb")
    except FileNotFoundError:
        raise InputFileError(f"{name}: no such file") from None
    except PermissionError:
        raise InputFileError(f"{name}: permission denied") from None
    except OSError as exc:
        raise InputFileError(f"{name}: cannot open the file ({exc.strerror})") from None
    try:
        return raw, path.stat().st_size
    except OSError as exc:
        raw.close()
        raise InputFileError(f"{name}: cannot read the file ({exc.strerror})") from None


def _format_from_content(typed: Path, path: Path, sample: str) -> str:
    """The extension decides, except that a JSON-looking start wins for JSON-ish or odd names.
    `typed` is the name whose extension counts (inside an archive, the inner file's)."""
    by_extension = _BY_EXTENSION.get(typed.suffix.lower())
    if by_extension in ("csv", "tsv"):
        return by_extension
    if by_extension == "xlsx":
        raise InputFileError(f"{path}: not an xlsx workbook (use --format csv if it is text)")
    first = sample.lstrip()[:1]
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl" if by_extension != "json" or _looks_like_json_lines(sample) else "json"
    return by_extension or "csv"


def _looks_like_json_lines(sample: str) -> bool:
    """A `.json` file whose first two lines are each an object is JSON Lines misnamed; a
    single object (`{"data": [...]}`) is not, and is refused as not an array."""
    lines = [line for line in sample.splitlines() if line.strip()][:2]
    try:
        return len(lines) == 2 and all(isinstance(json.loads(line), dict) for line in lines)
    except ValueError:
        return False
