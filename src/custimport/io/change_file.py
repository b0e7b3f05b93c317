"""The change file (SPEC §9): one CSV line per field a run changed, one per row it created.

`custimport FILE --changes OUT.csv` (what an import changes, or with --dry-run would
change) and `custimport runs show RUN -o OUT.csv` (what a recorded run changed) write
the same columns through this one writer, so a preview and the run that follows can
be compared line for line. Where the file may go is export_output's (`check_output`).
"""

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from custimport.io.export_output import write_csv

CHANGE_FILE_COLUMNS = ("line", "model", "key", "action", "field", "before", "after")
MODEL_OF_TABLE = {"customer_group": "CustomerGroup", "account": "Account", "contact": "Contact"}


def cells(change: Sequence[Any]) -> tuple[str | None, ...]:
    """A change as the file's cells; the model by its name in the command line. `change`:
    its values in service.history.Change's order (a Change, or the plain tuple
    `history.changes_on` gives): table, key, line, action, field, before, after."""
    table, key, line, action, field, before, after = change[:7]
    line_text = None if line is None else str(line)
    return (line_text, MODEL_OF_TABLE.get(table, table), key, action, field, before, after)


def write_change_file(changes: Iterable[Sequence[Any]], path: Path, force: bool = False) -> int:
    """Every change as a line of `path`; how many were written (see `write_csv`)."""
    return write_csv(path, CHANGE_FILE_COLUMNS, map(cells, changes), force)
