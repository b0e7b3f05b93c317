"""The key of a row, by model: what "the same row" means within a file and in the database.

Kept free of database imports on purpose: the background reader process receives
these functions (pickled by reference) and imports this module, and SQLAlchemy
alone would add 24 MB to that process.
"""

from collections.abc import Hashable
from typing import Any


def group_key(name: str) -> str:
    """The case-insensitive key of a group name, computed in Python.

    SQL's lower() folds only ASCII on SQLite (and on PostgreSQL under the C locale),
    so "Ärzte" and "ärzte" would be two groups; the key column is filled from here.
    """
    return name.casefold()


def name_key(first: str | None, last: str | None) -> tuple[str, str]:
    """How a contact without email is recognised: its names, case-insensitively."""
    return ((first or "").casefold(), (last or "").casefold())


def group_row_key(data: dict[str, Any]) -> Hashable | None:
    name = data.get("name")
    return group_key(name) if name else None


def account_row_key(data: dict[str, Any]) -> Hashable | None:
    return data.get("account_number")


def contact_row_key(data: dict[str, Any]) -> Hashable | None:
    account = data.get("account")
    if not account:
        return None
    if data.get("email"):
        return (account, data["email"])
    return (account, *name_key(data.get("first_name"), data.get("last_name")))
