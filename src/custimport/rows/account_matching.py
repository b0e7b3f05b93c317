"""Account rows matched on name and/or website (`--match-on`), and references to accounts
by name or website (`--account-ref`), SPEC §10: a batch's keys looked up at once.

Matching decides, per row, the stored account it updates: one found, none (the row
creates), or a failure (no key to match on; several accounts match). References
become account numbers, so that everything after (parents in the batch, rows
waiting for a parent later in the file, cycles) works on numbers as before.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from custimport.rows.contract import RowFailure
from custimport.rows.matching import (
    ACCOUNT_KEYS,
    REF_KEYS,
    ambiguous,
    match_label,
    missing_key,
)
from custimport.rows.outcomes import PendingRow
from custimport.store import match_store
from custimport.store.repository import AccountRef, StoredAccount

Matched = StoredAccount | RowFailure  # a row's match, or why it has none it may use


def match_rows(conn: Connection, match_on: str, rows: Sequence[PendingRow]) -> dict[int, Matched]:
    """line → the stored account the row matches, or the failure (rows matching nothing
    are not in the result). One indexed query for the batch, on the first key field;
    a second field (name,website) is compared here."""
    fields = match_on.split(",")
    key_of = [ACCOUNT_KEYS[f][1] for f in fields]
    result: dict[int, Matched] = {}
    keyed: dict[int, tuple[str, ...]] = {}
    for row in rows:
        keys = tuple([key(row.data) for key in key_of])
        if all(keys):
            keyed[row.line_no] = keys
        else:
            result[row.line_no] = RowFailure(*missing_key(match_on, keys))
    column = ACCOUNT_KEYS[fields[0]][0]
    wanted = sorted({keys[0] for keys in keyed.values()})
    second = len(fields) > 1
    by_key: dict[tuple[str, ...], list[StoredAccount]] = {}
    for account, first, other in match_store.accounts_by_key(conn, column, wanted):
        stored = (first or "", other or "") if second else (first or "",)
        by_key.setdefault(stored, []).append(account)
    for line, keys in keyed.items():
        found = by_key.get(keys)
        if found is None:
            continue
        if len(found) == 1:
            result[line] = found[0]
        else:
            numbers = [account.account_number for account in found]
            how, shown = match_label(match_on), " / ".join(keys)
            result[line] = RowFailure(
                fields[0], ambiguous("accounts", len(found), how, shown, numbers)
            )
    return result


def refs_by_key(conn: Connection, how: str, texts: Sequence[str]) -> dict[str, list[AccountRef]]:
    """Stored accounts by the key of their name or website host, for references."""
    column, key_of = REF_KEYS[how]
    found: dict[str, list[AccountRef]] = {}
    for ref, key in match_store.account_refs_by_key(conn, column, sorted(set(map(key_of, texts)))):
        found.setdefault(key, []).append(ref)
    return found


def pick_account(field_name: str, how: str, text: str, numbers: Sequence[str]) -> str:
    """The one account number a reference by name or website names; RowFailure for none or
    several (`parent account named 'X' not found`, ambiguous: naming up to five)."""
    what = "parent account" if field_name == "parent_account" else "account"
    named = ref_words(how)
    if not numbers:
        raise RowFailure(field_name, f"{what} {named} {text!r} not found")
    if len(numbers) > 1:
        message = ambiguous("accounts", len(numbers), how, text, numbers)
        raise RowFailure(field_name, f"{what} {named} {text!r} is {message}")
    return numbers[0]


def ref_words(how: str) -> str:
    """How a message says what a reference gave: `named`, `with website`."""
    return "named" if how == "name" else "with website"


def own_ref_key(how: str, data: dict[str, Any]) -> str:
    """The key other rows of the file name this row's account by."""
    return REF_KEYS[how][1](data.get(how))
