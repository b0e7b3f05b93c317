"""Parent accounts within an account import (SPEC §4).

A parent may be in the database, in the same batch (linked after the insert), or
later in the file (the row waits for the end, see waiting_rows). A self-reference
or a cycle, old links and new ones together, fails every row involved; a row whose
parent failed says which line did.

Every step here is linear in the batch (SPEC §12.4): rows that must wait take the
rows waiting on them along in one pass, and cycles are found by walking each link
once (parents.cycle_members). A forward chain of 20,000 accounts took 5 s and a
cycle of 20,000 took 87 s when each row was walked from, and rows were dropped
until nothing changed. Links stored in the database are walked only when a batch
changes a stored account's parent, one query per level of the stored ancestry
above the batch (it was one per account), so a batch costs what the hierarchy
above it is deep.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from custimport.rows.contract import Plan, RowFailure, Write
from custimport.rows.cycles import cycle_members
from custimport.rows.near_keys import near_hint
from custimport.rows.outcomes import FailedRow, PendingRow, failed
from custimport.store import repository
from custimport.store.repository import AccountRef, Stamp, StoredAccount, StoredGroup


@dataclass(slots=True)
class AccountWrite(Write):
    number: str = ""
    account_id: int | None = None  # None: the account is created
    columns: dict[str, Any] = field(default_factory=dict)
    parent_in_batch: str | None = None  # a parent created by this same batch
    contact_insert: dict[str, Any] | None = None
    contact_update: dict[str, Any] | None = None
    changed: bool = False
    ignored_contact: bool = False  # primary_contact_* values on a non-INDIVIDUAL account


@dataclass
class AccountBatch:
    """What one batch's planning looked up, shared by the per-row decisions.

    Its group maps are the batch's own: a batch planned ahead in the look-ahead thread
    resolves group names here, and the handler takes them over when it plans the batch.
    """

    existing: dict[str, StoredAccount]
    parents: dict[str, AccountRef]
    now: Stamp
    groups: dict[str, StoredGroup] = field(default_factory=dict)  # by key; read only here
    group_by_name: dict[str, StoredGroup] = field(default_factory=dict)  # the file's spellings
    writes: dict[str, AccountWrite] = field(default_factory=dict)
    parent_numbers: dict[str, str] = field(default_factory=dict)  # number → parent in batch
    unrooted: int = 0  # writes whose parents in the batch never reach a root: on a cycle
    # new account numbers a spreadsheet probably damaged → the stored keys they may mean
    # (rows/near_keys.py; empty when --allow-new-keys)
    damaged: dict[str, list[str]] = field(default_factory=dict)
    # --match-on by key: line → the stored account the row matched, or why it cannot
    # (rows/account_matching.py); None: rows match on account_number
    matched: "dict[int, StoredAccount | RowFailure] | None" = None
    # --account-ref by key: stored accounts by the key of their name/website (None: by
    # account_number), and the numbers this batch writes by that key
    refs_by_key: dict[str, list[AccountRef]] | None = None
    written_by_key: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class AccountDraft:
    """A batch planned row by row, before parents in the batch are linked and cycles
    are checked (both need the import's own connection).

    Made without changing the handler (it may be made in the look-ahead thread while
    the import's thread plans the batch before): what it found that the handler keeps,
    the groups and the rows that failed (`plan.failures`), is merged when the batch
    itself is planned, in file order.
    """

    rows: Sequence[PendingRow]
    batch: AccountBatch
    plan: Plan[AccountWrite]
    found_groups: dict[str, StoredGroup] = field(default_factory=dict)  # new since the start


class ParentLinks:
    """Resolves parent_account for planned writes and remembers which rows failed."""

    def __init__(self, has_parent_column: bool) -> None:
        self.has_parent_column = has_parent_column
        self.failed_lines: dict[str, int] = {}
        # the stored keys a parent that was not found may mean (rows/near_keys.py)
        self.near: Callable[[str], list[str]] = lambda number: []

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        number = data.get("account_number")
        if number:
            self.failed_lines.setdefault(number, line_no)

    def fail(self, row: PendingRow, field_name: str, message: str) -> FailedRow:
        self.note_failure(row.data, row.line_no)
        return failed(row, field_name, message)

    def resolve(
        self, write: AccountWrite, current: StoredAccount | None, batch: AccountBatch
    ) -> None:
        """Set parent_account_id from the database, or note a parent that this batch creates."""
        if not self.has_parent_column:
            return
        parent = write.row.data.get("parent_account")
        parent_id: int | None = None
        if parent is not None and parent in batch.parents:
            parent_id = batch.parents[parent].id
        elif parent is not None:
            batch.parent_numbers[write.number] = parent  # linked once the batch is planned
            write.changed = True
            write.fields_changed += ("parent_account",)  # a parent created since: new
            return
        if current is None or current.parent_account_id != parent_id:
            write.columns["parent_account_id"] = parent_id
            write.changed = True
            write.fields_changed += ("parent_account",)

    def unchanged(self, data: dict[str, Any], current: StoredAccount, batch: AccountBatch) -> bool:
        """Whether `resolve` would leave this stored account's parent as it is."""
        if not self.has_parent_column:
            return True
        parent = data.get("parent_account")
        if parent is None:
            return current.parent_account_id is None
        found = batch.parents.get(parent)
        return found is not None and found.id == current.parent_account_id

    def link_in_batch(self, batch: AccountBatch, plan: Plan[AccountWrite], final: bool) -> None:
        """Parents created by this batch link after the insert; others wait for the file's end."""
        if not batch.parent_numbers:
            return
        for number, parent in batch.parent_numbers.items():
            batch.writes[number].parent_in_batch = parent
        self._drop_orphans(batch, plan, final)
        _parents_first(batch)

    def _drop_orphans(self, batch: AccountBatch, plan: Plan[AccountWrite], final: bool) -> None:
        """Rows whose parent is not created by this batch: deferred, or failed at the end,
        and the rows of the batch waiting on them with them (one pass, parents first)."""
        waiting: dict[str, list[AccountWrite]] = {}  # parent number → writes created below it
        dropped: list[AccountWrite] = []
        for write in batch.writes.values():
            parent = write.parent_in_batch
            if parent is None:
                continue
            parent_write = batch.writes.get(parent)
            if parent_write is not None and parent_write.account_id is None:
                waiting.setdefault(parent, []).append(write)
            else:
                dropped.append(write)
        for write in dropped:  # grows as it is walked: a dropped row takes its children along
            del batch.writes[write.number]
            parent = write.parent_in_batch
            assert parent is not None
            if final or parent in self.failed_lines:
                message = self.missing(parent)
                plan.failures.append(self.fail(write.row, "parent_account", message))
            else:
                plan.deferred.append(write.row)
            dropped.extend(waiting.pop(write.number, ()))

    def missing(self, parent: str) -> str:
        line = self.failed_lines.get(parent)
        if line is not None:
            return f"parent account {parent!r} was not imported (its row at line {line} failed)"
        return f"parent account {parent!r} not found{near_hint(self.near(parent))}"

    def fail_cycles(self, conn: Connection, batch: AccountBatch, plan: Plan[AccountWrite]) -> None:
        """Fail every row whose new parent link would close a cycle (SPEC §4)."""
        if not batch.unrooted and not any(map(_relinks, batch.writes.values())):
            return  # only new accounts get parents, and none is under a cycle of the batch
        links = self._new_links(batch)
        if not links:
            return
        # the database alone holds no cycle and cannot reach accounts being created: its
        # links matter only when this batch changes an existing account's parent
        updates_links = any(isinstance(node, int) for node in links)
        stored = _stored_links(conn, links) if updates_links else {}

        def parent_of(node: Hashable) -> Hashable | None:
            return links[node] if node in links else stored.get(node)

        in_cycle = [node for node in cycle_members(links, parent_of) if node in links]
        if not in_cycle:
            return
        by_node = {_node_of(write): write for write in batch.writes.values()}
        for node in sorted(in_cycle, key=lambda node: by_node[node].row.line_no):
            write = by_node[node]
            del batch.writes[write.number]
            plan.failures.append(self.fail(write.row, "parent_account", cycle_message(write.row)))
        self._drop_orphans(batch, plan, final=True)

    @staticmethod
    def _new_links(batch: AccountBatch) -> dict[Hashable, Hashable | None]:
        """The parent links this batch sets, by account (number if created, else id)."""
        links: dict[Hashable, Hashable | None] = {}
        for write in batch.writes.values():
            node = _node_of(write)
            if write.parent_in_batch is not None:
                links[node] = write.parent_in_batch
            elif "parent_account_id" in write.columns:  # new accounts too: X → old → X
                parent_id = write.columns["parent_account_id"]
                if parent_id is not None or write.account_id is not None:
                    # a new account without a parent ends every walk as an absent link
                    # does, and was most of a million-account import's links
                    links[node] = parent_id
        return links

    # --- rows that waited for the end of the file (waiting_rows) -----------------------

    @staticmethod
    def link_of(data: dict[str, Any]) -> tuple[str | None, str | None]:
        """(account number, parent's account number) of a row that waited for its parent."""
        return data.get("account_number"), data.get("parent_account")

    def fail_waiting(self, row: PendingRow, on_cycle: bool) -> FailedRow:
        """A waiting row on a cycle of waiting rows, or waiting on one (its parent failed
        just before it, so the message names that row's line)."""
        parent = row.data.get("parent_account") or ""
        message = cycle_message(row) if on_cycle else self.missing(parent)
        return self.fail(row, "parent_account", message)

    def write_links(self, conn: Connection, writes: Sequence[AccountWrite]) -> None:
        """Link children to parents this write inserts (or, row by row, an earlier row did)."""
        linked = [(w.number, w.parent_in_batch) for w in writes if w.parent_in_batch is not None]
        if not linked:
            return
        inserted_now = {w.number for w in writes if w.account_id is None}
        elsewhere = [parent for _, parent in linked if parent not in inserted_now]
        if elsewhere:
            found = repository.find_account_refs(conn, elsewhere)
            for parent in elsewhere:
                if parent not in found:
                    raise RowFailure("parent_account", self.missing(parent))
        now = writes[0].columns["updated_at"]
        repository.set_parents(conn, linked, now)


def cycle_message(row: PendingRow) -> str:
    return (
        f"parent account {row.data.get('parent_account')!r} would make a cycle of parent accounts"
    )


def _relinks(write: AccountWrite) -> bool:
    """A stored account whose parent this write changes: the database's links then count."""
    return write.account_id is not None and (
        write.parent_in_batch is not None or "parent_account_id" in write.columns
    )


def _node_of(write: AccountWrite) -> Hashable:
    """An account in the link graph: its id if it is stored, its number if it is created."""
    return write.account_id if write.account_id is not None else write.number


def _stored_links(
    conn: Connection, links: dict[Hashable, Hashable | None]
) -> dict[Hashable, Hashable | None]:
    """The database's parent links above the stored parents that `links` names, up to
    their roots or to an account that `links` re-links: one query per level, not per
    account (an id gone meanwhile ends its walk)."""
    stored: dict[Hashable, Hashable | None] = {}
    level = {p for p in links.values() if isinstance(p, int) and p not in links}
    while level:
        found = repository.parent_ids(conn, sorted(level))
        stored.update(dict.fromkeys(level))
        stored.update(found.items())
        level = {p for p in found.values() if p is not None and p not in links and p not in stored}
    return stored


def _parents_first(batch: AccountBatch) -> None:
    """Order the batch's writes so a parent it creates comes before its children: a batch
    written row by row (after the database refused one) links each row as it goes."""
    below: dict[str, list[AccountWrite]] = {}
    ordered: list[AccountWrite] = []
    for write in batch.writes.values():
        if write.parent_in_batch is None:
            ordered.append(write)
        else:
            below.setdefault(write.parent_in_batch, []).append(write)
    if not below:
        return
    for write in ordered:  # grows as it is walked
        ordered.extend(below.pop(write.number, ()))
    left = [write for writes in below.values() for write in writes]  # on a cycle: failed next
    batch.writes = {write.number: write for write in ordered + left}
    batch.unrooted = len(left)
