"""The few named errors the core raises; the CLI turns each into one line and an exit code.

Every `UsageError` means "nothing was imported because of a usage or input problem"
(exit 2). Row-level problems are never exceptions: they are outcomes of the row.
"""

# Why one row fails: (field, message). A row's problems are values, not exceptions.
FieldError = tuple[str, str]
# C0 and C1 control characters and DEL, tab aside: what a terminal would act on
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x09}


def visible(text: str) -> str:
    """`text` for a terminal: its control characters (tab aside) spelled `\\xNN`. File
    names and values in messages come from files anyone may have written: one holding
    ESC[31m must not recolour the terminal, nor a carriage return rewrite the line."""
    return text.translate(_CONTROLS)


class UsageError(Exception):
    """A problem with the command, its options or the input file as a whole (exit 2)."""


class InputFileError(UsageError):
    """The input file is missing, unreadable, empty or not text."""


class MappingError(UsageError):
    """The mapping file or the header cannot be turned into a column → field map."""


class MissingColumnsError(MappingError):
    """Required columns are missing from the header (after mapping)."""


class DatabaseError(UsageError):
    """The database cannot be reached or opened (bad URL, server down, no permission)."""


class MigrationBlockedError(DatabaseError):
    """A migration found data it cannot convert safely; nothing was changed."""


class SchemaBehindError(DatabaseError):
    """The database schema is at an older revision; it is never migrated implicitly."""


class ReportFileError(Exception):
    """The error log or rejects file could not be written mid-import (a full disk): the
    import stops, and its report says what was committed (not a usage error: rows may
    have been written). `logged`: the failed row it came with is in the error log (only
    its rejects line could not be written), so it counts as failed."""

    def __init__(self, message: str, *, logged: bool = False) -> None:
        super().__init__(message)
        self.logged = logged
