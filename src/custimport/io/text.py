"""Bytes to text: the decoded stream every text format reads from (the codec is chosen
in `encoding_guess`).

Bytes that do not decode become lone surrogates (the `ESCAPE` error handler) so that they
fail only the row they are in; `TextStream` notes whether any were seen at all.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

SAMPLE_SIZE = 64 * 1024
CHUNK_SIZE = 256 * 1024
ZIP_MAGIC = b"PK\x03\x04"
SUSPECT = re.compile("[\x00\ud800-\udfff]")
SURROGATE = re.compile("[\ud800-\udfff]")
# Appended after the last line: a quoted field left open at end of file swallows it, which is
# how an unterminated quote is told apart from a closed one without re-parsing the file.
EOF = "\uf8ff custimport end of file \uf8ff"
EOF_LINE = EOF + "\n"
ESCAPE = "custimport-escape"
# what reading the bytes part-way may raise: an archive that changed after it was checked
# (cut short, damaged), a disk that fails
READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode each bad byte to U+DC00+byte, like surrogateescape but for every byte value
    (UTF-16 needs that): the bytes survive decoding and fail only the row they are in."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + byte) for byte in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(ESCAPE, _escape_undecodable)


class TextStream:
    """Decodes the file in large chunks and hands out text or physical lines.

    Decoding here rather than through TextIOWrapper means one scan per chunk tells whether a
    NUL or an undecodable byte exists at all, so rows pay for those checks only after one has
    been seen (`suspect` never goes back to False), and `position` is a counter, not a syscall.

    A decoder that gives up part-way (a codec that passed the check of the first 64 KB, then
    raised something the error handler cannot turn into a failed row) ends the text there:
    `stopped` says where, and the half line before the failed chunk is dropped, never
    passed on as a row with its values cut short.
    """

    __slots__ = ("_decoder", "_raw", "encoding", "position", "stopped", "suspect")

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(ESCAPE)
        self.encoding = encoding
        self.position = 0
        self.suspect = False
        self.stopped: str | None = None

    def close(self) -> None:
        self._raw.close()

    def texts(self) -> Iterator[str]:
        """Decoded chunks, in order; the last one flushes the decoder."""
        while True:
            try:
                data = self._raw.read(CHUNK_SIZE)
            except READ_ERRORS as exc:  # an archive damaged after it was checked, a disk
                self.stopped = (
                    f"reading stopped after byte {self.position:,} of the data: it cannot be "
                    f"read on ({exc or type(exc).__name__}); the rest of the file was not read"
                )
                return
            try:
                text = self._decoder.decode(data, final=not data)
            except Exception as exc:  # a codec is foreign code: whatever it raises
                end = self.position + len(data)
                self.stopped = (
                    f"reading stopped between bytes {self.position:,} and {end:,}: the "
                    f"{self.encoding} decoder failed ({exc or type(exc).__name__}); the rest "
                    "of the file was not read"
                )
                return
            self.position += len(data)
            if "\x00" in text or (not text.isascii() and SURROGATE.search(text)):
                self.suspect = True
            if text:
                yield text
            if not data:
                return

    def lines(self, *, eof_marker: bool = False) -> Iterator[str]:
        """Physical lines ending in \\n, \\r\\n or \\r, endings kept (what `csv` wants)."""
        lines = itertools.chain.from_iterable(self._line_batches())
        return itertools.chain(lines, self._eof()) if eof_marker else lines

    def _line_batches(self) -> Iterator[list[str]]:
        pending = ""
        for text in self.texts():
            if "\n" not in text and "\r" not in text:
                pending += text
                continue
            lines = io.StringIO(pending + text, newline="").readlines()
            # The last piece may be half a line, or a \r whose \n is in the next chunk.
            pending = "" if lines[-1].endswith("\n") else lines.pop()
            yield lines
        if pending and self.stopped is None:
            yield [pending]

    def _eof(self) -> Iterator[str]:
        self.suspect = True  # sends the final record down the careful path
        yield EOF_LINE
