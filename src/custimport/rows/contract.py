"""The contract between a model's row rules and the machinery that writes batches.

A handler plans a batch (look-ups and decisions, no writes) and writes the plan; the
run package decides when, in which transaction and savepoint, and how often (a lost
race makes a batch be planned again). These types are all the two sides share.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows.outcomes import Counts, FailedRow, Outcome, PendingRow
from custimport.rows.outcomes import RowFailure as RowFailure  # part of the contract
from custimport.store.journal import Journal

if TYPE_CHECKING:
    from custimport.rows.change_rules import ChangeRules


class LostRace(Exception):
    """An insert found its key already taken: plan again with fresh look-ups."""


@dataclass(slots=True)
class Write:
    """A planned write of one row; the handler subclasses it with what it needs."""

    row: PendingRow
    outcome: Outcome
    contacts_created: int = 0
    contacts_updated: int = 0
    generated_key: bool = False
    fields_changed: tuple[str, ...] = ()  # an update's fields whose value it changes


W = TypeVar("W", bound=Write)


@dataclass
class Plan(Generic[W]):
    """A planned batch: the writes, and the rows already decided without writing."""

    writes: list[W] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)  # unchanged and skipped rows
    failures: list[FailedRow] = field(default_factory=list)
    deferred: list[PendingRow] = field(default_factory=list)  # to try again at the end


@dataclass
class BatchResult:
    counts: Counts
    failures: list[FailedRow]
    deferred: list[PendingRow]
    row_by_row: bool = False  # the bulk write failed and rows went one savepoint each
    replayed: bool = False  # covers every batch since the last commit, written again


class Handler(Protocol[W]):
    """Row semantics of one model: keys, planning a batch, and writing it."""

    journal: Journal | None  # writes the run's changes along with the rows (None: not kept)
    rules: "ChangeRules | None"  # what an update may change (None: every field it has)

    def key_of(self, data: dict[str, Any]) -> Hashable | None:
        """The row's key for duplicate detection within one file (None: no key)."""
        ...

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        """A row failed: rows that depend on it can say why."""
        ...

    def plan(self, conn: Connection, rows: Sequence[PendingRow], final: bool) -> Plan[W]: ...

    def write(self, conn: Connection, writes: Sequence[W]) -> None: ...

    def describe(self, error: DBAPIError) -> tuple[str, str]:
        """(field, message) for a database error that failed one row."""
        ...


def count_written(writes: Sequence[Write], counts: Counts) -> None:
    for write in writes:
        if write.outcome is Outcome.CREATED:
            counts.created += 1
        else:
            counts.updated += 1
            counts.count_fields(write.fields_changed)
        counts.contacts_created += write.contacts_created
        counts.contacts_updated += write.contacts_updated
        counts.generated_keys += write.generated_key
