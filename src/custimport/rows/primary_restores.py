"""Would undoing a merge leave every account it touches with a valid primary contact?
Decided without the database, from the merge's contact records and the contacts as they
are now (SPEC §4: at most one primary contact per account, exactly one on an INDIVIDUAL
account; §8: a restore that cannot be done is a conflict, never a database error).

The undo moves each contact the merge moved back to the account it came from, gives back
the primary flags the merge changed, and inserts the contacts it deleted again. A flag the
merge left alone stays as it is now: if a later import changed it (a merge recorded
before it held the moved contacts' flags, or another program), the account the contact
goes back to may end up with two primary contacts, or an INDIVIDUAL one with none.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Image = Mapping[str, Any]
SECOND = "it would be a second primary contact of {number}"
NONE_LEFT = "an INDIVIDUAL account: it would be left without a primary contact"


@dataclass(frozen=True)
class ContactRecord:
    """One contact record of the run: `created`, `updated` or `deleted`, with its images."""

    row_id: int
    key: str
    action: str
    before: Image | None
    after: Image | None


@dataclass(frozen=True)
class AccountAfter:
    """An account that is there after the undo: its number, whether it is INDIVIDUAL, and
    whether the undo inserts it again (a merged account)."""

    number: str
    individual: bool
    reinserted: bool


@dataclass(frozen=True)
class Clash:
    table: str  # contact (a second primary) | account (an INDIVIDUAL one without)
    row_id: int
    key: str
    reason: str


Place = tuple[int, bool]  # (account id, is primary)


def primary_clashes(
    records: Iterable[ContactRecord],
    now: Mapping[int, Place],
    accounts: Mapping[int, AccountAfter],
) -> list[Clash]:
    """The clashes the undo would leave. `now`: every contact, as it is now, of the accounts
    the records name and of the records' own contacts; `accounts`: those of them that are
    there after the undo."""
    future = dict(now)
    arriving: dict[int, str] = {}  # contacts whose account or flag the undo changes: key
    for record in records:
        place = _after_undo(record, future.get(record.row_id))
        if place is None:
            future.pop(record.row_id, None)
            continue
        if place != future.get(record.row_id):
            arriving[record.row_id] = record.key
        future[record.row_id] = place
    clashes = []
    for account_id, account in accounts.items():
        primaries = sorted(i for i, (at, primary) in future.items() if at == account_id and primary)
        if len(primaries) > 1:
            reason = SECOND.format(number=account.number)
            clashes += [
                Clash("contact", i, arriving[i], reason) for i in primaries if i in arriving
            ]
        elif not primaries and account.individual:
            had = any(at == account_id and primary for at, primary in now.values())
            if had or account.reinserted:
                clashes.append(Clash("account", account_id, account.number, NONE_LEFT))
    return clashes


def _after_undo(record: ContactRecord, place: Place | None) -> Place | None:
    """Where the record's contact is after the undo, and whether it is primary there; None
    when it is not there (deleted by the undo, or gone since: a conflict of its own)."""
    if record.action == "created":
        return None
    if record.action == "deleted":
        before = record.before or {}
        return int(before["account_id"]), bool(before["is_primary"])
    if place is None or record.before is None or record.after is None:
        return place
    account, primary = place
    before, after = record.before, record.after
    if before["account_id"] != after["account_id"]:
        account = int(before["account_id"])
    if before["is_primary"] != after["is_primary"]:
        primary = bool(before["is_primary"])
    return account, primary


def accounts_named(records: Iterable[ContactRecord], now: Mapping[int, Place]) -> set[int]:
    """The accounts whose primary contacts the undo may change: those the records' images
    name, and those the records' contacts are in now."""
    found = {account for account, _primary in now.values()}
    for record in records:
        for image in (record.before, record.after):
            if image is not None and image["account_id"] is not None:
                found.add(int(image["account_id"]))
    return found
