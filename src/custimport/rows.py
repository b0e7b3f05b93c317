"""What a row is on its way through the importer, and how it ended (SPEC §4, §6).

Every row read ends in exactly one outcome; counts and the error log are built
from these results, so `read = created + updated + unchanged + skipped + failed`
holds by construction.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from custimport.schemas import FieldError


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(slots=True)
class PendingRow:
    """A row that passed validation and waits for its batch to be written."""

    line_no: int
    data: dict[str, Any]
    cells: list[str]
    values: dict[str, str]


@dataclass(slots=True)
class RowResult:
    line_no: int
    outcome: Outcome
    errors: list[FieldError] = field(default_factory=list)
    reason: str | None = None  # why a row was skipped
    cells: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    contacts_created: int = 0
    contacts_updated: int = 0
    generated_key: bool = False


def failed(row: PendingRow, field_name: str, message: str) -> RowResult:
    return RowResult(
        row.line_no, Outcome.FAILED, [(field_name, message)], None, row.cells, row.values
    )


def skipped(row: PendingRow, reason: str) -> RowResult:
    return RowResult(row.line_no, Outcome.SKIPPED, reason=reason)


def done(row: PendingRow, outcome: Outcome, **counts: int) -> RowResult:
    return RowResult(row.line_no, outcome, **counts)  # type: ignore[arg-type]


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    generated_keys: int = 0

    def add(self, result: RowResult) -> None:
        self.read += 1
        name = result.outcome.value
        setattr(self, name, getattr(self, name) + 1)
        self.contacts_created += result.contacts_created
        self.contacts_updated += result.contacts_updated
        self.generated_keys += result.generated_key

    def rows(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("read", "created", "updated", "unchanged", "skipped", "failed")
        }
