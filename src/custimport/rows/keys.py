"""The key of a row, by model: what "the same row" means within a file and in the database.

Kept free of database imports on purpose: the background reader process receives
these functions (pickled by reference) and imports this module, and SQLAlchemy
alone would add 24 MB to that process.
"""

from collections.abc import Hashable
from typing import Any

from custimport.store.key_columns import group_key, name_key

# The data key of a contact row whose primary claim a later row of the file overrides:
# set by the preparer (run/primary_claims.py), read by the Contact handler.
SUPERSEDED = "primary_superseded"


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
