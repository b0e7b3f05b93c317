"""JSON (a top-level array of objects) and JSON Lines input, streamed in constant memory.

Values become the text a person would have typed into a cell; anything that cannot be one
cell (a list, an object) fails its row rather than being flattened behind the user's back.
The parser's hooks see each object's pairs and each non-integer number's literal text, so
what `json.loads` would decide silently fails the row instead (SPEC §3, §12.2): a key
given twice (the last would win), NaN and Infinity (not JSON; they would become the text
`nan`), and a number written as a float that holds an integer beyond 2^53 (a double cannot
keep all its digits: 1.2345678901234567e16 would become 1.2345678901234568e+16). Other
numbers become their shortest exact text from the literal itself: `1e3` -> `1000`,
`0.10` -> `0.1`, `-0.0` -> `-0` (a zero keeps its sign, as `-0` does), never a binary
float's approximation.

The columns are the keys of all the objects, in order of first appearance (`object_keys`,
a streamed pre-pass that stops where reading stops), so every key of every object that is
read is a column, and the error log and the rejects file keep every value. A key that an
object does not have is a column that row does not have: it is left out of
`RawRow.by_column` (its cell is "" for the error log and rejects), so an update leaves that
field alone, as for a column missing from a CSV file. The first object must be a good one
(it shows that the file is what it says); a key of a later object that no report could
print (a NUL, bytes the codec cannot decode) is no column, and fails its row.
"""

from __future__ import annotations

import itertools
import json
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, DecimalException
from pathlib import Path

from custimport.errors import InputFileError
from custimport.io.json_scan import ArrayScanner, Element, Opener, object_keys
from custimport.io.source import (
    RawRow,
    RowSource,
    SourceInfo,
    cell_problem,
    failed_row,
    header_names,
)
from custimport.io.text import SUSPECT, TextStream

_NO_EXPONENT = "an exponent too far out to keep exact: write it as a string"
_EXACT_INTEGERS = Decimal(2**53)  # beyond this a double has gaps between integers
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # exact results are not rounded


class _Number(str):
    """A non-integer JSON literal as the text it stands for (`1e3` -> "1000")."""

    __slots__ = ()


class _Unusable(str):
    """A literal that fails its row (NaN, a float beyond 2^53); the text is the literal."""

    __slots__ = ("reason",)
    reason: str

    def __new__(cls, literal: str, reason: str) -> _Unusable:
        made = super().__new__(cls, literal)
        made.reason = reason
        return made


class _Duplicated(dict[str, object]):
    """An object in which `key` is given more than once."""

    __slots__ = ("key",)
    key: str


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """The object, or a `_Duplicated` one: a dict of the pairs would keep the last silently."""
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    duplicated = _Duplicated(pairs)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            duplicated.key = key
            break
        seen.add(key)
    return duplicated


def _number(literal: str) -> str:
    """The shortest exact text of a number written with a fraction or an exponent; a zero
    keeps its sign (`-0.0` -> "-0", as `-0` itself)."""
    try:
        value = Decimal(literal)
    except DecimalException:  # an exponent beyond even Decimal's range: 1e-99999999999999999999
        return _Unusable(literal, f"is the number {literal}, {_NO_EXPONENT}")
    if value.is_zero():
        return _Number("-0" if value.is_signed() else "0")
    if value == value.to_integral_value(context=_EXACT):
        if value.copy_abs() > _EXACT_INTEGERS:  # abs() would round, and overflow at 1e99999...
            reason = (
                f"is the number {literal}, an integer too large to be exact when written as a "
                "float: write it as a string"
            )
            return _Unusable(literal, reason)
        return _Number(str(int(value)))
    value = value.normalize(_EXACT)  # 0.10 -> 0.1; the exact context never rounds
    return _Number(format(value, "f" if value.adjusted() >= -6 else "e"))


def _integer(literal: str) -> int | str:
    """An integer literal as a number, but `-0` as its text: a number would drop the sign."""
    return _NEGATIVE_ZERO if literal == "-0" else int(literal)


_NEGATIVE_ZERO = _Number("-0")


def _constant(literal: str) -> str:
    return _Unusable(literal, f"is {literal}, which JSON does not allow: write it as a string")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_float=_number, parse_int=_integer, parse_constant=_constant
)


def open_json(path: Path, stream: TextStream, size: int, reopen: Opener) -> RowSource:
    """Header = keys of all the objects; row numbers are positions in the array. `reopen`
    gives the bytes again from the start, for the pre-pass that finds the columns."""
    scanner = ArrayScanner(stream.texts(), _DECODER)
    if scanner.next_char() != "[":
        raise InputFileError(f"{path}: JSON input must be an array of objects: [{{...}}, ...]")
    elements = scanner.elements()
    first = next(elements, None)
    if first is not None:
        _check_first(path, first, "element 1", stream.encoding)
    keys = _columns(path, reopen, stream.encoding, lines=False) if first is not None else []
    maker = _RowMaker(keys, header_names(keys, path), stream.encoding)
    rest = itertools.chain([first], elements) if first is not None else iter(())
    rows = (maker.row(n, value, error) for n, (value, error) in enumerate(rest, 1))
    info = SourceInfo(path, "json", stream.encoding, None, maker.header, size)
    return RowSource(
        info, rows, lambda: stream.position, stream.close, stopped=lambda: scanner.stopped
    )


def open_jsonl(path: Path, stream: TextStream, size: int, reopen: Opener) -> RowSource:
    """One object per physical line; blank lines are skipped, row numbers are line numbers.

    Lines are independent, so a bad one fails its row and reading goes on: JSON Lines never
    stops early (only its decoder can, see `TextStream`)."""
    lines = ((n, line) for n, line in enumerate(stream.lines(), 1) if line.strip())
    first_no, first_line = next(lines, (0, ""))
    if not first_no:
        raise InputFileError(f"{path}: file is empty: no header row")
    first = _parse_line(first_line)
    _check_first(path, first, f"line {first_no}", stream.encoding)
    keys = _columns(path, reopen, stream.encoding, lines=True)
    maker = _RowMaker(keys, header_names(keys, path), stream.encoding)
    rest = ((n, _parse_line(line)) for n, line in lines)
    both = itertools.chain([(first_no, first)], rest)
    rows = (maker.row(n, value, error) for n, (value, error) in both)
    info = SourceInfo(path, "jsonl", stream.encoding, None, maker.header, size)
    return RowSource(info, rows, lambda: stream.position, stream.close)


def _columns(path: Path, reopen: Opener, encoding: str, *, lines: bool) -> list[str]:
    """The keys of every object, less those no report could print (see the docstring)."""
    keys = object_keys(path, reopen, encoding, lines=lines)
    return [key for key in keys if not SUSPECT.search(key)]


def _check_first(path: Path, first: Element, where: str, encoding: str) -> None:
    """The first record names the columns, so it must be a well-formed object whose keys
    are text (a key with a bad byte would be a column no report could print)."""
    value, error = first
    if error is not None:
        detail = error.removeprefix("invalid JSON: ")
        raise InputFileError(f"{path}: {where} is not valid JSON: {detail}")
    if not isinstance(value, dict):
        raise InputFileError(f"{path}: {where} must be a JSON object, found {_kind(value)}")
    if SUSPECT.search("".join(value)):
        raise InputFileError(
            f"{path}: the keys of {where} contain a NUL character or bytes that are not "
            f"valid {encoding}"
        )


def _parse_line(line: str) -> Element:
    try:
        return _DECODER.decode(line.rstrip("\r\n")), None  # so an error's column is on this line
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:  # an integer of more digits than Python converts, say
        return None, f"invalid JSON: {exc}"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, _Number | _Unusable):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else "a number"


def _cell_text(value: object) -> str:
    """As typed in a cell: null -> "", true -> "true", 1e3 -> "1000"; nested as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _Nested(json.dumps(value, ensure_ascii=False))


class _Nested(str):
    """A list or object as JSON text: it cannot be one cell."""

    __slots__ = ()


_PLAIN = frozenset({str, _Number})  # the types of cells that are fine as they are


class _RowMaker:
    """Turns parsed objects into RawRows against the header: the keys of all the objects.

    A clean object costs a list of cells and three C-level checks (its keys, the types of
    its cells, one search for NUL or undecodable text); only a row that fails one of them
    looks for which cell is at fault."""

    def __init__(self, keys: list[str], header: list[str], encoding: str) -> None:
        self.keys = keys
        self.header = header
        self.known = frozenset(keys)
        self.slots = {
            key: (n, name) for n, (key, name) in enumerate(zip(keys, header, strict=True))
        }
        self.encoding = encoding

    def row(self, line_no: int, value: object, error: str | None) -> RawRow:
        if error is not None:
            return failed_row(line_no, [], error)
        if not isinstance(value, dict):
            found = f"expected a JSON object, found {_kind(value)}"
            return failed_row(line_no, [_cell_text(value)], found)
        cells = self._cells(value)
        if (
            type(value) is not dict
            or not self.known.issuperset(value)
            or not _PLAIN.issuperset(map(type, cells))
            or SUSPECT.search("".join(cells))
        ):
            problem = self._problem(value, cells)
            if problem is not None:
                return failed_row(line_no, cells, problem)
        if len(value) == len(self.keys):  # every key, and none that is unexpected
            return RawRow(line_no, dict(zip(self.header, cells, strict=True)), cells)
        slots = self.slots
        named = (slots[key] for key in value)  # only known keys: unknown ones failed above
        return RawRow(line_no, {name: cells[n] for n, name in named}, cells)

    def _cells(self, obj: dict[str, object]) -> list[str]:
        """The cells in header order, "" for a key the object lacks; a sparse object (keys
        of many objects, few in each) costs its own keys, not one call per column."""
        if len(obj) * 2 >= len(self.keys):
            get = obj.get
            return [_cell_text(get(key)) for key in self.keys]
        cells = [""] * len(self.keys)
        slots = self.slots
        for key, item in obj.items():
            if key in slots:
                cells[slots[key][0]] = _cell_text(item)
        return cells

    def _problem(self, obj: dict[str, object], cells: list[str]) -> str | None:
        if isinstance(obj, _Duplicated):
            return f"key '{obj.key}' is given more than once"
        extra = next((key for key in obj if key not in self.known), None)
        if extra is not None:
            return f"unexpected key '{extra}'"
        for name, cell in zip(self.header, cells, strict=True):
            if isinstance(cell, _Nested):
                return f"nested value in column '{name}'"
            if isinstance(cell, _Unusable):
                return f"value in column '{name}' {cell.reason}"
        return cell_problem(self.header, cells, self.encoding)
