"""JSON (a top-level array of objects) and JSON Lines input, streamed in constant memory.

Values become the text a person would have typed into a cell; anything that cannot be one
cell (a list, an object) fails its row rather than being flattened behind the user's back.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

from custimport.errors import InputFileError
from custimport.readers import (
    RawRow,
    RowSource,
    SourceInfo,
    cell_problem,
    failed_row,
    float_text,
    header_names,
)
from custimport.readers_text import TextStream

_SIGNIFICANT = re.compile(r"[^ \t\n\r]")
_DECODER = json.JSONDecoder()
_NEAR_END = 64  # a parse error this close to the end of the buffer may just need more text

Element = tuple[object, str | None]  # a parsed value, or None and a one-line syntax error


def open_json(path: Path, stream: TextStream, size: int) -> RowSource:
    """Header = keys of the first object; row numbers are positions in the array."""
    scanner = _ArrayScanner(stream.texts())
    if scanner.next_char() != "[":
        raise InputFileError(f"{path}: JSON input must be an array of objects: [{{...}}, ...]")
    elements = scanner.elements()
    first = next(elements, None)
    if first is not None:
        _check_first(path, first, "element 1")
    keys = list(first[0]) if first is not None and isinstance(first[0], dict) else []
    maker = _RowMaker(keys, header_names(keys, path), stream.encoding)
    rest = itertools.chain([first], elements) if first is not None else iter(())
    rows = (maker.row(n, value, error) for n, (value, error) in enumerate(rest, 1))
    info = SourceInfo(path, "json", stream.encoding, None, maker.header, size)
    return RowSource(info, rows, lambda: stream.position, stream.close)


def open_jsonl(path: Path, stream: TextStream, size: int) -> RowSource:
    """One object per physical line; blank lines are skipped, row numbers are line numbers."""
    lines = ((n, line) for n, line in enumerate(stream.lines(), 1) if line.strip())
    first_no, first_line = next(lines, (0, ""))
    if not first_no:
        raise InputFileError(f"{path}: file is empty: no header row")
    first = _parse_line(first_line)
    _check_first(path, first, f"line {first_no}")
    keys = list(first[0]) if isinstance(first[0], dict) else []
    maker = _RowMaker(keys, header_names(keys, path), stream.encoding)
    rest = ((n, _parse_line(line)) for n, line in lines)
    both = itertools.chain([(first_no, first)], rest)
    rows = (maker.row(n, value, error) for n, (value, error) in both)
    info = SourceInfo(path, "jsonl", stream.encoding, None, maker.header, size)
    return RowSource(info, rows, lambda: stream.position, stream.close)


def _check_first(path: Path, first: Element, where: str) -> None:
    """The first record names the columns, so it must be a well-formed object."""
    value, error = first
    if error is not None:
        detail = error.removeprefix("invalid JSON: ")
        raise InputFileError(f"{path}: {where} is not valid JSON: {detail}")
    if not isinstance(value, dict):
        raise InputFileError(f"{path}: {where} must be a JSON object, found {_kind(value)}")


def _parse_line(line: str) -> Element:
    try:
        return json.loads(line.rstrip("\r\n")), None  # so an error's column is on this line
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except (ValueError, RecursionError) as exc:
        return None, _syntax_error(exc)


def _syntax_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {exc}"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else "a number"


def _cell_text(value: object) -> str:
    """As typed in a cell: null -> "", true -> "true", 42.0 -> "42"; nested as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    return json.dumps(value, ensure_ascii=False)


class _RowMaker:
    """Turns parsed objects into RawRows against the header taken from the first object."""

    def __init__(self, keys: list[str], header: list[str], encoding: str) -> None:
        self.keys = keys
        self.header = header
        self.known = frozenset(keys)
        self.encoding = encoding

    def row(self, line_no: int, value: object, error: str | None) -> RawRow:
        if error is not None:
            return failed_row(line_no, [], error)
        if not isinstance(value, dict):
            found = f"expected a JSON object, found {_kind(value)}"
            return failed_row(line_no, [_cell_text(value)], found)
        cells = [_cell_text(value.get(key)) for key in self.keys]
        problem = self._problem(value, cells)
        if problem is not None:
            return failed_row(line_no, cells, problem)
        return RawRow(line_no, dict(zip(self.header, cells, strict=True)), cells)

    def _problem(self, obj: dict[str, object], cells: list[str]) -> str | None:
        extra = next((key for key in obj if key not in self.known), None)
        if extra is not None:
            return f"unexpected key '{extra}'"
        for name, key in zip(self.header, self.keys, strict=True):
            if isinstance(obj.get(key), list | dict):
                return f"nested value in column '{name}'"
        return cell_problem(self.header, cells, self.encoding)


class _ArrayScanner:
    """Walks a top-level JSON array one element at a time over chunks of text.

    `raw_decode` parses one element from a buffer that holds only the unparsed rest; the
    buffer grows by doubling when an element is longer, so a 10 MB value costs a few
    re-parses rather than thousands, and memory stays bounded by the largest element.
    """

    def __init__(self, texts: Iterator[str]) -> None:
        self._texts = texts
        self._buf = ""
        self._pos = 0
        self._eof = False

    def next_char(self) -> str:
        """The next non-whitespace character (not consumed), or "" at the end of the input."""
        while True:
            found = _SIGNIFICANT.search(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return found.group()
            self._pos = len(self._buf)
            if not self._read_more():
                return ""

    def elements(self) -> Iterator[Element]:
        """After the opening '[': each element, or one syntax error and then nothing."""
        self._pos += 1
        if self.next_char() == "]":
            self._pos += 1
            yield from self._trailing()
            return
        while True:
            self.next_char()  # raw_decode does not skip leading whitespace
            try:
                yield self._decode(), None
            except (ValueError, RecursionError) as exc:
                yield None, _syntax_error(exc)
                return
            char = self.next_char()
            self._pos += 1
            if char == "]":
                yield from self._trailing()
                return
            if char != ",":
                found = f"found {char!r}" if char else "the file ends inside the array"
                yield None, f"invalid JSON: expected ',' or ']' after an element, {found}"
                return

    def _trailing(self) -> Iterator[Element]:
        if self.next_char():
            yield None, "invalid JSON: text after the closing ']'"

    def _decode(self) -> object:
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof or not _maybe_cut(exc, len(self._buf)):
                    raise
            else:
                if end < len(self._buf) or self._eof:  # a number may go on in the next chunk
                    self._pos = end
                    return value
            self._read_more()

    def _read_more(self) -> bool:
        """Keep the unparsed rest and append at least as much again; False at the end."""
        if self._eof:
            return False
        parts = [self._buf[self._pos :]]
        self._pos = 0
        wanted, got = max(len(parts[0]), 1), 0
        for text in self._texts:
            parts.append(text)
            got += len(text)
            if got >= wanted:
                break
        else:
            self._eof = True
        self._buf = "".join(parts)
        return got > 0


def _maybe_cut(exc: json.JSONDecodeError, length: int) -> bool:
    """Whether the error may only mean the element continues beyond the buffer."""
    return exc.pos >= length - _NEAR_END or exc.msg.startswith("Unterminated string")
