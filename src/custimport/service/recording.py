"""An import's run record (SPEC §8): started before the first row, finished after the last.

The run is committed when the import starts, so history shows it even if the process
is killed; its counts and last committed line are then written by the import's own
transactions (run/pipeline.py), and its final status here. A dry run is not recorded.
Here too: the hint that an earlier run of the same file stopped part-way, and where
`--resume` goes on.
"""

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from custimport.errors import UsageError
from custimport.models import ImportChange, ImportRun
from custimport.rows.matching import DEFAULT_MATCH, in_effect
from custimport.rows.outcomes import Counts
from custimport.run.job import ImportReport, ImportRequest, ResumePoint
from custimport.store import db, runs
from custimport.store.journal import Journal

HASH_CHUNK = 1 << 20
RESUME_CHAIN = 100  # runs followed back through --resume (each names the one it resumed)


def file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256) of the file, read once more before the import (page-cached)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


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
    options.update(_matching(request))
    if resumed is not None:
        options["resumes"] = resumed.run
    return options


def _matching(request: ImportRequest) -> dict[str, str]:
    """--match-on and --account-ref when not the defaults (left out otherwise: the options
    of runs recorded before they existed compare equal)."""
    match_on, account_ref = in_effect(request.spec.name, request.match_on, request.account_ref)
    found = {}
    if match_on != DEFAULT_MATCH[request.spec.name]:
        found["match_on"] = match_on
    if account_ref != "account_number":
        found["account_ref"] = account_ref
    return found


def _same_matching(request: ImportRequest) -> Callable[[Any], bool]:
    """Whether an earlier run matched rows as this import does: --resume goes on only
    from such a run (matched otherwise, the same file is another import)."""
    wanted = _matching(request)

    def same(run: Any) -> bool:
        try:
            options = json.loads(run.options or "{}")
        except ValueError:
            return False
        return {k: options[k] for k in ("match_on", "account_ref") if k in options} == wanted

    return same


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
    size, sha256 = file_digest(report.source.given_file if report.source else request.path)
    with engine.connect() as conn:
        previous = runs.previous_run(
            conn, sha256, request.spec.name, request.mode, mapping, _same_matching(request)
        )
        resumable = _resumable(previous)
        if request.resume and not resumable and not request.alone:
            _check_not_resumable_otherwise(conn, request, sha256)  # imported from its start
        elif request.resume:
            if not resumable:
                raise UsageError(_nothing_to_resume(previous))
            report.resumed = _resume_point(conn, previous)
        elif resumable and previous is not None and previous.rows_read:
            hint = _resume_hint(previous)  # (a run that committed nothing has none)
            report.warnings.append(hint)
            warn(hint)  # before the rows go in: the user may want to stop and resume
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
    report.run = runs.start_run(engine, start, last_line=_start_line(report.resumed))
    if request.journal:
        return Journal(report.run)
    return Journal.preview() if request.changes_path is not None else None


def _resumable(run: Any | None) -> bool:
    """A run --resume goes on from: interrupted, aborted or killed, and not undone (undone
    even in part, its lines are not in the database)."""
    return (
        run is not None
        and runs.shown_status(run) in runs.RESUMABLE
        and run.undone_by_run_id is None
    )


def _check_not_resumable_otherwise(conn: Connection, request: ImportRequest, sha256: str) -> None:
    """One of several files under --resume, with no run to go on from under these options,
    is imported from its start; unless its latest import, made with other options (mode,
    mapping, matching), could be resumed: importing it again from its start would then
    create twice the accounts that run gave generated numbers, as resuming it alone with
    those options would not."""
    latest = runs.latest_run_of(conn, sha256, request.spec.name)
    if latest is not None and _resumable(latest):
        status = runs.shown_status(latest)
        raise UsageError(
            f"run {latest.id} of this file ended {status}, but was made with other options "
            "(mode, mapping or --match-on): resume it with the options it had, or import "
            "the files again without --resume"
        )


def check_something_to_resume(requests: Sequence[ImportRequest]) -> None:
    """--resume with several files (SPEC §8, §11): at least one file has a run to go on
    from (the same file and model, ended interrupted, aborted or killed), or this is exit
    2 before anything is written, as for one file."""
    url = requests[0].database_url
    if not db.missing_sqlite_file(url):
        engine = db.make_engine(url)
        try:
            with db.translated_errors(url), engine.connect() as conn:
                if _any_resumable(conn, requests):
                    return
        finally:
            engine.dispose()
    raise UsageError(
        "nothing to resume: no file of these has an earlier import that ended "
        "interrupted, aborted or killed"
    )


def _any_resumable(conn: Connection, requests: Sequence[ImportRequest]) -> bool:
    if not sqlalchemy_inspect(conn).has_table(ImportRun.__tablename__):
        return False  # a database no import has recorded a run in
    for request in requests:
        _size, sha256 = file_digest(request.path)
        if _resumable(runs.latest_run_of(conn, sha256, request.spec.name)):
            return True
    return False


def _start_line(resumed: ResumePoint | None) -> int | None:
    return resumed.after_line if resumed is not None else None


def _nothing_to_resume(previous: Any | None) -> str:
    if previous is None:
        return "nothing to resume: no earlier import of this file with this model, mode and mapping"
    status = runs.shown_status(previous)
    if previous.undone_by_run_id is not None:
        status = f"{status} and was undone by run {previous.undone_by_run_id}"
    return f"nothing to resume: the last import of this file (run {previous.id}) is {status}"


def _resume_hint(previous: Any) -> str:
    """For a run whose counts say it committed rows (an --atomic run that was rolled
    back, interrupted or not, records none: `finish`)."""
    status = runs.shown_status(previous)
    line = previous.last_line or 0
    return (
        f"run {previous.id} of this file ended {status} after committing "
        f"{previous.rows_read:,} rows, every row up to line {line}: "
        "stop and add --resume to go on from there instead of importing the file again"
    )


def _resume_point(conn: Connection, previous: Any) -> ResumePoint:
    """After the earlier run's last line, past the later lines its run chain wrote.

    A run that wrote lines after its last line (rows before it waited for a parent later
    in the file) must have its changes recorded to say which: a --no-undo or pruned run
    cannot be resumed exactly, and is refused rather than writing rows twice."""
    after = int(previous.last_line or 0)
    skip: set[int] = set()
    run: Any | None = previous
    for _ in range(RESUME_CHAIN):
        if run is None:
            break
        if run.journal != "full" and (run.last_line_read or 0) > after:
            raise UsageError(_inexact_resume(run, after))
        lines = select(ImportChange.line).where(
            ImportChange.run_id == run.id, ImportChange.line > after
        )
        skip.update(line for (line,) in conn.execute(lines) if line is not None)
        run = runs.resumed_run(conn, run)
    return ResumePoint(previous.id, after, frozenset(skip))


def _inexact_resume(run: Any, after: int) -> str:
    kept = "recorded with --no-undo" if run.journal == "off" else "pruned"
    return (
        f"cannot resume run {run.id} exactly: it committed rows after line {after} (rows "
        f"before them waited for parents later in the file) and its changes were {kept}, "
        "so which rows it wrote is not known; import the file again without --resume "
        "(accounts without an account_number would be created again)"
    )


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
