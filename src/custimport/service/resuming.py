"""Where `--resume` goes on (SPEC §8): the earlier run of the same file an import may go
on from, the line after which it does, and the hint when an import does not.

A file is the same file by its SHA-256 (of the file as given), model, mode, mapping and
matching options. A run can be gone on from when it ended interrupted, aborted or killed
and was not undone. With several files (a bundle, say), each file that has such a run
is imported on its own: --resume takes one file, and the hint for one of several says how
to resume it alone.
"""

import hashlib
import json
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from custimport.errors import UsageError, visible
from custimport.models import ImportChange
from custimport.rows.matching import DEFAULT_MATCH, in_effect
from custimport.run.job import ImportReport, ImportRequest, ResumePoint
from custimport.store import runs

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


def settle(
    conn: Connection,
    request: ImportRequest,
    mapping: Mapping[str, Any] | None,
    sha256: str,
    report: ImportReport,
    warn: Callable[[str], None],
) -> None:
    """Under --resume, the report's resume point (or a UsageError when there is none to go
    on from); without it, the hint that there is one."""
    previous = runs.previous_run(
        conn, sha256, request.spec.name, request.mode, mapping, _same_matching(request)
    )
    resumable = _resumable(previous)
    if request.resume:
        if not resumable:
            raise UsageError(_nothing_to_resume(previous))
        report.resumed = _resume_point(conn, previous)
    elif resumable and previous is not None and previous.rows_read:
        hint = _resume_hint(previous, request)  # (a run that committed nothing has none)
        report.warnings.append(hint)
        warn(hint)  # before the rows go in: the user may want to stop and resume


def matching_options(request: ImportRequest) -> dict[str, str]:
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
    wanted = matching_options(request)

    def same(run: Any) -> bool:
        try:
            options = json.loads(run.options or "{}")
        except ValueError:
            return False
        return {k: options[k] for k in ("match_on", "account_ref") if k in options} == wanted

    return same


def _resumable(run: Any | None) -> bool:
    """A run --resume goes on from: interrupted, aborted or killed, and not undone (undone
    even in part, its lines are not in the database)."""
    return (
        run is not None
        and runs.shown_status(run) in runs.RESUMABLE
        and run.undone_by_run_id is None
    )


def _nothing_to_resume(previous: Any | None) -> str:
    if previous is None:
        return "nothing to resume: no earlier import of this file with this model, mode and mapping"
    status = runs.shown_status(previous)
    if previous.undone_by_run_id is not None:
        status = f"{status} and was undone by run {previous.undone_by_run_id}"
    return f"nothing to resume: the last import of this file (run {previous.id}) is {status}"


def _resume_hint(previous: Any, request: ImportRequest) -> str:
    """For a run whose counts say it committed rows (an --atomic run that was rolled
    back, interrupted or not, records none: `finish`). --resume takes one file: for one of
    several (a bundle's, say) the hint gives the command that resumes it alone.

    Several files under --resume are refused rather than resumed file by file: a file
    whose run completed would be imported again from its start, and an outside review
    showed that this creates again every account that run gave a generated number."""
    status = runs.shown_status(previous)
    line = previous.last_line or 0
    said = (
        f"run {previous.id} of this file ended {status} after committing "
        f"{previous.rows_read:,} rows, every row up to line {line}: "
    )
    if request.alone:
        return (
            said + "stop and add --resume to go on from there instead of importing the file again"
        )
    name = request.spec.name
    if request.shown_as is not None:  # taken out of a zip bundle
        file = _argument(request.path.name)
        where = f"take {file} out of {_argument(str(request.shown_as.parent))}, then run"
    else:
        file = _argument(str(request.path))
        where = "run"
    return visible(
        said + f"to go on from there instead of importing it again, stop, {where} "
        f"`custimport {file} --model {name} --resume` with the options you gave, then import "
        "the files after it"
    )


def _argument(path: str) -> str:
    """A path as a shell argument the command takes as a file, not an option."""
    return shlex.quote(f"./{path}" if path.startswith("-") else path)


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
