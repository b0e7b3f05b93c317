"""The top-level JSON array, one element at a time over chunks of text, in bounded memory.

`raw_decode` parses one element from a buffer that holds only the unparsed rest; the buffer
grows by doubling when an element is longer, so a 10 MB value costs a few re-parses rather
than thousands, and memory stays bounded by the largest element. The line and column of
the buffer's start are carried along, so a syntax error can say where it is in the file.

A syntax error (or an element nested too deeply to parse) leaves nowhere to resume from:
the broken element is yielded as an error, `stopped` says where reading ended, and the
elements after it are never read (SPEC §12.1). So do a file cut off inside the array and
text after its closing `]` (a second array appended, say), which are not elements.

`object_keys` is the pre-pass that finds the columns of a JSON or JSON Lines file: the keys
of every object the main pass will read, in order of first appearance (SPEC §3). It reads
the file once more, streamed, and stops where the main pass stops: the same chunks through
a fresh decoder of the same codec (one that gives up does so at the same chunk), the same
`ArrayScanner` for an array, the same lines for JSON Lines. It needs no values, so it
skips what costs: no hooks (the C scanner does everything), no search for NUL or
undecodable text (0.3 s of the file below, in `TextStream`). Measured on 200,000 objects
of 12 keys (88 MB), CPU seconds: 0.63 for JSON Lines (0.49 of it the C scanner alone) and
0.73 for an array. The array's separators are one regex match per element, not four
calls: 1.21 -> 1.07 s for the whole main pass over the same array, which pays back part of
the pre-pass. At most `MAX_COLUMNS` keys: see there.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from custimport.errors import InputFileError
from custimport.io.text import CHUNK_SIZE, ESCAPE, READ_ERRORS

Element = tuple[object, str | None]  # a parsed value, or None and a one-line syntax error
Opener = Callable[[], BinaryIO]  # a new stream of the file's bytes (expanded, if archived)

_SIGNIFICANT = re.compile(r"[^ \t\n\r]")
_SEPARATOR = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")  # between elements: one match, not four calls
_NEAR_END = 64  # a parse error this close to the end of the buffer may just need more text
_REST_UNREAD = "; the rest of the file was not read"
_CUT_SHORT = "as if the file was cut short"


class ArrayScanner:
    """Elements of the array whose '[' `next_char` finds first; see the module docstring."""

    def __init__(self, texts: Iterator[str], decoder: json.JSONDecoder) -> None:
        self._texts = texts
        self._decoder = decoder
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # the line the buffer starts on
        self._column = 0  # characters on that line before the buffer starts
        self.count = 0  # elements begun
        self.stopped: str | None = None

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
        """After the opening '[': each element; after a syntax error, nothing more."""
        self._pos += 1
        char = self.next_char()
        while char != "]":
            start = self._pos
            self.count += 1
            try:
                yield self._decode(), None
            except (ValueError, RecursionError) as exc:
                yield None, self._broken_element(exc, start)
                return
            between = _SEPARATOR.match(self._buf, self._pos)
            if between is not None and between.end() < len(self._buf):  # the usual case
                self._pos = between.end()
                continue
            char = self.next_char()
            if char == ",":
                self._pos += 1
                self.next_char()  # raw_decode does not skip leading whitespace
            elif char != "]":
                yield from self._no_separator(char)
                return
        self._pos += 1
        if self.next_char():
            where = self._where(self._pos)
            self.stopped = (
                f"reading stopped at {where}: the text after the array's ']' was not read"
            )

    def _broken_element(self, exc: Exception, start: int) -> str:
        """The row error for the element that did not parse; `stopped` says the same."""
        at, cut = start, False
        if isinstance(exc, json.JSONDecodeError):
            at, detail = exc.pos, exc.msg
            cut = self._eof and at >= len(self._buf)
            if cut:
                detail = f"the file ends inside this element, {_CUT_SHORT}"
        elif isinstance(exc, RecursionError):
            detail = "nested too deeply"
        else:  # an integer of more digits than Python converts, say
            detail = str(exc)
        return self._stop_at_element(detail, self._where(at), cut=cut)

    def _no_separator(self, char: str) -> Iterator[Element]:
        """After an element, neither ',' nor ']': the next element is where it broke, or the
        file ended without closing the array (then there is no element to fail)."""
        where = self._where(self._pos)
        if not char:
            self.stopped = (
                f"reading stopped after element {self.count} ({where}): the file ends before "
                f"the array's closing ']', {_CUT_SHORT}"
            )
            return
        self.count += 1
        yield (
            None,
            self._stop_at_element(f"expected ',' or ']' after an element, found {char!r}", where),
        )

    def _stop_at_element(self, detail: str, where: str, *, cut: bool = False) -> str:
        """Set `stopped` for the element being read; its row error says the same, shorter."""
        rest = "" if cut else _REST_UNREAD
        self.stopped = (
            f"reading stopped at element {self.count} ({where}): invalid JSON: {detail}{rest}"
        )
        return f"invalid JSON: {detail} ({where})"

    def _where(self, pos: int) -> str:
        """`line L, column C` (1-based) of a position in the buffer."""
        newlines = self._buf.count("\n", 0, pos)
        if newlines:
            column = pos - self._buf.rfind("\n", 0, pos)
            return f"line {self._line + newlines}, column {column}"
        return f"line {self._line}, column {self._column + pos + 1}"

    def _decode(self) -> object:
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
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
        self._advance_start()
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

    def _advance_start(self) -> None:
        """Count the lines of the text about to be dropped, to keep `_where` right."""
        newlines = self._buf.count("\n", 0, self._pos)
        if newlines:
            self._line += newlines
            self._column = self._pos - self._buf.rfind("\n", 0, self._pos) - 1
        else:
            self._column += self._pos


def _maybe_cut(exc: json.JSONDecodeError, length: int) -> bool:
    """Whether the error may only mean the element continues beyond the buffer."""
    return exc.pos >= length - _NEAR_END or exc.msg.startswith("Unterminated string")


# Each row holds a cell for every column: a file whose objects each bring new keys would
# make rows as wide as the file is long (time and memory growing with its square).
MAX_COLUMNS = 2_000
_PLAIN = json.JSONDecoder()  # the C scanner alone: the same grammar as the reader's hooks
_LINE_ENDS = frozenset(("\n", "\r\n", "\r", ""))


def object_keys(path: Path, reopen: Opener, encoding: str, *, lines: bool) -> list[str]:
    """The keys of the objects that reading the bytes `reopen` gives as an array (or as
    JSON Lines) will yield, in order of first appearance; see the module docstring. `path`
    is what messages call the file."""
    seen: dict[str, None] = {}
    try:
        raw = reopen()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    with raw:
        chunks = _Chunks(raw, encoding)
        objects = _line_objects(chunks) if lines else _array_objects(chunks)
        for value in objects:
            if type(value) is dict and not seen.keys() >= value.keys():
                seen.update(dict.fromkeys(value))
                if len(seen) > MAX_COLUMNS:
                    raise InputFileError(
                        f"{path}: the objects hold more than {MAX_COLUMNS:,} different keys, "
                        "each a column: more than any file of records has"
                    )
    return list(seen)


class _Chunks:
    """The file decoded in the chunks `TextStream` reads, ending where its decoder would
    give up (`failed` then says so); without its per-chunk search for suspect text."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._codec = codecs.getincrementaldecoder(encoding)(ESCAPE)
        self.failed = False

    def __iter__(self) -> Iterator[str]:
        while True:
            try:
                data = self._raw.read(CHUNK_SIZE)
            except READ_ERRORS:  # damaged after it was checked: the main pass says where
                self.failed = True
                return
            try:
                text = self._codec.decode(data, final=not data)
            except Exception:  # a codec is foreign code; the main pass says why it stopped
                self.failed = True
                return
            if text:
                yield text
            if not data:
                return


def _array_objects(chunks: _Chunks) -> Iterator[object]:
    scanner = ArrayScanner(iter(chunks), _PLAIN)
    if scanner.next_char() == "[":
        for value, _ in scanner.elements():
            yield value


def _line_objects(chunks: _Chunks) -> Iterator[object]:
    """The value of each line that is one JSON value, split as `TextStream.lines` splits:
    at \n, \r\n or \r; a line cut short by a failed decoder is not a line."""
    pending = ""
    for text in chunks:
        if "\n" not in text and "\r" not in text:
            pending += text
            continue
        found = io.StringIO(pending + text, newline="").readlines()
        pending = "" if found[-1].endswith("\n") else found.pop()
        for line in found:
            try:  # the usual line: one value from its first character to its end
                value, end = _PLAIN.raw_decode(line)
                if line[end:] in _LINE_ENDS:
                    yield value
                    continue
            except (ValueError, RecursionError):
                pass
            yield _line_value(line)
    if pending and not chunks.failed:
        yield _line_value(pending)


def _line_value(line: str) -> object:
    """What `json.loads` makes of the line, or None when it is not one value."""
    try:
        return _PLAIN.decode(line)  # space around the value is fine, anything more is not
    except (ValueError, RecursionError):
        return None
