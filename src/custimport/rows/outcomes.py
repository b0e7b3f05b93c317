"""What a row is on its way through the importer, and how rows ended (SPEC §4, §6).

Rows that fail are kept whole (line, errors, cells) for the error log and the
rejects file; every other outcome is only counted, so a million unchanged rows
cost a million increments, not a million objects. `read` is the sum of the
outcomes, so `read = created + updated + unchanged + skipped + failed` holds by
construction.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from custimport.errors import FieldError


class Outcome(StrEnum):
    """What a planned write does; unchanged, skipped and failed rows are never written."""

    CREATED = "created"
    UPDATED = "updated"


CELL_SEPARATOR = "\x00"  # never inside a valid row's cells: the readers fail rows with NUL


@dataclass(slots=True)
class PendingRow:
    """A row that passed validation and waits for its batch to be written.

    Its cells (as read) are only needed if the row fails, so between processes they
    travel as one joined string: unpickling eleven separate strings per row was
    half of the writer's cost of receiving a batch.
    """

    line_no: int
    data: dict[str, Any]
    packed_cells: list[str] | str

    @property
    def cells(self) -> list[str]:
        """As read, for the error log and the rejects file."""
        packed = self.packed_cells
        return packed.split(CELL_SEPARATOR) if isinstance(packed, str) else packed

    def packed(self) -> tuple[int, dict[str, Any], list[str] | str]:
        """(line, data, cells) to pickle, the cells joined when that is reversible."""
        cells = self.packed_cells
        if isinstance(cells, list) and cells:
            joined = CELL_SEPARATOR.join(cells)
            if joined.count(CELL_SEPARATOR) == len(cells) - 1:
                return self.line_no, self.data, joined
        return self.line_no, self.data, cells


class RowFailure(Exception):
    """One row fails, for this reason: raised while planning it, caught per row."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


@dataclass(slots=True)
class FailedRow:
    """A failed row with every reason, as the error log and rejects file need it."""

    line_no: int
    errors: list[FieldError]
    cells: list[str]
    data: dict[str, Any] = field(default_factory=dict)  # what validation made of it, if anything


def failed(row: PendingRow, field_name: str, message: str) -> FailedRow:
    return FailedRow(row.line_no, [(field_name, message)], row.cells, row.data)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    generated_keys: int = 0
    ignored_contacts: int = 0  # primary_contact_* values on rows of a non-INDIVIDUAL group
    skip_reasons: dict[str, int] = field(default_factory=dict)
    fields_changed: dict[str, int] = field(default_factory=dict)  # updated rows, by field

    @property
    def read(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + self.failed

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def count_fields(self, names: tuple[str, ...]) -> None:
        fields_changed = self.fields_changed
        for name in names:
            fields_changed[name] = fields_changed.get(name, 0) + 1

    def merge(self, other: "Counts") -> None:
        for name in (
            "created",
            "updated",
            "unchanged",
            "failed",
            "contacts_created",
            "contacts_updated",
            "generated_keys",
            "ignored_contacts",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.skip_reasons.items():
            self.skipped += count
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + count
        for name, count in other.fields_changed.items():
            self.fields_changed[name] = self.fields_changed.get(name, 0) + count

    def rows(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
        }
