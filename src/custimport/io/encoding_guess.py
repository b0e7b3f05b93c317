"""Which codec a text file is read with, decided before the first row.

A requested codec wins, then a byte order mark, then UTF-8 if samples from the whole file
decode (or decode but for a few damaged bytes, which then fail their rows), then a legacy
code page guessed with care. Known binary files are refused by their magic numbers, and a
requested codec the file cannot be read with chunk by chunk is refused up front (exit 2).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from custimport.errors import InputFileError
from custimport.io.text import ESCAPE, SAMPLE_SIZE, SURROGATE, ZIP_MAGIC

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"\xd0\xcf\x11\xe0", "an old .xls workbook or other Office file; save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (ZIP_MAGIC, "a zip archive"),
)
_ASCII_BYTES = bytes(range(128))
_MIN_EVIDENCE = 16  # non-ASCII bytes below which no statistical guess is worth trusting
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# A NUL or a lone surrogate (an undecodable byte, see `_escape_undecodable`) spoils a value.
_NON_ASCII = re.compile("[^\x00-\x7f]")
_ASCII_LETTERS = re.compile("[A-Za-z]")
# cp1252 symbols that sit next to a letter only when the bytes were really another code page
# (Polish ł read as ³), and runs of accented letters no Western language writes (Cyrillic).
_ODD = "[\u02c6\u02dc\xa2-\xa8\xac\xaf\xb1-\xb4\xb6\xb8\xb9\xbc-\xbe\xd7\xf7\u2020\u2021\u2030]"
_MISPLACED = re.compile(rf"(?<=[^\W\d_]){_ODD}|{_ODD}(?=[^\W\d_])")
_FOREIGN_RUN = re.compile(r"[^\W\d_\x00-\x7f]{4,}")


def checked_codec(encoding: str) -> str | None:
    """None for auto; otherwise the name as given, once Python knows it as a text codec."""
    if encoding.lower() == "auto":
        return None
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(f"unknown encoding '{encoding}'") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputFileError(f"'{encoding}' is not a text encoding")
    return encoding


def choose_encoding(
    raw: BinaryIO, head: bytes, size: int, path: Path, requested: str | None
) -> str:
    """A requested codec, else a BOM, else UTF-8 if the sample decodes, else a legacy guess."""
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if requested and bom == "utf-8-sig" and codecs.lookup(requested).name == "utf-8":
        requested = bom  # "utf-8" asked for, and a BOM that plain utf-8 would keep as text
    codec = requested or bom
    if not (codec and codecs.lookup(codec).name.startswith(("utf-16", "utf-32"))):
        _refuse_binary(head, path)
    if requested:
        _refuse_unusable_codec(path, codec or requested, head, whole=len(head) == size)
    if codec:
        return codec
    sample = head
    if len(head) < size:  # a cp1252 file's first é may come late, and so may UTF-8's first ë
        sample += _later_samples(raw, size)
    if _decoded(sample, "utf-8", final=len(head) == size) is not None or _damaged_utf8(sample):
        return "utf-8"
    return _guess_legacy(sample)


def sample_text(path: Path, codec: str, head: bytes, *, whole: bool) -> str:
    """The first bytes decoded as the whole file will be; a codec that cannot is refused."""
    try:
        return codecs.getincrementaldecoder(codec)(ESCAPE).decode(head, final=whole)
    except Exception as exc:  # a codec is foreign code: whatever it raises
        raise InputFileError(_cannot_read_as(path, codec, exc)) from None


def _refuse_unusable_codec(path: Path, codec: str, head: bytes, *, whole: bool) -> None:
    """Exit 2 before anything is written for a codec the file cannot be read with (§12.3).

    The classes: a decoder that raises UnicodeError that is not a decode error (UTF-16 or
    UTF-32 without a BOM, `undefined`), one that refuses the error handler that fails
    single rows (`idna`, `punycode`), and one that cannot decode a file chunk by chunk
    (no incremental decoder, or one that loses a character split between chunks).
    """
    try:
        factory = codecs.getincrementaldecoder(codec)
    except LookupError:
        raise InputFileError(f"{path}: cannot be read as '{codec}': {_NO_PIECES}") from None
    sample_text(path, codec, head, whole=whole)
    piece = head[:_PIECES_CHECKED]
    try:
        decoder = factory(ESCAPE)
        in_pieces = "".join(decoder.decode(piece[n : n + 1]) for n in range(len(piece)))
        at_once = factory(ESCAPE).decode(piece)
    except Exception as exc:  # as in sample_text
        raise InputFileError(_cannot_read_as(path, codec, exc)) from None
    if in_pieces != at_once:
        raise InputFileError(f"{path}: cannot be read as '{codec}': {_NO_PIECES}")


_NO_PIECES = "the codec cannot decode a file piece by piece"
_PIECES_CHECKED = 1024  # bytes decoded one at a time to see that the decoder keeps its state


def _cannot_read_as(path: Path, codec: str, exc: Exception) -> str:
    reason = str(exc) or type(exc).__name__
    if "error handling" in reason:  # idna, punycode: only 'strict', so one bad byte would stop
        reason = "the codec only decodes strictly, it cannot fail single rows (it is not for files)"
    elif "BOM" in reason and codecs.lookup(codec).name in ("utf-16", "utf-32"):
        name = codecs.lookup(codec).name
        reason += f" (name the byte order: {name}-le or {name}-be)"
    return f"{path}: cannot be read as '{codec}': {reason}"


def _damaged_utf8(sample: bytes) -> bool:
    """UTF-8 with a few bad bytes: more valid multi-byte characters than undecodable bytes.

    Legacy text almost never forms a valid multi-byte sequence (an accented capital followed
    by a symbol from 0x80-0xBF), while each of its accented letters among ASCII is a byte
    that does not decode; so a sample with at least as many valid sequences as bad bytes is
    a UTF-8 file with damage, whose bad bytes fail their rows, rather than cp1252, which
    would garble every one of its characters silently (`Müller` read as `MÃ¼ller`).
    """
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(sample)
    bad = len(SURROGATE.findall(text))
    valid = len(_NON_ASCII.findall(text)) - bad
    return valid > 0 and bad <= valid


def _refuse_binary(head: bytes, path: Path) -> None:
    """Known binary signatures, or more NULs and control bytes than text ever holds.

    A lone NUL is tolerated: it fails its row, which is friendlier than refusing the file.
    """
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputFileError(f"{path} is not a text file ({what})")
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if head.count(0) > len(head) // 1000 + 1 or controls > len(head) // 20 + 1:
        raise InputFileError(f"{path} is not a text file (it contains binary data)")


def _later_samples(raw: BinaryIO, size: int) -> bytes:
    """Whole lines from four places further into the file, joined by newlines."""
    parts = []
    for quarter in range(1, 5):
        raw.seek((size - SAMPLE_SIZE) * quarter // 4)
        window = raw.read(SAMPLE_SIZE)
        parts.append(window[window.find(b"\n") + 1 : window.rfind(b"\n") + 1])
    return b"\n" + b"\n".join(parts)


def _decoded(sample: bytes, codec: str, *, final: bool = False) -> str | None:
    """The sample decoded strictly (a character cut at the end is fine), or None."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(sample, final=final)
    except (UnicodeDecodeError, LookupError):
        return None


def _guess_legacy(sample: bytes) -> str:
    """cp1252 unless, on enough evidence, it reads as nonsense and a detector's guess does not.

    Statistical detectors call short French "Vietnamese" or "Farsi", so cp1252 stays when
    there are few non-ASCII bytes, or when it reads as Western text with at most a stray
    undefined byte (which then fails its row); otherwise the detector's candidate whose
    decoding has the most letters of one script wins.
    """
    western = sample.decode("cp1252", errors="replace")
    non_ascii = len(sample.translate(None, _ASCII_BYTES))
    undefined = western.count("\ufffd")
    if non_ascii < _MIN_EVIDENCE or (_looks_western(western) and undefined * 20 <= non_ascii):
        return "cp1252"
    from charset_normalizer import from_bytes

    best, best_score = "cp1252", 0.0
    for match in from_bytes(sample):
        text = _decoded(sample, match.encoding)
        score = _native_score(text) if text is not None else 0.0
        if score > best_score:
            best, best_score = match.encoding, score
    return best


def _looks_western(text: str) -> bool:
    """Western text has few accented letters, each among plain ones, and no stray symbols;
    other scripts read as cp1252 are mostly non-ASCII, in runs or amid odd symbols."""
    total = len(_NON_ASCII.findall(text))
    odd = len(_MISPLACED.findall(text)) + sum(map(len, _FOREIGN_RUN.findall(text)))
    plain = len(_ASCII_LETTERS.findall(text))
    return odd * 4 <= total and total * 5 <= (plain + total) * 2  # <= 25% odd, <= 40% non-ASCII


def _native_score(text: str) -> float:
    """Share of letters among non-ASCII characters; 0 unless the rest is punctuation and
    the letters are of one script (a wrong multi-byte codec makes a mix of scripts)."""
    chars = _NON_ASCII.findall(text)
    letters = [char for char in chars if char.isalpha()]
    fine = len(letters) + sum(unicodedata.category(char)[0] in "PZS" for char in chars)
    if not letters or fine < 0.95 * len(chars):
        return 0.0
    scripts = Counter(_script(char) for char in letters)
    if scripts.most_common(1)[0][1] < 0.9 * len(letters):
        return 0.0
    return len(letters) / len(chars)


def _script(char: str) -> str:
    script = unicodedata.name(char, "?").split(" ")[0]
    return "CJK" if script in ("HIRAGANA", "KATAKANA", "HALFWIDTH") else script
