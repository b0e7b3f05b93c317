"""What an import is asked to do, what it reports, and who watches it (SPEC §2, §6)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from custimport.io.source import SourceInfo
from custimport.rows.outcomes import Counts, FailedRow
from custimport.rows.reasons import FailureReasons
from custimport.schemas import ModelSpec


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    spec: ModelSpec
    database_url: str
    mode: str = "create_update"  # as the user gave it (lower-cased); run_import parses it
    mapping_path: Path | None = None
    dry_run: bool = False
    atomic: bool = False
    max_errors: int | None = None
    batch_size: int = 2000
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int | None = None  # --header-row: the header's line or sheet row (1-based)
    parallel: bool | None = None  # prepare batches in a second process; None: by file size
    journal: bool = True  # record the run's changes, so it can be undone (not --no-undo)
    resume: bool = False  # go on after the line the last interrupted run of the file committed
    alone: bool = True  # False: one of several files (the resume hint then gives its own command)
    version: str | None = None  # custimport's, recorded with the run
    changes_path: Path | None = None  # --changes: the change file (SPEC §9), checked already
    policies: tuple[str, ...] = ()  # --policy FIELD=POLICY, as given (SPEC §9)
    defaults: tuple[str, ...] = ()  # --default FIELD=VALUE, as given
    empty_cells: str | None = None  # --empty-cells clear|keep (None: the mapping file's)
    phone_region: str | None = None  # --phone-region CC, checked (rows/phones.py)
    allow_new_keys: bool = False  # keys a spreadsheet may have damaged are new (SPEC §10)
    match_on: str | None = None  # --match-on, checked (rows/matching.py); None: the model's default
    account_ref: str | None = None  # --account-ref, checked; None: account_number
    # what the report and run record call the file, when `path` is a copy of it (a member
    # of a bundle, taken out of its zip: `backup.zip/accounts.csv`); None: `path`
    shown_as: Path | None = None

    @property
    def shown_path(self) -> Path:
        return self.shown_as if self.shown_as is not None else self.path


@dataclass(frozen=True)
class ResumePoint:
    """Where --resume goes on: after `after_line`, and past the later lines in `skip`
    that the earlier runs wrote (rows that waited for a parent later in the file)."""

    run: int
    after_line: int
    skip: frozenset[int] = frozenset()


@dataclass
class ImportReport:
    request: ImportRequest
    counts: Counts = field(default_factory=Counts)
    reasons: FailureReasons = field(default_factory=FailureReasons)  # failed rows, by kind
    completed: bool = False
    committed: bool = False
    interrupted_exit: int | None = None
    aborted: str | None = None  # the database failed mid-import (one line, no password)
    cut_short: bool = False
    stopped_reading: str | None = None  # the file could not be read to its end: where, why
    unknown_columns: list[str] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # column → field (SPEC §11)
    warnings: list[str] = field(default_factory=list)
    source: SourceInfo | None = None
    duration_s: float = 0.0
    run: int | None = None  # the run's number in the history (none for a dry run)
    resumed: "ResumePoint | None" = None  # --resume: the run and line this import went on after
    phones_as_given: int = 0  # --phone-region: phone values stored as given (no valid number)
    match_on: str | None = None  # --match-on in effect, canonical (the JSON report's)
    account_ref: str | None = None  # --account-ref in effect (None: CustomerGroup files)
    changes_written: int | None = None  # lines written to the change file (--changes)
    changes_error: str | None = None  # why the change file could not be written (one line)
    # a signal that stopped the change file's writing, after the import itself had ended
    # (its exit status; the run's own status stays what the import's end made it)
    changes_interrupted: int | None = None

    @property
    def exit_code(self) -> int:
        if self.interrupted_exit is not None:
            return self.interrupted_exit
        if self.changes_interrupted is not None:
            return self.changes_interrupted
        trouble = self.cut_short or self.aborted or self.stopped_reading or self.changes_error
        return 1 if self.counts.failed or trouble else 0


class Observer(Protocol):
    """Reporting watches from the side: failed rows and progress."""

    def started(self, source: SourceInfo) -> None: ...

    def warned(self, message: str) -> None:
        """Something the user should know before the rows go in (it is in the report too)."""
        ...

    def row_failed(self, failure: FailedRow) -> None: ...

    def progress(self, bytes_read: int, rows_read: int) -> None: ...
