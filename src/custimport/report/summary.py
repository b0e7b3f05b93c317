"""How an import ended, for people (a table and status lines) and for programs (SPEC §6 JSON)."""

import json
import sys
from typing import Any

from rich.table import Table

from custimport.config import masked_url
from custimport.errors import visible
from custimport.report.console import error, stderr, stdout
from custimport.report.files import FileSinks
from custimport.report.history import markup_safe
from custimport.run.job import ImportReport
from custimport.service.export_job import ExportResult


def print_outcome(report: ImportReport, sinks: FileSinks, *, as_json: bool, quiet: bool) -> None:
    """Everything an import prints when it ends: why it stopped early (stderr), then the
    JSON report or the summary (stdout); with --quiet only where the failed rows went."""
    print_problems(report)
    if as_json:
        print_json(report_json(report, sinks))
    elif not quiet:
        print_summary(report, sinks)
    if report.counts.failed and quiet and sinks.error_log:
        error(f"{report.counts.failed} rows failed; see {sinks.error_log}")


def print_problems(report: ImportReport) -> None:
    """Why the import stopped early, or its change file is missing: stderr."""
    for problem in (report.stopped_reading, report.aborted, report.changes_error):
        if problem:
            error(problem)
    changes = report.request.changes_path
    if changes is not None and report.changes_written is None and not report.changes_error:
        error(f"{visible(str(changes))} was not written: the import stopped before its end")


def report_json(report: ImportReport, sinks: FileSinks) -> dict[str, Any]:
    """The JSON report of SPEC §6, key for key."""
    request = report.request
    counts = report.counts
    return {
        "model": request.spec.name,
        "mode": request.mode,
        "file": str(request.shown_path),
        "dry_run": request.dry_run,
        "completed": report.completed,
        "committed": report.committed,
        "rows": counts.rows(),
        "contacts": {"created": counts.contacts_created, "updated": counts.contacts_updated},
        "fields_changed": _fields_changed(report),
        "unknown_columns": report.unknown_columns,
        "synonyms": report.synonyms,
        "warnings": report.warnings,
        "top_errors": [reason.as_json() for reason in report.reasons.top()],
        "stopped_reading": report.stopped_reading,
        "aborted": report.aborted,
        "error_log": str(sinks.error_log) if sinks.error_log else None,
        "rejects": str(sinks.rejects) if sinks.rejects else None,
        "duration_s": round(report.duration_s, 3),
        "run": report.run,
        "match_on": report.match_on,
        "account_ref": report.account_ref,
        **_resumed(report),
        **_change_file(report),
    }


def _fields_changed(report: ImportReport) -> dict[str, int]:
    """Updated rows' changed fields, most changed first (SPEC §9)."""
    counted = report.counts.fields_changed
    return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))


def _change_file(report: ImportReport) -> dict[str, Any]:
    """--changes: where the change file went and how many lines it has (None: not written)."""
    path = report.request.changes_path
    if path is None:
        return {}
    return {"changes_file": {"path": str(path), "changes": report.changes_written}}


def _resumed(report: ImportReport) -> dict[str, Any]:
    resumed = report.resumed
    if resumed is None:
        return {}
    return {"resumed": {"run": resumed.run, "after_line": resumed.after_line}}


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def print_summary(report: ImportReport, sinks: FileSinks) -> None:
    request, counts = report.request, report.counts
    dry = " (dry run)" if request.dry_run else ""
    stdout.print(
        f"[bold]{request.spec.name} import[/bold], mode {request.mode}{dry}: "
        f"{markup_safe(str(request.shown_path))}",
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
        lines.append(_interrupted(report))
    if report.counts.fields_changed:
        changed = ", ".join(f"{name} {n:,}" for name, n in _fields_changed(report).items())
        label = "Fields it would change" if report.request.dry_run else "Fields changed"
        lines.append(f"{label} (updated rows): {changed}")
    if report.counts.skip_reasons:
        reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(report.counts.skip_reasons.items()))
        lines.append(f"Skipped: {reasons}")
    if report.synonyms:
        matched = ", ".join(f"{visible(c)} → {f}" for c, f in report.synonyms.items())
        lines.append(f"Columns matched by synonym: {matched}")
    if report.unknown_columns:
        lines.append(f"Ignored unknown columns: {', '.join(report.unknown_columns)}")
    if report.resumed is not None:
        resumed = report.resumed
        lines.append(
            f"Resumed run {resumed.run}: rows up to line {resumed.after_line} not read again."
        )
    if report.run is not None:
        lines.append(
            f"Run {report.run}: `custimport runs show {report.run}` shows it{_undo_hint(report)}."
        )
    if report.changes_written is not None:
        noun = "change" if report.changes_written == 1 else "changes"
        path = visible(str(report.request.changes_path))
        would = " it would make" if report.request.dry_run else ""
        lines.append(f"Changes{would}: {report.changes_written:,} {noun} written to {path}")
    lines += _top_reasons(report)
    lines += [f"Warning: {w}" for w in report.warnings]
    if sinks.error_log:
        lines.append(f"Error log: {sinks.error_log}")
    if sinks.rejects:
        lines.append(f"Rejected rows: {sinks.rejects}")
    return lines


def _top_reasons(report: ImportReport) -> list[str]:
    """The most frequent reasons rows failed (SPEC §11), each with its first line and,
    where values made it one of a kind, that line's message in full."""
    top = report.reasons.top()
    if not top:
        return []
    lines = ["Top reasons (rows per reason):"]
    for reason in top:
        same = reason.reason.endswith(reason.example)
        example = "" if same else f": {visible(reason.example)}"
        first = f"first: line {reason.first_line}{example}"
        times = "\N{MULTIPLICATION SIGN}"
        lines.append(f"  {reason.count:,} {times} {visible(reason.reason)} ({first})")
    return lines


def _undo_hint(report: ImportReport) -> str:
    if not report.request.journal or not report.committed:
        return ""
    return f", `custimport undo {report.run}` reverses it"


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


def _interrupted(report: ImportReport) -> str:
    if not report.committed:
        return "Interrupted: nothing was committed."
    if not report.counts.read:  # before the first row (filling the match keys, say)
        return "Interrupted before the first row: no row was read or written."
    return "Interrupted: the batches before the interruption were committed."
