"""The change file (SPEC §9): one CSV line per field a run changed, one per row it created.

`custimport FILE --changes OUT.csv` (what an import changes, or with --dry-run would
change) and `custimport runs show RUN -o OUT.csv` (what a recorded run changed) write
the same columns through this one writer, so a preview and the run that follows can
be compared line for line. Where the file may go is export_output's (`check_output`).
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from custimport.io.export_output import write_csv

CHANGE_FILE_COLUMNS = ("line", "model", "key", "action", "field", "before", "after")
MODEL_OF_TABLE = {"customer_group": "CustomerGroup", "account": "Account", "contact": "Contact"}


class ChangeLike(Protocol):
    """One change as the history reads it (service.history.Change)."""

    @property
    def table(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...
    @property
    def action(self) -> str: ...
    @property
    def field(self) -> str | None: ...
    @property
    def before(self) -> str | None: ...
    @property
    def after(self) -> str | None: ...


def cells(change: ChangeLike) -> tuple[str | None, ...]:
    """A change as the file's cells; the model by its name in the command line."""
    return (
        str(change.line) if change.line is not None else None,
        MODEL_OF_TABLE.get(change.table, change.table),
        change.key,
        change.action,
        change.field,
        change.before,
        change.after,
    )


def write_change_file(changes: Iterable[ChangeLike], path: Path, force: bool = False) -> int:
    """Every change as a line of `path`; how many were written (see `write_csv`)."""
    return write_csv(path, CHANGE_FILE_COLUMNS, (cells(change) for change in changes), force)
