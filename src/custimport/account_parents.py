"""Parent accounts within an account import (SPEC §4).

A parent may be in the database, in the same batch (linked after the insert), or
later in the file (the row waits for the end). A self-reference or a cycle, old
links and new ones together, fails every row involved; a row whose parent failed
says which line did.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from custimport import repository
from custimport.batches import Plan, RowFailure, Write
from custimport.parents import leads_back
from custimport.repository import AccountRef, Stamp, StoredAccount
from custimport.rows import FailedRow, PendingRow, failed


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
    """What one batch's planning looked up, shared by the per-row decisions."""

    existing: dict[str, StoredAccount]
    parents: dict[str, AccountRef]
    now: Stamp
    writes: dict[str, AccountWrite] = field(default_factory=dict)
    parent_numbers: dict[str, str] = field(default_factory=dict)  # number → parent in batch


@dataclass
class AccountDraft:
    """A batch planned row by row, before parents in the batch are linked and cycles
    are checked (both need the import's own connection)."""

    rows: Sequence[PendingRow]
    batch: AccountBatch
    plan: Plan[AccountWrite]


class ParentLinks:
    """Resolves parent_account for planned writes and remembers which rows failed."""

    def __init__(self, present: bool) -> None:
        self.present = present  # the file has a parent_account column
        self.failed_lines: dict[str, int] = {}

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
        if not self.present:
            return
        parent = write.row.data.get("parent_account")
        parent_id: int | None = None
        if parent is not None and parent in batch.parents:
            parent_id = batch.parents[parent].id
        elif parent is not None:
            batch.parent_numbers[write.number] = parent  # linked once the batch is planned
            write.changed = True
            return
        if current is None or current.parent_account_id != parent_id:
            write.columns["parent_account_id"] = parent_id
            write.changed = True

    def unchanged(self, data: dict[str, Any], current: StoredAccount, batch: AccountBatch) -> bool:
        """Whether `resolve` would leave this stored account's parent as it is."""
        if not self.present:
            return True
        parent = data.get("parent_account")
        if parent is None:
            return current.parent_account_id is None
        found = batch.parents.get(parent)
        return found is not None and found.id == current.parent_account_id

    def link_in_batch(self, batch: AccountBatch, plan: Plan[AccountWrite], final: bool) -> None:
        """Parents created by this batch link after the insert; others wait for the file's end."""
        for number, parent in batch.parent_numbers.items():
            batch.writes[number].parent_in_batch = parent
        self._drop_orphans(batch, plan, final)

    def _drop_orphans(self, batch: AccountBatch, plan: Plan[AccountWrite], final: bool) -> None:
        """Rows whose parent is not created by this batch: deferred, or failed at the end."""
        settled = False
        while not settled:
            settled = True
            for write in list(batch.writes.values()):
                parent = write.parent_in_batch
                if parent is None:
                    continue
                parent_write = batch.writes.get(parent)
                if parent_write is not None and parent_write.account_id is None:
                    continue
                del batch.writes[write.number]
                settled = False
                if final or parent in self.failed_lines:
                    message = self.missing(parent)
                    plan.failures.append(self.fail(write.row, "parent_account", message))
                else:
                    plan.deferred.append(write.row)

    def missing(self, parent: str) -> str:
        line = self.failed_lines.get(parent)
        if line is not None:
            return f"parent account {parent!r} was not imported (its row at line {line} failed)"
        return f"parent account {parent!r} not found"

    def fail_cycles(self, conn: Connection, batch: AccountBatch, plan: Plan[AccountWrite]) -> None:
        """Fail every row whose new parent link would close a cycle (SPEC §4)."""
        links: dict[Hashable, Hashable | None] = {}
        for write in batch.writes.values():
            node: Hashable = write.account_id if write.account_id is not None else write.number
            if write.parent_in_batch is not None:
                links[node] = write.parent_in_batch
            elif "parent_account_id" in write.columns:  # new accounts too: X → old → X
                parent_id = write.columns["parent_account_id"]
                if parent_id is not None or write.account_id is not None:
                    # a new account without a parent ends every walk as an absent link
                    # does, and was most of a million-account import's links
                    links[node] = parent_id
        if not links:
            return
        updates_links = any(isinstance(node, int) for node in links)
        db_parents: dict[int, int | None] = {}

        def parent_of(node: Hashable) -> Hashable | None:
            if node in links:
                return links[node]
            if not updates_links or not isinstance(node, int):
                return None  # the database alone holds no cycle and cannot reach new accounts
            if node not in db_parents:
                db_parents.update(repository.parent_ids(conn, [node]))
            return db_parents.get(node)

        in_cycle = [node for node, start in links.items() if leads_back(node, start, parent_of)]
        for node in in_cycle:
            write = self._write_for(batch, node)
            del batch.writes[write.number]
            parent = write.row.data.get("parent_account")
            message = f"parent account {parent!r} would make a cycle of parent accounts"
            plan.failures.append(self.fail(write.row, "parent_account", message))
        if in_cycle:
            self._drop_orphans(batch, plan, final=True)

    @staticmethod
    def _write_for(batch: AccountBatch, node: Hashable) -> AccountWrite:
        if isinstance(node, str):
            return batch.writes[node]
        return next(w for w in batch.writes.values() if w.account_id == node)

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
