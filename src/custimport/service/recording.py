"""An import's run record (SPEC §8): started before the first row, finished after the last.

The run is committed when the import starts, so history shows it even if the process
is killed; its counts and last committed line are then written by the import's own
transactions (run/pipeline.py), and its final status here. A dry run is not recorded.
Where `--resume` goes on, and the hint that it could, are resuming.py's.
"""

from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from custimport.rows.outcomes import Counts
from custimport.run.job import ImportReport, ImportRequest, ResumePoint
from custimport.service import resuming
from custimport.store import runs
from custimport.store.journal import Journal


def _options(request: ImportRequest, resumed: ResumePoint | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "atomic": request.atomic,
        "max_errors": request.max_errors,
        "batch_size": request.batch_size,
        "format": request.format,
        "encoding": request.encoding,
        "delimiter": request.delimiter,
        "sheet": request.sheet,
        "no_undo": not request.journal,
    }
    if request.phone_region is not None:  # left out otherwise: older runs' options compare
        options["phone_region"] = request.phone_region
    if request.allow_new_keys:
        options["allow_new_keys"] = True
    if request.header_row is not None:
        options["header_row"] = request.header_row
    options.update(resuming.matching_options(request))
    if resumed is not None:
        options["resumes"] = resumed.run
    return options


def begin(
    engine: Engine,
    request: ImportRequest,
    mapping: Mapping[str, Any] | None,
    report: ImportReport,
    warn: Callable[[str], None],
) -> Journal | None:
    """Record the run (not for a dry run); the journal its handler writes, if any.
    Sets the report's run, the resume point under --resume, and the hint without it."""
    # of the file as given (compressed, if it is; standard input's private copy)
    size, sha256 = resuming.file_digest(report.source.given_file if report.source else request.path)
    with engine.connect() as conn:
        resuming.settle(conn, request, mapping, sha256, report, warn)
    if request.dry_run:
        return Journal.preview() if request.changes_path is not None else None
    start = runs.RunStart(
        model=request.spec.name,
        mode=request.mode,
        file=str(request.shown_path),
        file_size=size,
        file_sha256=sha256,
        mapping=mapping,
        options=_options(request, report.resumed),
        journal="full" if request.journal else "off",
        version=request.version,
    )
    report.run = runs.start_run(
        engine, start, last_line=report.resumed.after_line if report.resumed else None
    )
    if request.journal:
        return Journal(report.run)
    return Journal.preview() if request.changes_path is not None else None


def final_status(report: ImportReport) -> str:
    if report.interrupted_exit is not None:
        return "interrupted"
    if report.aborted:
        return "aborted"
    if not report.committed and not report.request.dry_run:
        return "rolled_back"
    if not report.completed:
        return "cut_short"
    return "completed"


def finish(
    engine: Engine, report: ImportReport, failure: str | None = None, note: str | None = None
) -> None:
    """The run's end: status, counts and why it stopped (`note`: why, when nothing else
    says), on a connection of its own. A database that is gone by now leaves the run
    `running` (shown as killed).

    The counts are what the run committed: none for an --atomic import whose one
    transaction was rolled back, interrupted or not (its report's counts are what it would
    have written); the message then says how far it had got."""
    if report.run is None:
        return
    status = "aborted" if failure else final_status(report)
    counts = report.counts
    message = failure or report.aborted or report.stopped_reading or note
    if report.request.atomic and not report.committed:
        rolled_back = "nothing was committed"
        if counts.read:
            rolled_back += f" (rolled back after reading {counts.read:,} rows)"
        message = f"{message}; {rolled_back}" if message else rolled_back
        counts = Counts()
    contacts = {"created": counts.contacts_created, "updated": counts.contacts_updated}
    values = runs.count_values(counts.rows(), contacts)
    with suppress(SQLAlchemyError), engine.begin() as conn:
        runs.finish_run(conn, report.run, status, values, message)
