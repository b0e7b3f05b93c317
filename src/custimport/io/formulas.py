"""The CSV-injection escape (SPEC §12.7): one definition for export, rejects files and import.

A spreadsheet opening a CSV or TSV file runs a cell that starts with `=`, `+`, `-` or `@`
(and, in some programs, a tab or a carriage return) as a formula: `=HYPERLINK(...)` in an
account name becomes a link that sends the row to someone else. OWASP's rule is to
prefix such a cell with `'`, which spreadsheets show as text and do not evaluate. Plain
numbers and phone numbers (`-5`, `+49 30 1234567`) are left alone: what a spreadsheet
computes from digits, spaces and `.,()/+-` is at worst a number, never a function call.

The escape must be exactly invertible, or an export would not import back unchanged and a
value that really starts with `'` would lose it. So a value that already has quotes before
such a character gets one more (`'=x` -> `''=x`), and `unescape` removes a quote only from
a cell that `escape` produces: `unescape(escape(v)) == v` for every string, and a file
written by anyone else changes only where its cell reads exactly like an escaped one.
"""

import re
from collections.abc import Sequence

# Only cells starting with one of these can need the escape: the cheap first test.
FIRST_CHARS = frozenset("'=+-@\t\r")
_FORMULA_LIKE = re.compile(r"'*[=+\-@\t\r]")
_NUMBER_OR_PHONE = re.compile(r"[+-][0-9 .,()/+-]*[0-9][0-9 .,()/+-]*(?:[eE][+-]?[0-9]+)?")


def needs_escape(value: str) -> bool:
    """Whether a spreadsheet would run `value` (or `value` is a quote-prefixed such cell)."""
    return _FORMULA_LIKE.match(value) is not None and _NUMBER_OR_PHONE.fullmatch(value) is None


def escape(value: str) -> str:
    """`value` as a CSV/TSV cell: `'` added in front when a spreadsheet would run it."""
    if value and value[0] in FIRST_CHARS and needs_escape(value):
        return "'" + value
    return value


def unescape(cell: str) -> str:
    """The value `escape` turned into `cell`; any other cell as it is."""
    if cell.startswith("'") and needs_escape(cell[1:]):
        return cell[1:]
    return cell


def escaped_cells(cells: Sequence[str | None]) -> Sequence[str | None]:
    """A row as CSV/TSV cells (None stays None); the same sequence when nothing needs it,
    which is nearly every row, so a clean row costs one look at each first character."""
    for value in cells:
        if value and value[0] in FIRST_CHARS:
            return [escape(v) if v else v for v in cells]
    return cells


def unescape_cells(cells: list[str]) -> None:
    """Undo `escape` in a row of cells read from CSV/TSV, in place."""
    for n, cell in enumerate(cells):
        if cell.startswith("'"):
            cells[n] = unescape(cell)
