"""Run records (SPEC §8): started, advanced with each commit, finished.

A run is committed when it starts, on a connection of its own, so a run killed with
SIGKILL stays `running`; `is_killed` tells such a run from one still going. The line
and counts the import has committed are written by the import's own transaction,
just before each commit (`note_commit`), so they never say more than the data holds.
"""

import getpass
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from custimport.models import ImportRun, utcnow

RUNNING = "running"
KILLED = "killed"  # shown, never stored: a `running` run whose process is gone
# statuses a later import may resume from (SPEC §8)
RESUMABLE = frozenset({"interrupted", "aborted", KILLED})
COUNT_COLUMNS = {
    "read": "rows_read",
    "created": "rows_created",
    "updated": "rows_updated",
    "unchanged": "rows_unchanged",
    "skipped": "rows_skipped",
    "failed": "rows_failed",
}


@dataclass(frozen=True)
class RunStart:
    """What a run is, as recorded when it starts."""

    model: str
    mode: str
    file: str | None = None
    file_size: int | None = None
    file_sha256: str | None = None
    mapping: Mapping[str, Any] | None = None
    options: Mapping[str, Any] | None = None
    journal: str = "full"  # full | off (--no-undo)
    undoes_run_id: int | None = None
    version: str | None = None


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container), no environment
        return None


def start_run(engine: Engine, start: RunStart, last_line: int | None = None) -> int:
    """Record a run as `running` and commit it; its number. `last_line`: where a resumed
    run starts (every line up to it was committed by the runs it goes on from)."""
    with engine.begin() as conn:
        return insert_run(conn, start, status=RUNNING, last_line=last_line)


def insert_run(conn: Connection, start: RunStart, status: str, last_line: int | None = None) -> int:
    """Insert a run in the caller's transaction (an undo records itself with its changes)."""
    values = {
        "model": start.model,
        "mode": start.mode,
        "file": start.file,
        "file_size": start.file_size,
        "file_sha256": start.file_sha256,
        "mapping": json.dumps(start.mapping, sort_keys=True) if start.mapping else None,
        "options": json.dumps(start.options or {}, sort_keys=True),
        "os_user": os_user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": start.version,
        "started_at": utcnow(),
        "status": status,
        "journal": start.journal,
        "undoes_run_id": start.undoes_run_id,
        "last_line": last_line,
        **dict.fromkeys(
            (*COUNT_COLUMNS.values(), "contacts_created", "contacts_updated", "rows_deleted"), 0
        ),
    }
    result = conn.execute(insert(ImportRun).values(values).returning(ImportRun.id))
    return int(result.scalar_one())


def count_values(rows: Mapping[str, int], contacts: Mapping[str, int]) -> dict[str, int]:
    """The report's counts as import_run columns."""
    values = {column: rows[name] for name, column in COUNT_COLUMNS.items()}
    values["contacts_created"] = contacts["created"]
    values["contacts_updated"] = contacts["updated"]
    return values


def note_commit(
    conn: Connection, run_id: int, counts: dict[str, int], last_line: int, last_line_read: int
) -> None:
    """In the import's transaction, before it commits: what the commit makes true."""
    statement = update(ImportRun).where(ImportRun.id == run_id)
    conn.execute(statement.values(last_line=last_line, last_line_read=last_line_read, **counts))


def finish_run(
    conn: Connection,
    run_id: int,
    status: str,
    counts: dict[str, int] | None = None,
    message: str | None = None,
) -> None:
    """The run's final status (in the caller's transaction)."""
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "message": message}
    if counts is not None:
        values.update(counts)
    conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values))


def is_killed(run: Any) -> bool:
    """A `running` run whose process is gone: same host, and no such pid alive."""
    if run.status != RUNNING or run.host != socket.gethostname() or run.pid is None:
        return False
    if run.pid == os.getpid():
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def shown_status(run: Any) -> str:
    """The status as people see it: `killed` for a `running` run whose process is gone."""
    return KILLED if is_killed(run) else str(run.status)


def previous_run(
    conn: Connection,
    sha256: str,
    model: str,
    mode: str,
    mapping: Mapping[str, Any] | None,
    same: Callable[[Any], bool] = lambda run: True,
) -> Any | None:
    """The latest earlier import of the same file, model, mode and mapping, if any (and
    of which `same` holds: the same --match-on, say)."""
    mapping_text = json.dumps(mapping, sort_keys=True) if mapping else None
    statement = (
        select(*ImportRun.__table__.c)
        .where(
            ImportRun.file_sha256 == sha256,
            ImportRun.model == model,
            ImportRun.mode == mode,
        )
        .order_by(ImportRun.id.desc())
    )
    for run in conn.execute(statement):
        if run.mapping == mapping_text and same(run):
            return run
    return None


def resumed_run(conn: Connection, run: Any) -> Any | None:
    """The run that `run` went on from with --resume, if any."""
    try:
        resumes = json.loads(run.options or "{}").get("resumes")
    except (ValueError, AttributeError):
        return None
    if not isinstance(resumes, int):
        return None
    statement = select(*ImportRun.__table__.c).where(ImportRun.id == resumes)
    return conn.execute(statement).first()
