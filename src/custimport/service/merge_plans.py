"""The two records a merge names, found by the keys `duplicates` prints, with what hangs on
them, read on the merge's connection (locked on PostgreSQL), made into the merge's plan.
A key that names no record, or a contact key that names several, is a usage error."""

from typing import Any

from sqlalchemy.engine import Connection

from custimport.config import masked_url
from custimport.errors import UsageError, visible
from custimport.rows.account_merge import AccountMerge, plan_account_merge
from custimport.rows.merge_rules import (
    Plan,
    contact_key,
    named_contacts,
    plan_contact_merge,
)
from custimport.service.merge_job import MergeRequest
from custimport.store import merge as store

CONTACT_KEY = "a contact is ACCOUNT_NUMBER/EMAIL or ACCOUNT_NUMBER/First Last"


def account_plan(conn: Connection, request: MergeRequest) -> tuple[str, str, Plan]:
    kept = _account(conn, request.keep.strip(), request.database_url)
    duplicate = _account(conn, request.duplicate.strip(), request.database_url)
    parent = duplicate["parent_account_id"]
    merge = AccountMerge(
        kept=kept,
        duplicate=duplicate,
        kept_ancestors=store.ancestors(conn, kept["id"]),
        parent_chain=[parent, *store.ancestors(conn, parent)] if parent is not None else [],
        children=store.children_of(conn, duplicate["id"]),
        kept_contacts=store.contacts_of(conn, kept["id"]),
        duplicate_contacts=store.contacts_of(conn, duplicate["id"]),
    )
    return kept["account_number"], duplicate["account_number"], plan_account_merge(merge)


def _account(conn: Connection, number: str, url: str) -> dict[str, Any]:
    found = store.account(conn, number)
    if found is None:
        raise UsageError(
            f"no account {visible(number)!r} in {masked_url(url)} "
            "(an account is named by its account_number)"
        )
    return found


def contact_plan(conn: Connection, request: MergeRequest) -> tuple[str, str, Plan]:
    number, kept, kept_key = _contact(conn, request.keep.strip(), request.database_url)
    other, duplicate, duplicate_key = _contact(
        conn, request.duplicate.strip(), request.database_url
    )
    if kept["id"] == duplicate["id"]:
        raise UsageError(f"KEEP and DUPLICATE name the same contact ({visible(kept_key)})")
    if kept["account_id"] != duplicate["account_id"]:
        raise UsageError(
            f"{visible(kept_key)} and {visible(duplicate_key)} are contacts of different "
            f"accounts: merge the accounts ({visible(number)}, {visible(other)}) first, "
            "with --model Account"
        )
    return kept_key, duplicate_key, plan_contact_merge(kept, duplicate, number)


def _contact(conn: Connection, key: str, url: str) -> tuple[str, dict[str, Any], str]:
    """(account number, contact, its key as stored) of the one contact KEY names."""
    number, found = named_contacts(store.contacts_under(conn, key))
    if not found:
        raise UsageError(f"no contact {visible(key)!r} in {masked_url(url)} ({CONTACT_KEY})")
    if len(found) > 1:
        raise UsageError(
            f"{visible(key)!r} names {len(found)} contacts of {visible(number)}; name one by "
            "its e-mail (`custimport duplicates --model Contact` prints keys)"
        )
    return number, dict(found[0]), contact_key(number, found[0])
