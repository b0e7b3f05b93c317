"""What every reader yields and shares: raw rows, what was learnt about the file, and the
stream of rows with its stop probes.

A reader knows nothing about models: it yields `RawRow`s (line number, column -> text) and
leaves meaning to mapping and schemas. Problems with the file as a whole raise `InputFileError`
before the first row; anything wrong after the header becomes the error of one row, so one bad
line never stops an import of a million good ones. Decoding lives in `text`, each format in
its own module (`csv_reader`, `json_reader`, `xlsx_reader`), and `formats.open_source` picks
one; all of them build on the types here, which import none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from custimport.errors import InputFileError
from custimport.io.text import SURROGATE, SUSPECT

__all__ = ["RawRow", "RowSource", "SourceInfo"]


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

    path: Path  # as the user named it (`-`: standard input): what reports show
    format: str  # of the data (inside an archive: of the file inside)
    encoding: str | None
    delimiter: str | None
    header: list[str]
    size_bytes: int  # of the data read (inside an archive: expanded)
    # where the bytes as given are when not at `path`: standard input's private copy
    file: Path | None = None
    # a workbook taken out of its archive into a private file: what reading again opens
    unpacked: Path | None = None
    compression: str | None = None  # "gzip" or "zip" when the data came out of one
    header_row: int | None = None  # --header-row, as given

    @property
    def given_file(self) -> Path:
        """The file as given (compressed, if it is): what the run record's digest is of."""
        return self.file or self.path


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

    def on_close(self, action: Callable[[], None]) -> None:
        """Run `action` when the source closes, after the file (removing a temporary copy)."""
        close = self._close

        def then() -> None:
            try:
                close()
            finally:
                action()

        self._close = then

    def __enter__(self) -> RowSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


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
