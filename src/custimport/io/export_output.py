"""Where an export (and any other `-o FILE`: `runs show -o`, `--changes`) goes: stdout or a
device, or a private temporary file renamed into place when complete.

`-o` names a file to create (or, with --force, replace), or a character device or named
pipe to write into (`check_output`, before anything is read). A symbolic link is followed
only where no one else can plant one, in /dev or /proc (`-o /dev/stdout`, `/dev/fd/3`):
it is written through, never replaced. Any other link is refused, --force or not:
replacing it would lose the link, and following it could write personal data wherever
whoever made it chose.

Both are wrapped so that every write first looks at the stop flag of a signal (`heed`):
XLSX's last stage, zipping the sheet, writes for seconds without a row in between, and must
stop within a second like every other stage (SPEC §12.5). Whatever ends an export part-way,
the temporary file is deleted: it holds personal data, and its name (`.NAME.….part`) hides it.
"""

import errno
import io
import os
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from custimport.errors import UsageError, visible
from custimport.io.writers import write_rows
from custimport.signals import StopFlag, trapped_hangup, trapped_signals

SYSTEM_FOLDERS = ("/dev", "/proc")  # where a symbolic link -o names is followed


class OutputClosedError(Exception):
    """The reader of stdout went away (`custimport export … | head`)."""


class ExportInterrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP stopped the export; `exit_code` is 130, 143 or 129."""

    def __init__(self, exit_code: int, output: Path | None) -> None:
        name = signal.Signals(exit_code - 128).name
        where = f"nothing was written to {output}" if output else "the output is incomplete"
        super().__init__(f"export interrupted by {name}: {where}")
        self.exit_code = exit_code


def heed(stop: StopFlag, output: Path | None) -> None:
    """Raise `ExportInterrupted` if a stop signal has come."""
    if stop.exit_code is not None:
        raise ExportInterrupted(stop.exit_code, output)


@contextmanager
def destination(
    output: Path | None, force: bool, stdout: BinaryIO, stop: StopFlag
) -> Iterator[BinaryIO]:
    """`output` (None: `stdout`) to write the export to, heeding `stop` on every write."""
    if output is None:
        try:
            yield _Heeding(stdout, stop, None).as_binary()
            stdout.flush()
        except BrokenPipeError:
            raise OutputClosedError() from None
        return
    if output.is_symlink() and _system_link(output):  # `-o /dev/stdout`: written through
        with _through_link(output) as handle:
            yield _Heeding(handle, stop, output).as_binary()
        return
    if is_special_file(output):  # `-o /dev/null`, a named pipe: written into, never replaced
        with os.fdopen(_open_special(output, stop), "wb") as handle:
            yield _Heeding(handle, stop, output).as_binary()
        return
    if output.is_symlink():  # `-o /dev/stdout --force` replaced the link itself, as root
        raise UsageError(
            f"{output} is a symbolic link: -o never replaces one; name the file it leads to "
            "(or leave -o out to write to stdout)"
        )
    with _replacing(output, force) as handle:
        yield _Heeding(handle, stop, output).as_binary()


def _open_special(path: Path, stop: StopFlag) -> int:
    """A device or named pipe opened for writing. Opening a pipe waits for its reader,
    and a blocking open() would not let Ctrl-C in: it is tried without blocking until a
    reader comes (every 50 ms), and a stop signal ends the wait (ExportInterrupted)."""
    while True:
        heed(stop, path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a pipe that no one reads yet
                raise
            time.sleep(0.05)
            continue
        os.set_blocking(fd, True)
        return fd


def is_special_file(path: Path) -> bool:
    """A character device or a named pipe, itself and not through a symbolic link.

    Renaming a finished temporary file over `-o /dev/null`, as root, replaced the device
    itself with a regular file holding the export; such a file is written into as a
    stream, like stdout, and needs no --force (nothing in it is replaced). A symbolic
    link is never followed to a device: one planted where an error log or export goes
    must not make custimport write into /dev/mem or a stranger's pipe. Block devices
    (disks) are never written into."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


class _Heeding(io.BufferedIOBase):
    """The output, raising `ExportInterrupted` on a write once a stop signal has come.

    After a stop or a failed write (a full disk) it is a sink: what is still written, and
    where, no longer matters, since the file is deleted. That matters for XLSX: openpyxl
    leaves its zip file unclosed when saving fails, and the zip's finaliser, run whenever
    the garbage collector gets to it, seeks and writes its directory, which on the real
    file (closed by then) would print a traceback after our one-line error.
    """

    def __init__(self, raw: BinaryIO, stop: StopFlag, output: Path | None) -> None:
        super().__init__()
        self._raw = raw
        self._stop = stop
        self._output = output
        self._sink: int | None = None  # the position, once writes go nowhere

    def as_binary(self) -> BinaryIO:
        return cast(BinaryIO, self)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self._sink is None and not self._raw.closed:
            try:
                heed(self._stop, self._output)
                return self._raw.write(data)
            except BaseException:
                self._become_sink()
                raise
        self._become_sink()
        assert self._sink is not None
        self._sink += len(data)
        return len(data)

    def _become_sink(self) -> None:
        if self._sink is None:
            self._sink = 0
            with suppress(OSError, ValueError):
                self._sink = self._raw.tell()

    def flush(self) -> None:
        if self._sink is None and not self._raw.closed:
            self._raw.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        if self._sink is None and not self._raw.closed:
            return self._raw.tell()
        self._become_sink()
        assert self._sink is not None
        return self._sink

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if self._sink is None and not self._raw.closed:
            return self._raw.seek(offset, whence)
        self._become_sink()
        assert self._sink is not None
        self._sink = offset if whence == os.SEEK_SET else self._sink + offset
        return self._sink


@contextmanager
def _replacing(path: Path, force: bool) -> Iterator[BinaryIO]:
    """A private temporary file beside `path`, moved into place only once it is complete.

    Exports hold personal data, so the file is readable by its owner only (like error logs).
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        _publish(temp, path, force)
    finally:
        temp.unlink(missing_ok=True)


def _publish(temp: Path, path: Path, force: bool) -> None:
    """Rename into place; without --force a file that appeared meanwhile is still kept."""
    if force:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails if `path` exists, unlike a rename
    except FileExistsError:
        raise UsageError(f"{path} already exists; use --force to replace it") from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise UsageError(f"{path} already exists; use --force to replace it") from None
        os.replace(temp, path)


# --- -o: what it may name, and writing through /dev and /proc links --------------------


def output_path(given: str, option: str = "-o") -> Path:
    """`option`'s value as a path (`-o ""` would otherwise be the current folder)."""
    if not given:
        raise UsageError(f"{option} needs a file name")
    return Path(given)


def check_output(path: Path, force: bool, option: str = "-o", can_force: bool = True) -> None:
    """Refuse `option`'s file before the database is read: a folder, a missing folder, a
    symbolic link outside /dev and /proc, an existing file (unless `force`; a device or a
    named pipe is written into, never replaced)."""
    shown = visible(str(path))
    if path.is_dir():
        raise UsageError(f"{shown} is a directory; {option} needs a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{shown}: the folder {visible(str(path.parent))} does not exist")
    if path.is_symlink():
        _check_link(path, option)
    elif path.exists() and not force and not is_special_file(path):
        remedy = "use --force to replace it" if can_force else "name a new file"
        raise UsageError(f"{shown} already exists; {remedy}")
    elif not is_special_file(path):
        _check_folder_takes(path)


def _check_folder_takes(path: Path) -> None:
    """The private temporary file the output is written to can be made beside it (a folder
    that cannot be written, a name too long once `.NAME.….part`, a read-only file system):
    known before anything is read, not once the work is done."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise UsageError(f"cannot write {visible(str(path))}: {reason(exc)}") from None
    os.close(fd)
    os.unlink(temp)


def same_file(path: Path, other: Path | None) -> bool:
    """`path` (followed through links) is `other`, an existing file."""
    if other is None:
        return False
    try:
        return os.path.samefile(path, other)
    except OSError:
        return os.path.abspath(path) == os.path.abspath(other)


def _check_link(path: Path, option: str) -> None:
    shown = visible(str(path))
    if not _system_link(path):
        raise UsageError(
            f"{shown} is a symbolic link; {option} neither follows nor replaces one: "
            "name the file it points to"
        )
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UsageError(f"cannot write {shown}: {reason(exc)}") from None
    if _own_stream(path) is not None:  # stdout or stderr, whatever it is (a socket too)
        return
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        raise UsageError(f"{shown} leads to no file, device or named pipe {option} can write into")


def _system_link(path: Path) -> bool:
    """A symbolic link in /dev or /proc (`/dev/stdout`, `/dev/fd/3`), where no one else can
    have planted it."""
    folder = os.path.realpath(path.parent)
    return any(folder == top or folder.startswith(top + "/") for top in SYSTEM_FOLDERS)


def is_stream(path: Path) -> bool:
    """`-o` writes into `path` as it goes (a device, a named pipe, a link in /dev or /proc)
    rather than into a temporary file renamed when complete."""
    return is_special_file(path) or (path.is_symlink() and _system_link(path))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], force: bool) -> int:
    """`rows` as CSV under `header` (export's writer: UTF-8, formulas escaped) into `path`
    (checked by `check_output`); how many rows were written. A file that cannot be written
    (a full disk) is a UsageError naming it; SIGINT, SIGTERM or SIGHUP stop it between
    rows (ExportInterrupted), leaving no part of a file."""
    try:
        with (
            trapped_signals() as stop,
            trapped_hangup(stop),
            destination(path, force, sys.stdout.buffer, stop) as out,
        ):
            return write_rows("csv", out, header, rows).rows
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write {visible(str(path))}: {reason(exc)}") from None


@contextmanager
def _through_link(path: Path) -> Iterator[BinaryIO]:
    """What a link in /dev or /proc leads to, open for writing. Our own stdout or stderr
    (`-o /dev/stdout`, even redirected to a file) is written through its descriptor, so
    what custimport prints there after it follows the output."""
    own = _own_stream(path)
    if own is not None:
        own.flush()
        fd = os.dup(own.fileno())
    else:  # appended to, never truncated nor created: a stale /dev/fd/N is no file
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
    with os.fdopen(fd, "wb") as handle:
        yield handle


def _own_stream(path: Path) -> IO[str] | None:
    """sys.stdout or sys.stderr when `path` leads to what it writes to."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if os.path.samestat(path.stat(), os.fstat(stream.fileno())):
                return stream
        except (OSError, ValueError, AttributeError):  # not a real file (tests)
            continue
    return None


def reason(exc: OSError) -> str:
    """`No space left on device` as part of a sentence."""
    text = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return text[:1].lower() + text[1:]
