"""Turn an input file (CSV, TSV, XLSX, JSON, JSONL) into a stream of raw rows.

The reader knows nothing about models: it yields `RawRow`s (line number, column -> text) and
leaves meaning to mapping and schemas. Problems with the file as a whole raise `InputFileError`
before the first row; anything wrong after the header becomes the error of one row, so one bad
line never stops an import of a million good ones. This module is the public interface (the
types, `open_source`) with the choice of format and the helpers every format shares; decoding
lives in `readers_text`, and each format in its own module (`readers_csv`, `readers_xlsx`,
`readers_json`), imported only when needed: they build on the types defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from custimport.errors import InputFileError
from custimport.readers_text import (
    SAMPLE_SIZE,
    SURROGATE,
    SUSPECT,
    ZIP_MAGIC,
    TextStream,
    checked_codec,
    choose_encoding,
    sample_text,
)

__all__ = ["RawRow", "RowSource", "SourceInfo", "open_source"]

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
_BY_EXTENSION = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx"}
_BY_EXTENSION |= {".xlsm": "xlsx", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True, slots=True)
class RawRow:
    """One record as read: the importer validates it, the rejects CSV writes `cells` back.

    `by_column` is column → text, or None when `cells` are in the order of `header` (the
    CSV hot path: a dict per row was a fifth of the background reader's time, and the
    preparer picks cells by position instead, see `mapping.record_at`).
    """

    line_no: int
    by_column: dict[str, str] | None
    cells: list[str]
    error: str | None = None
    header: Sequence[str] | None = None

    @property
    def values(self) -> dict[str, str]:
        """column → text, whichever way the reader kept it."""
        if self.by_column is not None:
            return self.by_column
        assert self.header is not None, "a row without by_column has a header"
        return dict(zip(self.header, self.cells, strict=False))


@dataclass(frozen=True)
class SourceInfo:
    """What was detected about the file, for `inspect` and the summary."""

    path: Path
    format: str
    encoding: str | None
    delimiter: str | None
    header: list[str]
    size_bytes: int


StopProbe = Callable[[], str | None]


class RowSource:
    """An open input: `info` is known up front, rows stream lazily on iteration.

    Use it as a context manager so the file is closed even when an import stops early.

    `stopped` is None unless the reader could not go on before the end of the file (a JSON
    syntax error, a sheet whose XML breaks, bytes the codec gives up on): then it is one
    line saying where and why, set by the time iteration ends, which ends normally. The
    row where reading broke, if there is one, has been yielded as a failed row; the rows
    after it were never read, so the import is not complete (SPEC §12.1).
    """

    def __init__(
        self,
        info: SourceInfo,
        rows: Iterator[RawRow],
        position: Callable[[], int],
        close: Callable[[], None],
        cell_lists: Iterator[list[str]] | None = None,
        stopped: StopProbe | None = None,
    ) -> None:
        self.info = info
        # asked in order once the rows end, the first reason wins: the decoder's comes
        # before the parser's, which only stopped where the failed decoder left it
        self.stop_probes = [stopped] if stopped is not None else []
        self._rows = rows
        # CSV/TSV: the parser's own lists of cells, for a scan that needs no RawRow (the
        # rows and these are one stream: use one or the other)
        self.cell_lists = cell_lists
        self._position = position
        self._close = close
        self._last = 0
        self._done = False
        self._closed = False
        # set by the format reader when it cannot go on before the end of the file (a JSON
        # syntax error, a broken workbook): where and why; the rows after it are unread
        self.stopped: str | None = None

    def __iter__(self) -> Iterator[RawRow]:
        yield from self._rows
        self._done = True
        for probe in self.stop_probes:
            self.stopped = self.stopped or probe()
        if self.stopped is not None:  # printable whatever the file held
            self.stopped = SURROGATE.sub("\ufffd", self.stopped)

    def bytes_read(self) -> int:
        """Bytes consumed so far: monotonic, and exactly the file size once iteration ends."""
        if self._done:
            return self.info.size_bytes
        if not self._closed:
            self._last = max(self._last, min(self._position(), self.info.size_bytes))
        return self._last

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> RowSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


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
    # readers_csv builds on the types above, so (like the other formats) it is imported here.
    from custimport.readers_csv import checked_delimiter

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
    from custimport.readers_xlsx import open_xlsx

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
        from custimport.readers_json import open_json, open_jsonl

        return (open_json if fmt == "json" else open_jsonl)(path, stream, size)
    from custimport.readers_csv import open_csv, sniff_delimiter

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
    import json

    lines = [line for line in sample.splitlines() if line.strip()][:2]
    try:
        return len(lines) == 2 and all(isinstance(json.loads(line), dict) for line in lines)
    except ValueError:
        return False


def header_names(cells: list[str], path: Path) -> list[str]:
    """Column names: a BOM dropped, empty ones named by position, duplicates refused."""
    if cells:
        cells = [cells[0].removeprefix("\ufeff"), *cells[1:]]
    names = [cell if cell.strip() else f"(column {n})" for n, cell in enumerate(cells, 1)]
    positions: dict[str, list[int]] = {}
    for n, cell in enumerate(cells, 1):
        if cell.strip():
            positions.setdefault(cell.strip(), []).append(n)
    duplicates = [
        f"'{name}' (columns {', '.join(map(str, where))})"
        for name, where in positions.items()
        if len(where) > 1
    ]
    if duplicates:
        raise InputFileError(
            f"{path}: duplicate column names in the header: {'; '.join(duplicates)}"
        )
    return names


def cell_problem(header: list[str], cells: list[str], encoding: str) -> str | None:
    """The row error for the first value holding a NUL or undecodable bytes, if any."""
    for name, cell in zip(header, cells, strict=False):
        found = SUSPECT.search(cell)
        if found is None:
            continue
        if found.group() == "\x00":
            return f"value in column '{name}' contains a NUL character"
        return f"value in column '{name}' contains bytes that are not valid {encoding}"
    return None


def failed_row(line_no: int, cells: list[str], error: str) -> RawRow:
    """A row that cannot be used; undecodable bytes show as U+FFFD so the rejects file and the
    error log are text (a message may quote the file: a key with a bad byte, say)."""
    cells = [SURROGATE.sub("\ufffd", cell) for cell in cells]
    return RawRow(line_no, {}, cells, SURROGATE.sub("\ufffd", error))


def float_text(value: float) -> str:
    """What a person would have typed: 42.0 -> "42", 0.1 -> "0.1" (shortest round-trip repr)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)
