"""All terminal and file output of an import: progress, summary, JSON report, error log, rejects.

The core never prints; it calls the observer methods here. Error logs and rejects
files hold personal data: they are created exclusively with mode 0600 and never
overwrite an existing file (a `-2`, `-3`, … suffix is added instead).
"""

import csv
import json
import os
import sys
import tempfile
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from custimport.config import masked_url
from custimport.errors import ReportFileError, UsageError
from custimport.exporter import ExportResult
from custimport.formulas import escaped_cells
from custimport.importer import ImportReport
from custimport.inspection import Inspection
from custimport.readers import SourceInfo
from custimport.rows import FailedRow

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def exclusive_open(path: Path) -> tuple[IO[str], Path]:
    """Create `path` (or `name-2.ext`, `name-3.ext`, …) exclusively, readable by the owner only."""
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


class FileSinks:
    """The error log and rejects file, opened on the first failed row only."""

    def __init__(
        self, model: str, error_log: Path | None, rejects: Path | None, started: datetime
    ) -> None:
        name = default_error_log_name(model, started)
        if error_log is None:
            error_log = Path.cwd() / name
        elif error_log.is_dir():
            error_log = error_log / name
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

    def check_locations(self) -> None:
        """Before anything is imported: the error log and rejects file could be created
        where they are meant to go (SPEC §12.3), or a UsageError says why not."""
        _check_creatable(self._log_target, "error log")
        if self._rejects_target is not None:
            _check_creatable(self._rejects_target, "rejects file")

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
            raise _file_error("rejects file", self.rejects or self._rejects_target, exc) from None

    def _log_failure(self, result: FailedRow) -> None:
        if self._log is None:
            self._log, self.error_log = exclusive_open(self._log_target)
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
            self._rejects_file, self.rejects = exclusive_open(self._rejects_target)
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


def _file_error(what: str, path: Path, exc: OSError) -> ReportFileError:
    return ReportFileError(f"cannot write the {what} {path}: {exc.strerror or exc}")


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


class Reporter:
    """The observer the importer talks to: files, plus a progress bar on a terminal."""

    def __init__(self, sinks: FileSinks, show_progress: bool) -> None:
        self.sinks = sinks
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._show_progress = show_progress

    def started(self, source: SourceInfo) -> None:
        self.sinks.source = source
        if self._show_progress and stderr.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[rows]} rows"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            self._task = self._progress.add_task(
                "import", total=max(source.size_bytes, 1), rows=0, rate=""
            )
            self._progress.start()

    def row_failed(self, result: FailedRow) -> None:
        self.sinks.write_failure(result)

    def progress(self, bytes_read: int, rows_read: int) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = f"{rows_read / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=bytes_read, rows=f"{rows_read:,}", rate=rate)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self.sinks.close()


def report_json(report: ImportReport, sinks: FileSinks) -> dict[str, Any]:
    """The JSON report of SPEC §6, key for key."""
    request = report.request
    counts = report.counts
    return {
        "model": request.spec.name,
        "mode": request.mode,
        "file": str(request.path),
        "dry_run": request.dry_run,
        "completed": report.completed,
        "committed": report.committed,
        "rows": counts.rows(),
        "contacts": {"created": counts.contacts_created, "updated": counts.contacts_updated},
        "unknown_columns": report.unknown_columns,
        "warnings": report.warnings,
        "stopped_reading": report.stopped_reading,
        "aborted": report.aborted,
        "error_log": str(sinks.error_log) if sinks.error_log else None,
        "rejects": str(sinks.rejects) if sinks.rejects else None,
        "duration_s": round(report.duration_s, 3),
    }


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def print_summary(report: ImportReport, sinks: FileSinks) -> None:
    request, counts = report.request, report.counts
    dry = " (dry run)" if request.dry_run else ""
    stdout.print(
        f"[bold]{request.spec.name} import[/bold], mode {request.mode}{dry}: {request.path}",
        soft_wrap=True,
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for name, value in counts.rows().items():
        style = "red" if name == "failed" and value else None
        table.add_row(name, f"{value:,}", style=style)
    if request.spec.name == "Account":
        table.add_row("contacts created", f"{counts.contacts_created:,}")
        table.add_row("contacts updated", f"{counts.contacts_updated:,}")
    stdout.print(table)
    rate = counts.read / report.duration_s if report.duration_s > 0 else 0.0
    stdout.print(f"Took {report.duration_s:.2f} s ({rate:,.0f} rows/s)")
    stdout.print(f"Database: {masked_url(request.database_url)}", soft_wrap=True, markup=False)
    for line in _status_lines(report, sinks):
        stdout.print(line, soft_wrap=True, markup=False)


def _status_lines(report: ImportReport, sinks: FileSinks) -> list[str]:
    lines = []
    if report.request.dry_run:
        lines.append("Dry run: nothing was written to the database.")
    elif report.request.atomic and not report.committed:
        lines.append("Atomic import rolled back: nothing was written to the database.")
    if report.cut_short:
        lines.append(
            f"Stopped early after {report.request.max_errors} failed rows (--max-errors); "
            "the rest of the file was not read."
        )
    if report.stopped_reading:
        lines.append(f"Not read to the end: {report.stopped_reading}")
    if report.aborted:
        lines.append(
            "The database failed during the import: the batches committed before it are counted."
            if report.committed
            else "The database failed during the import: nothing was committed."
        )
    if report.interrupted_exit is not None:
        lines.append(
            "Interrupted: the batches before the interruption were committed."
            if report.committed
            else "Interrupted: nothing was committed."
        )
    if report.counts.skip_reasons:
        reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(report.counts.skip_reasons.items()))
        lines.append(f"Skipped: {reasons}")
    if report.unknown_columns:
        lines.append(f"Ignored unknown columns: {', '.join(report.unknown_columns)}")
    lines += [f"Warning: {w}" for w in report.warnings]
    if sinks.error_log:
        lines.append(f"Error log: {sinks.error_log}")
    if sinks.rejects:
        lines.append(f"Rejected rows: {sinks.rejects}")
    return lines


def error(message: str, hint: str | None = None) -> None:
    """One line on stderr: `Error: …` (and a hint line when there is one)."""
    stderr.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
    if hint:
        stderr.print(hint, markup=False, highlight=False, soft_wrap=True)


# --- export and inspect ----------------------------------------------------------------

SAMPLE_WIDTH = 30
SAMPLE_MIN_WIDTH = 12


def print_export_done(result: ExportResult) -> None:
    """One line on stderr (stdout may be the data itself), after any warnings."""
    for warning in result.warnings:
        stderr.print(f"Warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    where = str(result.request.output) if result.request.output else "stdout"
    noun = "record" if result.rows == 1 else "records"
    stderr.print(
        f"Exported {result.rows:,} {result.request.spec.name} {noun} as {result.format} to {where}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def inspection_json(inspection: Inspection) -> dict[str, Any]:
    source, fit, stats = inspection.source, inspection.fit, inspection.stats
    columns = fit.columns if fit else dict.fromkeys(source.header, "unknown")
    return {
        "file": str(source.path),
        "format": source.format,
        "encoding": source.encoding,
        "delimiter": source.delimiter,
        "size_bytes": source.size_bytes,
        "rows": stats.rows,
        "rows_with_errors": stats.rows_with_errors,
        "model": fit.model if fit else None,
        "model_guessed": inspection.guessed,
        "columns": [{"column": c, "field": f} for c, f in columns.items()],
        "missing_required": fit.missing_required if fit else [],
        "missing_required_message": fit.problem if fit else None,
        "unknown_columns": [c for c, f in columns.items() if f == "unknown"],
        "unused_mapping_keys": inspection.unused_mapping_keys,
        "models": {
            f.model: {"fits": f.fits, "missing_required": f.missing_required, "problem": f.problem}
            for f in inspection.fits
        },
        "sample": [inspection.sample_values(row) for row in stats.sample],
        "read_errors": [{"line": row.line_no, "error": row.error} for row in stats.first_errors],
        "stopped_reading": stats.stopped,
    }


def print_inspection(inspection: Inspection) -> None:
    source, fit, stats = inspection.source, inspection.fit, inspection.stats
    details = [source.format]
    if source.encoding:
        details.append(f"encoding {source.encoding}")
    if source.delimiter:
        details.append(f"delimiter {_delimiter_name(source.delimiter)}")
    _line(f"File:    {source.path} ({source.size_bytes:,} bytes)")
    _line(f"Read as: {', '.join(details)}")
    _line(f"Rows:    {stats.rows:,} ({stats.rows_with_errors:,} cannot be read)")
    if inspection.guessed:
        best = f"{fit.model} (best fit; choose with --model)" if fit else "none matches a column"
        _line(f"Model:   {best}")
        for each in inspection.fits:
            _line(f"  {each.model}: {each.problem or 'required columns present'}")
    else:
        _line(f"Model:   {inspection.fits[0].model}")
    stdout.print(_columns_table(inspection))
    for line in _inspection_notes(inspection):
        _line(line)


def _inspection_notes(inspection: Inspection) -> list[str]:
    fit, stats = inspection.fit, inspection.stats
    notes = []
    if fit and fit.problem and not inspection.guessed:
        notes.append(f"Cannot import as {fit.model}: {fit.problem}")
    unknown = [c for c, f in fit.columns.items() if f == "unknown"] if fit else []
    if unknown:
        notes.append(f"Unknown columns (ignored on import): {', '.join(unknown)}")
    if inspection.unused_mapping_keys:
        keys = ", ".join(inspection.unused_mapping_keys)
        notes.append(f"The mapping names columns the file does not have: {keys}")
    if stats.stopped:
        notes.append(f"Not read to the end: {stats.stopped}")
    notes += [f"Line {row.line_no} cannot be read: {row.error}" for row in stats.first_errors]
    if stats.rows_with_errors > len(stats.first_errors):
        notes.append(f"… and {stats.rows_with_errors - len(stats.first_errors):,} more")
    return notes


def _columns_table(inspection: Inspection) -> Table:
    """Column, field, then the first rows' values: transposed, because files are wider (a
    dozen columns) than the sample is tall; as many sample rows as the terminal has room for."""
    fit = inspection.fit
    header = inspection.source.header
    targets = [fit.columns.get(c, "unknown") if fit else "unknown" for c in header]
    table = Table(header_style="bold")
    table.add_column("column", no_wrap=True, min_width=min(max(map(len, header), default=6), 40))
    table.add_column("field", no_wrap=True, min_width=max(map(len, targets), default=5))
    used = sum(col.min_width or 0 for col in table.columns) + 7
    room = max(1, (stdout.width - used) // (SAMPLE_MIN_WIDTH + 3))
    sample = inspection.stats.sample[:room]
    for row in sample:
        table.add_column(f"line {row.line_no}", min_width=SAMPLE_MIN_WIDTH, max_width=SAMPLE_WIDTH)
    values = [inspection.sample_values(row) for row in sample]
    for column, target in zip(header, targets, strict=True):
        style = "yellow" if target == "unknown" else "dim" if target == "ignored" else ""
        cells = [_cell(v.get(column, "")) for v in values]
        table.add_row(Text(column), Text(target, style=style), *cells)
    return table


def _cell(value: str) -> Text:
    flat = value.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return Text(flat, overflow="ellipsis", no_wrap=True)


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "',' (comma)", ";": "';' (semicolon)", "|": "'|' (pipe)"}.get(
        delimiter, repr(delimiter)
    )


def _line(text: str) -> None:
    stdout.print(text, markup=False, highlight=False, soft_wrap=True)
