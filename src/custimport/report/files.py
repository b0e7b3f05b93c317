"""The error log and the rejects file: where they go, checked before the import starts, and
written entry by entry so that what the report names is on disk.

Both hold personal data: they are created exclusively with mode 0600 and never
overwrite an existing file (a `-2`, `-3`, … suffix is added instead).
"""

import csv
import json
import os
import tempfile
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from custimport.errors import ReportFileError, UsageError
from custimport.io.export_output import is_special_file
from custimport.io.formulas import escaped_cells
from custimport.io.source import SourceInfo
from custimport.rows.outcomes import FailedRow


def exclusive_open(path: Path, *, named: bool = False) -> tuple[IO[str], Path]:
    """Create `path` (or `name-2.ext`, `name-3.ext`, …) exclusively, readable by the owner only.

    A device or a named pipe the user `named` (`--error-log /dev/null`) is written into:
    creating `/dev/null-2` beside it would put a file of personal data where nobody looks.
    Never one that merely sits at a default name: someone else may have put it there."""
    if named and is_special_file(path):
        return path.open("a", encoding="utf-8", newline=""), path
    candidate, attempt = path, 1
    while True:
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            attempt += 1
            candidate = path.with_name(f"{path.stem}-{attempt}{path.suffix}")
            continue
        return os.fdopen(fd, "w", encoding="utf-8", newline=""), candidate


def default_error_log_name(model: str, started: datetime) -> str:
    return f"import_errors_{model}_{started:%Y%m%d-%H%M%S}.log"


def default_rejects_name(model: str, started: datetime) -> str:
    return f"import_rejects_{model}_{started:%Y%m%d-%H%M%S}.csv"


class FileSinks:
    """The error log and rejects file, opened on the first failed row only."""

    def __init__(
        self, model: str, error_log: Path | None, rejects: Path | None, started: datetime
    ) -> None:
        name = default_error_log_name(model, started)
        self._log_named = error_log is not None and not error_log.is_dir()
        if error_log is None:
            error_log = Path.cwd() / name
        elif error_log.is_dir():
            error_log = error_log / name
        self._rejects_named = rejects is not None and not rejects.is_dir()
        if rejects is not None and rejects.is_dir():  # `--rejects .`: a name of ours in it
            rejects = rejects / default_rejects_name(model, started)
        self.model = model
        self.started = started
        self._log_target = error_log
        self._rejects_target = rejects
        self.error_log: Path | None = None
        self.rejects: Path | None = None
        self._log: IO[str] | None = None
        self._rejects_file: IO[str] | None = None
        self._rejects_writer: Any = None
        self.source: SourceInfo | None = None

    @property
    def log_target(self) -> Path:
        """Where the error log goes if a row fails (its default name, or the one given)."""
        return self._log_target

    @property
    def rejects_target(self) -> Path | None:
        return self._rejects_target

    def check_locations(self) -> None:
        """Before anything is imported: the error log and rejects file could be created
        where they are meant to go (SPEC §12.3), or a UsageError says why not."""
        if not (self._log_named and is_special_file(self._log_target)):
            _check_creatable(self._log_target, "error log")
        rejects = self._rejects_target
        if rejects is not None and not (self._rejects_named and is_special_file(rejects)):
            _check_creatable(rejects, "rejects file")

    def write_failure(self, result: FailedRow) -> None:
        """Log one failed row, flushed at once so that a full disk shows on the row it
        concerns; a ReportFileError stops the import (its report still comes)."""
        try:
            self._log_failure(result)
        except OSError as exc:
            raise _file_error("error log", self.error_log or self._log_target, exc) from None
        if self._rejects_target is None:
            return
        try:
            self._write_reject(result)
            assert self._rejects_file is not None
            self._rejects_file.flush()
        except OSError as exc:
            target = self.rejects or self._rejects_target
            raise _file_error("rejects file", target, exc, logged=True) from None

    def _log_failure(self, result: FailedRow) -> None:
        if self._log is None:
            self._log, self.error_log = exclusive_open(self._log_target, named=self._log_named)
            where = self.source.path if self.source else "?"
            self._log.write(
                f"# custimport error log: model {self.model}, file {where}, "
                f"started {self.started:%Y-%m-%d %H:%M:%S}\n"
            )
        header = self.source.header if self.source else []
        cells = result.cells
        data: object = dict(zip(header, cells, strict=True)) if len(cells) == len(header) else cells
        lines = [f"line {result.line_no}", f"  data: {json.dumps(data, ensure_ascii=False)}"]
        lines += [f"  error: {field}: {message}" for field, message in result.errors]
        self._log.write("\n".join(lines) + "\n")
        self._log.flush()

    def _write_reject(self, result: FailedRow) -> None:
        """One failed row as CSV. Users open this file in a spreadsheet to fix it, so cells
        that would run as formulas are escaped as in exports; importing it reverses that."""
        if self._rejects_file is None:
            assert self._rejects_target is not None
            self._rejects_file, self.rejects = exclusive_open(
                self._rejects_target, named=self._rejects_named
            )
            self._rejects_writer = csv.writer(self._rejects_file)
            header = self.source.header if self.source else []
            self._rejects_writer.writerow(escaped_cells([*header, "error"]))
        message = "; ".join(f"{field}: {text}" for field, text in result.errors)
        self._rejects_writer.writerow(escaped_cells([*result.cells, message]))

    def close(self) -> None:
        for handle in (self._log, self._rejects_file):
            if handle is not None:
                with suppress(OSError):  # flushed after every row: nothing is lost here
                    handle.close()


def _file_error(what: str, path: Path, exc: OSError, *, logged: bool = False) -> ReportFileError:
    return ReportFileError(f"cannot write the {what} {path}: {exc.strerror or exc}", logged=logged)


def _check_creatable(target: Path, what: str) -> None:
    """Create and remove a file beside `target`: what really happens, whoever runs us
    (as root, permission bits say nothing; a path under a regular file, a read-only
    mount or a missing folder only show when tried)."""
    folder = target.parent
    if not folder.is_dir():
        reason = "does not exist" if not folder.exists() else "is not a folder"
        raise UsageError(f"cannot create the {what} {target}: {folder} {reason}")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".custimport-probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot create the {what} in {folder}: {exc.strerror or exc}") from None
