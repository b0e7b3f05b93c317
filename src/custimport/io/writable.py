"""What an export may write: values the readers give back as written, and import stores as is.

SPEC §12.6: whatever export writes, import reads back unchanged, or the export refuses it
with one line naming the row and column. A value no text file holds so that its reader
gives it back: a NUL (the readers fail its row), a lone surrogate (UTF-8 cannot encode it).
What XLSX cannot hold besides: what XML 1.0 cannot (control characters, U+FFFE, U+FFFF), a
carriage return (XML reads it back as a line feed) and more than 32,767 characters (openpyxl
would cut the rest off). Given the import's limits, what import would not store as it is:
an empty string (read as NULL), white space at either end (trimmed), more characters than
the column accepts. The test that runs on every value is cheap; only a value that fails it
is asked what is wrong, for the message.
"""

import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from custimport.errors import UsageError

Row = Sequence[str | None]
Problem = Callable[[str, int], str | None]  # (value, column position) -> why, or None

XLSX_MAX_CHARS = 32_767  # what Excel allows in a cell, and where openpyxl cuts a value off
_SURROGATE = re.compile("[\ud800-\udfff]")
# What XML 1.0 cannot hold (C0 controls but tab and line breaks, U+FFFE, U+FFFF), and \r,
# which it can hold only as a character reference that openpyxl does not write.
XLSX_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]")
_INSTEAD = "; export as csv, tsv, json or jsonl instead"


class UnwritableValueError(UsageError):
    """A value the export cannot write so that import reads it back unchanged.

    `record` counts the rows from 1 (row `record + 1` of a file with a header row); `key`,
    when the caller knows it, says which record that is (`account_number 'A-1'`).
    """

    def __init__(
        self, record: int, column: str, reason: str, row: Row, key: str | None = None
    ) -> None:
        where = f"row {record + 1} ({key})" if key else f"row {record + 1}"
        super().__init__(f"{where}, column '{column}': {reason}")
        self.record = record
        self.column = column
        self.reason = reason
        self.row = row


def text_problem(value: str, _column: int = 0) -> str | None:
    """Why no text file can hold `value` so that its reader gives it back, or None."""
    if "\x00" in value:
        return "the value holds a NUL character, which import refuses"
    if found := _SURROGATE.search(value):
        half = _code(found.group())
        return f"the value holds {half}, half of a UTF-16 pair, which UTF-8 cannot hold"
    return None


def import_problem(limits: Sequence[int]) -> Problem:
    """`text_problem`, then why import would store `value` (of column n) differently."""

    def problem(value: str, column: int) -> str | None:
        if not value:
            return "the value is an empty string, which import reads as no value (NULL)"
        if len(value) > limits[column]:
            return (
                f"the value has {len(value):,} characters and import accepts at most "
                f"{limits[column]:,} in this column"
            )
        if found := text_problem(value):
            return found
        if value != value.strip():
            return "the value starts or ends with white space, which import removes"
        return None

    return problem


def holds_unwritable_text(text: str) -> bool:
    """Whether `text` (a block of formatted rows) holds a value `text_problem` refuses: a
    test of the block instead of each value in it (a million-line change file: 0.1 s
    against 0.8). UTF-8 encodes any text but one with a lone surrogate, and faster than a
    search for one."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def xlsx_problem(value: str) -> str | None:
    """Why XLSX cannot carry `value` (which passed `text_problem`), or None."""
    if len(value) > XLSX_MAX_CHARS:
        return (
            f"the value has {len(value):,} characters and an XLSX cell holds at most "
            f"{XLSX_MAX_CHARS:,}{_INSTEAD}"
        )
    found = XLSX_UNFIT.search(value)
    if found is None:
        return None
    if found.group() == "\r":
        return f"the value holds a carriage return, which XLSX reads back as a line feed{_INSTEAD}"
    char = _code(found.group())
    if found.group() in "\ufffe\uffff":
        return f"the value holds {char}, which XLSX cannot store{_INSTEAD}"
    return f"the value holds a control character ({char}) that XLSX cannot store{_INSTEAD}"


def _code(char: str) -> str:
    return f"U+{ord(char):04X}"


def checked(
    columns: Sequence[str],
    rows: Iterable[Row],
    problem: Problem,
    limits: Sequence[int],
    as_imported: bool,
) -> Iterator[Row]:
    """The rows, each value tested before it is written; only a value that fails the cheap
    test is asked about its `problem`. `strip` returns the very same string when there is
    nothing to strip: the whole test takes about 0.2 s of CPU for 200,000 accounts, whose
    CSV export takes 2 s."""
    for record, row in enumerate(rows, 1):
        for value, limit in zip(row, limits, strict=False):  # strict costs; rows fit columns
            if value is not None and (
                (as_imported and (len(value) > limit or value.strip() is not value or not value))
                or "\x00" in value
                or (not value.isascii() and _SURROGATE.search(value))
            ):
                refuse(record, columns, row, problem)
        yield row


def refuse(record: int, columns: Sequence[str], row: Row, problem: Problem) -> None:
    """Raise for the first value of `row` that has a `problem`; return if none has."""
    for n, (column, value) in enumerate(zip(columns, row, strict=True)):
        reason = problem(value, n) if value is not None else None
        if reason is not None:
            raise UnwritableValueError(record, column, reason, row)
