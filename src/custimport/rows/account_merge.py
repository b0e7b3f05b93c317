"""The plan of an account merge (SPEC §10), from the rows as read: pure, so that every
clash rule (rows/merge_rules.py says which) can be tested without a database.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from custimport.rows.merge_rules import (
    ACCOUNT_FILLED,
    CONTACT_FILLED,
    Conflict,
    Dropped,
    Plan,
    contact_key,
    fill,
)
from custimport.store.key_columns import name_key

Row = Mapping[str, Any]


@dataclass(frozen=True)
class AccountMerge:
    """What the plan needs: both accounts (with `group_name`, `group_type` and
    `parent_number`), the ids above the kept one (nearest first), the duplicate's parent
    and the ids above it, the duplicate's children (id, account_number), both accounts'
    contacts."""

    kept: Row
    duplicate: Row
    kept_ancestors: Sequence[int]
    parent_chain: Sequence[int]  # the duplicate's parent, then its ancestors
    children: Sequence[Row]
    kept_contacts: Sequence[Row]
    duplicate_contacts: Sequence[Row]


def plan_account_merge(merge: AccountMerge) -> Plan:
    kept, duplicate = merge.kept, merge.duplicate
    plan = Plan(deleted_account=duplicate["id"])
    columns, plan.dropped = fill(
        kept, duplicate, ("name", *ACCOUNT_FILLED), "account", kept["account_number"]
    )
    plan.filled = list(columns)
    plan.accounts[kept["id"]] = columns
    _parent(merge, plan)
    _group(merge, plan)
    _children(merge, plan)
    _contacts(merge, plan)
    plan.accounts = {row_id: values for row_id, values in plan.accounts.items() if values}
    return plan


def _parent(merge: AccountMerge, plan: Plan) -> None:
    """Fill an empty parent with the duplicate's, unless that is the kept account or under it."""
    kept, duplicate = merge.kept, merge.duplicate
    number = kept["account_number"]
    theirs = duplicate["parent_account_id"]
    if kept["parent_account_id"] == duplicate["id"] or theirs in (None, kept["id"]):
        return  # the first: _children gives it the duplicate's parent; the last: a child of it
    if kept["parent_account_id"] is None:
        if kept["id"] in merge.parent_chain:
            resolution = (
                f"parent_account left empty: {duplicate['account_number']}'s parent "
                f"{duplicate['parent_number']} is {number} or under it (no cycle)"
            )
            plan.conflicts.append(Conflict("parent", "account", number, resolution))
            return
        plan.accounts[kept["id"]]["parent_account_id"] = theirs
        plan.filled.append("parent_account")
    elif kept["parent_account_id"] != theirs:
        plan.dropped.append(
            Dropped(
                "account",
                number,
                "parent_account",
                kept["parent_number"],
                duplicate["parent_number"],
            )
        )


def _group(merge: AccountMerge, plan: Plan) -> None:
    kept, duplicate = merge.kept, merge.duplicate
    if kept["customer_group_id"] == duplicate["customer_group_id"]:
        return
    resolution = (
        f"stays in {kept['group_name']} ({kept['group_type']}); "
        f"{duplicate['account_number']}'s group {duplicate['group_name']} "
        f"({duplicate['group_type']}) is dropped"
    )
    plan.conflicts.append(Conflict("group", "account", kept["account_number"], resolution))


def _children(merge: AccountMerge, plan: Plan) -> None:
    """Children move to the kept account; the kept account, or an account above it, takes
    the duplicate's parent instead (its place in the tree: no cycle)."""
    kept, duplicate = merge.kept, merge.duplicate
    above = set(merge.kept_ancestors)
    for child in merge.children:
        if child["id"] != kept["id"] and child["id"] not in above:
            plan.accounts.setdefault(child["id"], {})["parent_account_id"] = kept["id"]
            plan.moved_children += 1
            continue
        plan.accounts.setdefault(child["id"], {})["parent_account_id"] = duplicate[
            "parent_account_id"
        ]
        where = duplicate["parent_number"] or "no parent"
        what = "was" if child["id"] == kept["id"] else f"is above {kept['account_number']} and was"
        resolution = f"{what} a child of {duplicate['account_number']}: takes its parent ({where})"
        plan.conflicts.append(Conflict("parent", "account", child["account_number"], resolution))


def _contacts(merge: AccountMerge, plan: Plan) -> None:
    """Move the duplicate's contacts; one with the key of a kept contact is merged into it."""
    kept_number, dup_number = merge.kept["account_number"], merge.duplicate["account_number"]
    state = {c["id"]: dict(c) for c in merge.kept_contacts}
    primary = next(
        (contact_key(kept_number, c) for c in merge.kept_contacts if c["is_primary"]), None
    )
    by_email = {c["email"].lower(): c["id"] for c in merge.kept_contacts if c["email"]}
    by_name: dict[tuple[str, str], list[int]] = {}
    for c in merge.kept_contacts:
        if not c["email"]:
            by_name.setdefault(name_key(c["first_name"], c["last_name"]), []).append(c["id"])
    for contact in merge.duplicate_contacts:
        key = contact_key(dup_number, contact)
        target = by_email.get(contact["email"].lower()) if contact["email"] else None
        if target is None and not contact["email"]:
            same = by_name.get(name_key(contact["first_name"], contact["last_name"]), [])
            if len(same) == 1:
                target = same[0]
            elif same:
                resolution = f"moved beside {len(same)} contacts of {kept_number} with its name"
                plan.conflicts.append(Conflict("ambiguous_name", "contact", key, resolution))
        columns = plan.contacts.setdefault(contact["id"] if target is None else target, {})
        if target is None:
            columns["account_id"] = merge.kept["id"]
            plan.moved_contacts += 1
        else:
            current = state[target]
            filled, dropped = fill(current, contact, CONTACT_FILLED, "contact", key)
            current.update(filled)
            columns.update(filled)
            plan.dropped += dropped
            plan.deleted_contacts.append(contact["id"])
            plan.merged_contacts += 1
            into = contact_key(kept_number, current)
            resolution = f"the same contact as {into} (SPEC §4's key): merged into it, deleted"
            plan.conflicts.append(Conflict("same_contact", "contact", key, resolution))
        if not contact["is_primary"]:
            continue
        if primary is None:  # the kept account had none: the duplicate's stays primary
            primary = contact_key(kept_number, state[target] if target is not None else contact)
            if target is not None:
                columns["is_primary"] = True
            continue
        if target is None:
            columns["is_primary"] = False
        resolution = f"no longer primary: {primary} stays the primary contact of {kept_number}"
        plan.conflicts.append(Conflict("primary", "contact", key, resolution))
    plan.contacts = {row_id: values for row_id, values in plan.contacts.items() if values}
