"""Private temporary files an open input owns: standard input's copy, a workbook taken out
of an archive. Each is made 0600 in the temp directory and removed when the input closes.

Standard input is copied to a file, in 1 MiB chunks (memory stays flat), before anything
is read, rather than read as it arrives, because an import reads its input more than once:
the run record's SHA-256 is taken before the first row (it finds the earlier run that
`--resume` goes on from), the encoding is chosen from samples spread over the whole file,
JSON's columns come from a pre-pass, a Contact file with `is_primary` is scanned first,
and the background reader is a second process that opens the file by its name. A pipe can
be read once, by one process; a file is what every one of those needs. The import starts
when the pipe closes, which the run record needs anyway (its digest is of the whole input).

The copy is removed whatever happens: the input's `close` removes it (an import closes it
in a `with`, also on an error or Ctrl-C), and while it exists SIGTERM and SIGHUP unwind
through the same path instead of ending the process with the file left behind (`Scratch`;
a slow producer can keep the copy going for long). Only SIGKILL leaves it.
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from custimport.errors import InputFileError

__all__ = ["STDIN", "Scratch", "copy_if_stream", "copy_stdin", "is_stdin"]

STDIN = Path("-")
COPY_CHUNK = 1 << 20
_PREFIX = "custimport-"
_NEW_FILE = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_ENDING = {int(signal.SIGTERM): 143, int(signal.SIGHUP): 129}  # what a shell reports


def is_stdin(path: Path) -> bool:
    return str(path) == "-"


class Scratch:
    """The temporary files of one open input; `remove` deletes them all (twice is fine).

    While any exists, SIGTERM and SIGHUP end the process by raising SystemExit with their
    usual status (143, 129) instead of ending it at once, so the `finally` and `with`
    blocks on the way out remove the files. An import traps both itself while it imports
    rows (it stops after the batch in flight), and gives them back afterwards.
    """

    def __init__(self) -> None:
        self._paths: list[Path] = []
        self._handlers: dict[int, Any] = {}

    def new(self, suffix: str) -> tuple[Path, BinaryIO]:
        """A new empty file, mode 0600 (it holds the user's data), open for writing.

        Its name is noted before the file is made (as `mkstemp` would make it, but for
        that): a Ctrl-C between making and noting would leave a file no one removes."""
        self._end_by_exception()
        folder = Path(tempfile.gettempdir())
        while True:
            path = folder / f"{_PREFIX}{secrets.token_hex(8)}{suffix}"
            self._paths.append(path)
            try:
                fd = os.open(path, _NEW_FILE, 0o600)
            except FileExistsError:  # not ours: never to be removed
                self._paths.remove(path)
                continue
            return path, os.fdopen(fd, "wb", buffering=0)  # chunks are large already

    def copy(self, source: BinaryIO, suffix: str) -> Path:
        """`source` streamed into a new file, chunk by chunk as it comes (`read1`: a slow
        pipe's bytes are written as they arrive, not once a whole chunk has)."""
        path, target = self.new(suffix)
        read = getattr(source, "read1", source.read)
        with target:
            while chunk := read(COPY_CHUNK):
                target.write(chunk)
        return path

    def remove(self) -> None:
        for path in self._paths:
            with suppress(OSError):
                path.unlink()
        self._paths.clear()
        for signum, handler in self._handlers.items():
            with suppress(ValueError):
                signal.signal(signum, handler)
        self._handlers.clear()

    def _end_by_exception(self) -> None:
        """See the class docstring. A signal ignored already (nohup) stays ignored; outside
        the main thread signals are left alone."""
        if self._handlers:
            return
        with suppress(ValueError):
            for signum in _ENDING:
                handler = signal.getsignal(signum)
                if handler not in (signal.SIG_IGN, None):
                    self._handlers[signum] = handler
                    signal.signal(signum, _raise_exit)


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(_ENDING[signum])


def copy_stdin(scratch: Scratch) -> Path:
    """Standard input as a file of `scratch`; one line (exit 2) if there is nothing to read."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputFileError("standard input is closed: pipe the file in, or name it")
    if _is_terminal(stream):
        raise InputFileError(
            "standard input is a terminal: pipe the file in (custimport - … < FILE), or name it"
        )
    try:
        path = scratch.copy(stream, ".stdin")
    except OSError as exc:
        raise InputFileError(f"cannot read standard input ({exc.strerror or exc})") from None
    if path.stat().st_size == 0:
        raise InputFileError("standard input is empty: no header row")
    return path


def copy_if_stream(path: Path, scratch: Scratch) -> Path:
    """A named pipe, `/dev/stdin` on a pipe, `<(…)` or another device, copied as standard
    input is (it can be read once); any other path as it is."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return path  # the reader says what is wrong with it
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)):
        return path
    try:
        with path.open("rb") as stream:
            if _is_terminal(stream):
                raise InputFileError(f"{path} is a terminal: name a file, or pipe one in")
            copy = scratch.copy(stream, ".pipe")
    except OSError as exc:
        raise InputFileError(f"cannot read {path} ({exc.strerror or exc})") from None
    if copy.stat().st_size == 0:
        raise InputFileError(f"{path}: file is empty: no header row")
    return copy


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
