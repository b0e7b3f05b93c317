"""Which reader a file needs: its format from the option, the extension or the content,
its encoding, and the header read; `open_source` is the one way in for every caller.

XLSX needs openpyxl, slow to import, so it is imported only for a workbook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

from custimport.errors import InputFileError
from custimport.io.csv_reader import checked_delimiter, open_csv, sniff_delimiter
from custimport.io.encoding_guess import checked_codec, choose_encoding, sample_text
from custimport.io.json_reader import open_json, open_jsonl
from custimport.io.source import RowSource
from custimport.io.text import SAMPLE_SIZE, ZIP_MAGIC, TextStream

__all__ = ["FORMATS", "open_source"]

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
_BY_EXTENSION = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}
_BY_EXTENSION |= {".xlsm": "xlsx", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def open_source(
    path: Path,
    *,
    format: str = "auto",
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | None = None,
) -> RowSource:
    """Open `path`, detect what needs detecting and read the header; rows follow on iteration.

    Raises `InputFileError` for every problem that concerns the file as a whole.
    """
    path = Path(path)
    fmt = _checked_format(format)
    codec = checked_codec(encoding)
    delim = checked_delimiter(delimiter)
    raw, size = _open_binary(path)
    try:
        head = raw.read(SAMPLE_SIZE)
        if size == 0:
            raise InputFileError(f"{path}: file is empty: no header row")
        if fmt == "xlsx" or (fmt == "auto" and head.startswith(ZIP_MAGIC)):
            raw.close()
            return _open_xlsx(path, size, sheet, fmt)
        codec = choose_encoding(raw, head, size, path, codec)
        raw.seek(0)
        return _open_text(path, raw, size, fmt, codec, delim, head)
    except BaseException:
        raw.close()
        raise


def _open_xlsx(path: Path, size: int, sheet: str | None, fmt: str) -> RowSource:
    """Workbooks need openpyxl, which is slow to import; CSV-only runs never pay for it."""
    from custimport.io.xlsx_reader import open_xlsx

    expected = fmt == "xlsx" or path.suffix.lower() in (".xlsx", ".xlsm")
    return open_xlsx(path, size, sheet, expected=expected)


def _open_text(
    path: Path, raw: BinaryIO, size: int, fmt: str, codec: str, delim: str | None, head: bytes
) -> RowSource:
    whole = len(head) == size
    sample = sample_text(path, codec, head, whole=whole)
    if not whole:  # the last line may be cut short
        sample = sample[: max(sample.rfind("\n"), sample.rfind("\r")) + 1]
    sample = sample.removeprefix("\ufeff")
    if whole and not sample.strip():
        raise InputFileError(f"{path}: file is empty: no header row")
    if fmt == "auto":
        fmt = _format_from_content(path, sample)
    stream = TextStream(raw, codec)
    try:
        source = _open_format(path, stream, size, fmt, delim, sample)
    except InputFileError:
        if stream.stopped is not None:  # no header because the decoder gave up before it
            raise InputFileError(f"{path}: {stream.stopped}") from None
        raise
    source.stop_probes.insert(0, lambda: stream.stopped)
    return source


def _open_format(
    path: Path, stream: TextStream, size: int, fmt: str, delim: str | None, sample: str
) -> RowSource:
    if fmt in ("json", "jsonl"):
        return (open_json if fmt == "json" else open_jsonl)(path, stream, size)
    if delim is None:
        delim = "\t" if fmt == "tsv" else sniff_delimiter(sample)
    return open_csv(path, stream, size, fmt, delim)


def _checked_format(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt != "auto" and fmt not in FORMATS:
        raise InputFileError(f"unknown format '{fmt}' (choose from auto, {', '.join(FORMATS)})")
    return fmt


def _open_binary(path: Path) -> tuple[BinaryIO, int]:
    """Open for reading, turning the usual OS failures into one-line messages."""
    try:
        if path.is_dir():
            raise InputFileError(f"{path}: is a directory, not a file")
        raw = path.open("rb")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except PermissionError:
        raise InputFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open the file ({exc.strerror})") from None
    try:
        return raw, path.stat().st_size
    except OSError as exc:
        raw.close()
        raise InputFileError(f"{path}: cannot read the file ({exc.strerror})") from None


def _format_from_content(path: Path, sample: str) -> str:
    """The extension decides, except that a JSON-looking start wins for JSON-ish or odd names."""
    by_extension = _BY_EXTENSION.get(path.suffix.lower())
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
