"""Where an export goes: stdout or a device, or a private temporary file renamed into place
when complete.

Both are wrapped so that every write first looks at the stop flag of a signal (`heed`):
XLSX's last stage, zipping the sheet, writes for seconds without a row in between, and must
stop within a second like every other stage (SPEC §12.5). Whatever ends an export part-way,
the temporary file is deleted: it holds personal data, and its name (`.NAME.….part`) hides it.
"""

import io
import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, cast

from custimport.errors import UsageError
from custimport.signals import StopFlag


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
    if is_special_file(output):  # `-o /dev/null`, a named pipe: written into, never replaced
        with output.open("wb") as handle:
            yield _Heeding(handle, stop, output).as_binary()
        return
    if output.is_symlink():  # `-o /dev/stdout --force` replaced the link itself, as root
        raise UsageError(
            f"{output} is a symbolic link: -o never replaces one; name the file it leads to "
            "(or leave -o out to write to stdout)"
        )
    with _replacing(output, force) as handle:
        yield _Heeding(handle, stop, output).as_binary()


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
