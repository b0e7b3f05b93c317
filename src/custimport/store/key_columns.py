"""The values of the key columns the store looks rows up by, computed in Python.

Free of database imports: the background reader computes keys too (through rows/keys.py),
and SQLAlchemy alone would add 24 MB to that process.
"""


def group_key(name: str) -> str:
    """The case-insensitive key of a group name, computed in Python.

    SQL's lower() folds only ASCII on SQLite (and on PostgreSQL under the C locale),
    so "Ärzte" and "ärzte" would be two groups; the key column is filled from here.
    """
    return name.casefold()


def name_key(first: str | None, last: str | None) -> tuple[str, str]:
    """How a contact without email is recognised: its names, case-insensitively."""
    return ((first or "").casefold(), (last or "").casefold())
