"""How the import history looks (SPEC §8): tables for people, JSON and CSV for programs.

Everything streams: `runs --json` and `runs show --changes --json` write each object as it
comes, and `-o FILE` goes through export's writer (`write_rows`: the CSV-injection escape
of `formulas`, line breaks kept) into a private temporary file renamed into place when
complete, as export's `-o` is (`export_output.destination`, which also heeds Ctrl-C and
SIGTERM between writes). The human form of a run's changes stops after about SHOWN_CHANGES
lines (a row's fields are never cut apart) and says how to get them all: a terminal
is no place for a million lines. The service types are imported for type checking only:
reporting must not load SQLAlchemy (tests/unit/test_layers.py).

What people see is data: file names, keys and values come from files anyone may have
written. None of it is read as rich markup (`Acme [old]` stays `Acme [old]`, and a `[/]`
cannot end the command), and control characters are shown as `\\xNN` (`visible`): a
file name holding ESC[31m must not recolour the terminal, nor a carriage return rewrite
the line. JSON and CSV carry the values exactly.

What `-o` may name, and how it is written, is io/export_output's (as for export).
"""

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from custimport.errors import visible
from custimport.io.change_file import write_change_file
from custimport.io.export_output import is_stream
from custimport.report.console import error, line, stderr, stdout

if TYPE_CHECKING:
    from custimport.service.history import Change, PruneResult, RunInfo

SHOWN_CHANGES = 50
COUNT_HEADERS = ("read", "created", "updated", "unchanged", "skipped", "failed")
_dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps() makes one per call


def markup_safe(text: str) -> str:
    """`text` inside a string rich reads as markup: shown as it is, controls visible."""
    return escape(visible(text))


def _cell(text: str) -> Text:
    """A table cell holding data: never markup."""
    return Text(visible(text))


# --- JSON -------------------------------------------------------------------------------


def run_json(run: "RunInfo") -> dict[str, Any]:
    """One run as SPEC §8's JSON object (its contract keys first, then the rest)."""
    return {
        "run": run.run,
        "status": run.status,
        "model": run.model,
        "mode": run.mode,
        "file": run.file,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows": run.rows,
        "contacts": run.contacts,
        "duration_s": round(run.duration_s, 3) if run.duration_s is not None else None,
        "user": run.user,
        "host": run.host,
        "pid": run.pid,
        "version": run.version,
        "file_size": run.file_size,
        "sha256": run.sha256,
        "journal": run.journal,
        "undoes": run.undoes,
        "undone_by": run.undone_by,
        "last_line": run.last_line,
        "last_line_read": run.last_line_read,
        "message": run.message,
        "options": run.options,
        "mapping": run.mapping,
    }


def change_json(change: "Change") -> dict[str, Any]:
    table, key, line_number, action, field, before, after, _ = change
    return {
        "table": table,
        "key": key,
        "line": line_number,
        "action": action,
        "field": field,
        "before": before,
        "after": after,
    }


def print_runs_json(runs: Iterable["RunInfo"]) -> None:
    """An array, newest first, one object a line, written as the runs are read."""
    _write_array("", (run_json(run) for run in runs), "\n")


def print_run_json(run: "RunInfo", changes: Iterable["Change"] | None) -> None:
    """One object; with `changes`, its `changes` array streamed at the end."""
    data = run_json(run)
    if changes is None:
        sys.stdout.write(_dumps(data) + "\n")
        return
    _write_array(_dumps(data)[:-1] + ', "changes": ', map(change_json, changes), "}\n")


def _write_array(head: str, items: Iterator[dict[str, Any]], tail: str) -> None:
    sys.stdout.write(head + "[")
    for n, item in enumerate(items):
        sys.stdout.write(("," if n else "") + "\n" + _dumps(item))
    sys.stdout.write("\n]" + tail)
    sys.stdout.flush()


# --- CSV --------------------------------------------------------------------------------


def write_changes_csv(changes: Iterable[Sequence[Any]], path: Path, force: bool) -> int:
    """Every change (a Change, or its values as a plain tuple) as a line of the change file
    (io/change_file); how many were written."""
    return write_change_file(changes, path, force)


def print_output_interrupted(output: Path | None) -> None:
    """After a signal stopped `-o`: what is left of it."""
    if output is not None and is_stream(output):
        error(f"interrupted: what was written to {visible(str(output))} is incomplete")
    else:
        error(f"interrupted: nothing was written to {visible(str(output))}")


# --- for people -------------------------------------------------------------------------


def print_runs(runs: Iterable["RunInfo"], database: str) -> None:
    """A table one run a line, at its natural width: a history is read across, and a
    squeezed table would cut its numbers and times (a narrow terminal wraps the lines).
    When an undo is listed, a `deleted` column (after `updated`) gives the rows it deleted;
    an import deletes none (`-`)."""
    listed = list(runs)
    if not listed:
        line(f"No imports recorded yet in {visible(database)}.")
        return
    counts = _count_headers(listed)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in ("run", "started", "model", "mode", "file", "status", *counts):
        numeric = header == "run" or header in counts
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("user", no_wrap=True)
    for run in listed:
        table.add_row(
            str(run.run),
            _local(run.started_at),
            _cell(run.model),
            _cell(run.mode),
            _cell(_source(run)),
            _cell(run.status),
            *(_count(run, name) for name in counts),
            _duration(run.duration_s),
            _cell(run.user or ""),
        )
    _print_whole(table)


def _count_headers(runs: list["RunInfo"]) -> tuple[str, ...]:
    """COUNT_HEADERS, with `deleted` after `updated` when an undo is among `runs`."""
    if not any("deleted" in run.rows for run in runs):
        return COUNT_HEADERS
    at = COUNT_HEADERS.index("updated") + 1
    return (*COUNT_HEADERS[:at], "deleted", *COUNT_HEADERS[at:])


def _count(run: "RunInfo", name: str) -> str:
    value = run.rows.get(name)
    return "-" if value is None else f"{value:,}"


def _print_whole(table: Table) -> None:
    natural = Measurement.get(stdout, stdout.options.update_width(10_000), table).maximum
    Console(highlight=False, width=max(natural, stdout.width)).print(table, crop=False)


def print_run(run: "RunInfo", changed_rows: int) -> None:
    """One run, field by field."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in _run_lines(run, changed_rows):
        grid.add_row(name, _cell(value))
    stdout.print(grid)


def _run_lines(run: "RunInfo", changed_rows: int) -> Iterator[tuple[str, str]]:
    yield "Run", f"{run.run}: {run.model}, mode {run.mode}"
    yield "Status", run.status
    if run.file is not None:
        size = f"{run.file_size:,} bytes" if run.file_size is not None else "size unknown"
        yield "File", f"{run.file} ({size}, SHA-256 {run.sha256 or 'unknown'})"
    finished = _local(run.finished_at) if run.finished_at else "not finished"
    yield "Started", _local(run.started_at)
    yield "Finished", f"{finished} ({_duration(run.duration_s)})"
    yield "By", f"{run.user or 'unknown user'} on {run.host or 'unknown host'} (pid {run.pid})"
    yield "Version", f"custimport {run.version or 'unknown'}"
    yield "Rows", ", ".join(f"{name} {run.rows[name]:,}" for name in _count_headers([run]))
    if run.model == "Account" and run.mode not in ("undo", "merge"):
        yield (
            "Contacts",
            f"created {run.contacts['created']:,}, updated {run.contacts['updated']:,}",
        )
    if run.last_line is not None:
        yield "Lines", _lines(run.last_line, run.last_line_read)
    yield "Journal", _journal(run, changed_rows)
    if run.undoes is not None:
        yield "Undoes", f"run {run.undoes}"
    if run.undone_by is not None:
        yield "Undone by", f"run {run.undone_by}"
    if run.message:
        yield "Message", run.message
    if run.mapping:
        yield "Mapping", json.dumps(run.mapping, ensure_ascii=False)
    if run.options:
        yield "Options", json.dumps(run.options, ensure_ascii=False)


def _lines(committed: int, read: int | None) -> str:
    """How far the run got in its file. The batches committed may reach past the last line
    up to which every row is in: rows waiting for a parent further on are not yet."""
    if read is None or read <= committed:
        return f"committed every row up to line {committed:,}"
    return (
        f"committed every row up to line {committed:,}; read to line {read:,} (rows after "
        f"line {committed:,} waited for parents later in the file)"
    )


def _journal(run: "RunInfo", changed_rows: int) -> str:
    if run.journal == "off" and run.undoes is not None:
        return "off: an undo records no changes of its own (it cannot be undone)"
    if run.journal == "off":
        return "off: run with --no-undo, its changes were not recorded"
    if run.journal == "pruned":
        return "pruned: its changes were deleted by `custimport runs prune`"
    what = "rows and contacts" if run.model == "Account" else "rows"
    done = "updated or deleted" if run.mode == "merge" else "created or updated"
    return (
        f"{_plural(changed_rows, 'record')}, one for each of the {what} it {done} "
        f"(`custimport runs show {run.run} --changes`)"
    )


def print_changes(run: "RunInfo", changes: Iterable["Change"], changed_rows: int) -> None:
    """Row by row, a heading and its fields (before → after); about SHOWN_CHANGES field
    lines, whole rows only; then how to get the rest."""
    shown, rows, more = 0, 0, False
    grid: Table | None = None
    current: tuple[str, int] | None = None
    for change in changes:
        if (change.table, change.row_id) != current:
            if shown >= SHOWN_CHANGES:
                more = True
                break
            _flush(grid)
            current, rows = (change.table, change.row_id), rows + 1
            _heading(change)
            grid = _row_grid(change)
        assert grid is not None
        for cells in _field_lines(change):
            grid.add_row(*cells)
            shown += 1
    _flush(grid)
    if not rows:
        line("No field changes to show.")
    elif more:
        line(
            f"Shown: the first {_plural(rows, 'row')} of {changed_rows:,} the run changed. "
            f"All of them: `custimport runs show {run.run} --changes -o FILE.csv` or `--json`."
        )


def _heading(change: "Change") -> None:
    where = f"line {change.line}" if change.line is not None else "no line: a secondary change"
    title = f"{change.table} {change.key or '?'} ({where}): {change.action}"
    stdout.print(Text(visible(title), style="bold"), soft_wrap=True)


def _row_grid(change: "Change") -> Table:
    grid = Table.grid(padding=(0, 2), pad_edge=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    if change.field is not None:
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
    return grid


def _field_lines(change: "Change") -> Iterator[tuple[Text, ...]]:
    """(field, before, →, after), or (field, value) for a row created or deleted whole."""
    if change.field is not None:
        before, after = _shown(change.before), _shown(change.after)
        yield _cell(change.field), before, Text("→"), after
        return
    for name, value in json.loads(change.after or change.before or "{}").items():
        yield _cell(name), _shown(value)


def _flush(grid: Table | None) -> None:
    if grid is not None:
        stdout.print(grid)


def _shown(value: str | None) -> Text:
    return Text("(empty)") if value is None else _cell(value)


def print_written(path: Path, count: int) -> None:
    """One line on stderr (stdout may carry JSON)."""
    text = f"Wrote {_plural(count, 'change')} to {visible(str(path))}"
    stderr.print(text, markup=False, highlight=False, soft_wrap=True)


def print_pruned(result: "PruneResult", days: int) -> None:
    if result.interrupted is not None:
        error(
            f"interrupted: {_plural(result.changes, 'change record')} of "
            f"{_plural(result.pending, 'run')} deleted; run `custimport runs prune` again "
            "to finish"
        )
        return
    older = f"started more than {days} days ago" if days else "started before now"
    if result.runs:
        line(
            f"Pruned the changes of {_plural(result.runs, 'run')} {older}: "
            f"{_plural(result.changes, 'change record')} deleted. Their summaries stay "
            "(`custimport runs`); they can no longer be undone."
        )
    elif result.changes:
        line(f"Deleted {_plural(result.changes, 'change record')} left by an earlier prune.")
    else:
        line(f"Nothing to prune: no run {older} has recorded changes.")
    if result.running:
        numbers = ", ".join(map(str, result.running))
        line(
            f"Left alone, still running: {'run' if len(result.running) == 1 else 'runs'} {numbers}."
        )


def _source(run: "RunInfo") -> str:
    """The file as given; for an undo, the run it reversed."""
    if run.file is None and run.undoes is not None:
        return f"(undo of run {run.undoes})"
    if run.mode == "merge" and isinstance(run.options, dict):
        return f"(merge of {run.options.get('duplicate')} into {run.options.get('keep')})"
    return run.file or ""


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
