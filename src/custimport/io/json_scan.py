"""The top-level JSON array, one element at a time over chunks of text, in bounded memory.

`raw_decode` parses one element from a buffer that holds only the unparsed rest; the buffer
grows by doubling when an element is longer, so a 10 MB value costs a few re-parses rather
than thousands, and memory stays bounded by the largest element. The line and column of
the buffer's start are carried along, so a syntax error can say where it is in the file.

A syntax error (or an element nested too deeply to parse) leaves nowhere to resume from:
the broken element is yielded as an error, `stopped` says where reading ended, and the
elements after it are never read (SPEC §12.1). So do a file cut off inside the array and
text after its closing `]` (a second array appended, say), which are not elements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

Element = tuple[object, str | None]  # a parsed value, or None and a one-line syntax error

_SIGNIFICANT = re.compile(r"[^ \t\n\r]")
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
