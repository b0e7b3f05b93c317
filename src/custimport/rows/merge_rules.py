"""What `custimport merge` does to the rows (SPEC §10), decided without the database.

The kept record's values win; its empty fields (NULL or blank) take the duplicate's.
The import's rules decide every clash (SPEC §4), and each is reported:

- the kept account's primary contact stays its one primary contact; the duplicate's is
  moved and demoted (an account without one takes the duplicate's: an INDIVIDUAL account
  keeps exactly one primary contact whichever group it is in);
- a contact of the duplicate that is a contact of the kept account by §4's key (the same
  e-mail, or without e-mail the same name) is merged into it, not moved beside it (two
  rows with one key would make every later import of that key fail as ambiguous);
- the kept account's group wins; the duplicate's group is reported if it differs;
- no parent cycle: a child of the duplicate that is the kept account, or one of its
  ancestors, takes the duplicate's own parent (its place in the tree); an empty parent
  of the kept account is not filled with a row under it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = Mapping[str, Any]
ACCOUNT_FILLED = ("legal_name", "website", "industry", "description")
CONTACT_FILLED = ("first_name", "last_name", "email", "phone", "job_title", "department")


@dataclass(frozen=True)
class Conflict:
    """A clash the rules settled: what kind, the row concerned, and how it was settled."""

    kind: str  # primary | same_contact | group | parent | ambiguous_name
    table: str
    key: str
    resolution: str


@dataclass(frozen=True)
class Dropped:
    """A field both records hold, with different values: the kept one's stays."""

    table: str
    key: str
    field: str
    kept: Any
    dropped: Any


@dataclass
class Plan:
    """The writes of one merge: columns to set per row id, rows to delete."""

    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted_contacts: list[int] = field(default_factory=list)
    deleted_account: int | None = None
    filled: list[str] = field(default_factory=list)  # the kept record's fields filled
    moved_contacts: int = 0
    merged_contacts: int = 0  # contacts of the duplicate merged into one of the kept account
    moved_children: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)


def empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def fill(
    kept: Row, duplicate: Row, fields: Sequence[str], table: str, key: str
) -> tuple[dict[str, Any], list[Dropped]]:
    """The kept row's empty fields that the duplicate has, and the fields both hold apart."""
    filled: dict[str, Any] = {}
    dropped: list[Dropped] = []
    for name in fields:
        mine, theirs = kept[name], duplicate[name]
        if empty(theirs):
            continue
        if empty(mine):
            filled[name] = theirs
        elif _comparable(name, mine) != _comparable(name, theirs):
            dropped.append(Dropped(table, key, name, mine, theirs))
    return filled, dropped


def _comparable(name: str, value: Any) -> Any:
    return value.lower() if name == "email" and isinstance(value, str) else value


def contact_key(account_number: str, contact: Row) -> str:
    """As `duplicates` prints it: ACCOUNT_NUMBER/EMAIL, or ACCOUNT_NUMBER/First Last."""
    if contact["email"]:
        return f"{account_number}/{contact['email']}"
    return f"{account_number}/{contact['first_name']} {contact['last_name']}"


def plan_contact_merge(kept: Row, duplicate: Row, account_number: str) -> Plan:
    """Both contacts of one account: fill the kept one, delete the duplicate; the primary
    flag goes with the record kept."""
    plan = Plan(deleted_contacts=[duplicate["id"]])
    key = contact_key(account_number, kept)
    columns, plan.dropped = fill(kept, duplicate, CONTACT_FILLED, "contact", key)
    if duplicate["is_primary"] and not kept["is_primary"]:
        columns["is_primary"] = True
        plan.conflicts.append(
            Conflict(
                "primary",
                "contact",
                key,
                f"now the primary contact of {account_number}, as "
                f"{contact_key(account_number, duplicate)} was",
            )
        )
    plan.filled = [name for name in columns if name != "is_primary"]
    if columns:
        plan.contacts[kept["id"]] = columns
    return plan


def matching_contacts(rest: str, contacts: Sequence[Row]) -> list[Row]:
    """The contacts that REST (a key's part after the account number) names: by e-mail in
    any case; else by "First Last" among those without e-mail (as `duplicates` prints
    them), else among all."""
    by_email = [c for c in contacts if c["email"] and c["email"].lower() == rest.lower()]
    if by_email:  # lower(), as the database's unique index compares e-mails
        return by_email
    folded = rest.casefold()
    named = [c for c in contacts if f"{c['first_name']} {c['last_name']}".casefold() == folded]
    return [c for c in named if not c["email"]] or named


def named_contacts(splits: Sequence[tuple[str, str, Sequence[Row]]]) -> tuple[str, list[Row]]:
    """(account number, contacts) that a key names, from each way to split it into an account
    number that exists, the rest and that account's contacts (account numbers may hold a
    `/`: `A/B/x@y.example` is A's `b/x@y.example` or A/B's `x@y.example`). A split whose
    rest is a contact's e-mail wins over one that names contacts by name, then the longest
    account number: what `duplicates` prints for A/B's contact names it, and A's is named
    `A/b/x@y.example` (e-mails are stored in lower case). ("", []) when none matches."""
    best: tuple[bool, int, str, list[Row]] = (False, -1, "", [])
    for number, rest, contacts in splits:
        found = matching_contacts(rest, contacts)
        by_email = (
            bool(found) and bool(found[0]["email"]) and found[0]["email"].lower() == rest.lower()
        )
        if found and (by_email, len(number)) > best[:2]:
            best = (by_email, len(number), number, found)
    return best[2], best[3]
