"""Account rows (SPEC §4): key, group, parent links, and the INDIVIDUAL primary contact.

Planning looks up a whole batch at once (accounts with their primary contact,
parents, groups), decides every row, and hands the writes to `write`, which
issues one executemany per kind. A parent that is neither in the database nor
in this batch may still come later in the file: such rows are deferred and
planned again at the end.
"""

import secrets
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport import repository
from custimport.batches import LostRace, Plan, RowFailure, Write
from custimport.db_errors import describe_row_error
from custimport.parents import leads_back
from custimport.repository import AccountRef, Stamp, StoredAccount, StoredGroup
from custimport.rows import FailedRow, Outcome, PendingRow, failed
from custimport.schemas import PRIMARY_CONTACT_FIELDS

ACCOUNT_FIELDS = ("name", "legal_name", "website", "industry", "description")
CONTACT_FIELDS = {
    "primary_contact_first_name": "first_name",
    "primary_contact_last_name": "last_name",
    "primary_contact_email": "email",
    "primary_contact_phone": "phone",
}
INDIVIDUAL = "INDIVIDUAL"


@dataclass(slots=True)
class AccountWrite(Write):
    number: str = ""
    account_id: int | None = None  # None: the account is created
    columns: dict[str, Any] = field(default_factory=dict)
    parent_in_batch: str | None = None  # a parent created by this same batch
    contact_insert: dict[str, Any] | None = None
    contact_update: dict[str, Any] | None = None
    changed: bool = False


@dataclass
class _Batch:
    """What one batch's planning looked up, shared by the per-row decisions."""

    existing: dict[str, StoredAccount]
    parents: dict[str, AccountRef]
    now: Stamp
    writes: dict[str, AccountWrite] = field(default_factory=dict)
    parent_numbers: dict[str, str] = field(default_factory=dict)  # number → parent in batch


def _tuple_getter(fields: Sequence[str]) -> Callable[[StoredAccount], tuple[Any, ...]]:
    """A function giving those fields of a stored account as a tuple (itemgetter, in C)."""
    positions = [StoredAccount._fields.index(f) for f in fields]
    if len(positions) == 1:
        only = positions[0]
        return lambda stored: (stored[only],)
    return itemgetter(*positions) if positions else lambda stored: ()


def generated_number() -> str:
    return f"AUTO-{secrets.token_hex(10).upper()}"


class AccountHandler:
    def __init__(self, conn: Connection, mode: str, present: frozenset[str]) -> None:
        self.mode = mode
        self.present = present
        self.groups = repository.all_groups(conn)
        self.failed_lines: dict[str, int] = {}
        self.ignored_contact_rows = 0
        # What an update compares, as tuples: one C-level comparison per row instead of a
        # Python loop over the columns (the update path is most of a re-import's time).
        self._account_fields = [f for f in ACCOUNT_FIELDS if f in present]
        self._stored_fields = _tuple_getter(self._account_fields)
        self._contact_fields = [f for f in PRIMARY_CONTACT_FIELDS if f in present]
        self._stored_contact = _tuple_getter(
            [f"pc_{CONTACT_FIELDS[f]}" for f in self._contact_fields]
        )

    @staticmethod
    def key_of(data: dict[str, Any]) -> Hashable | None:
        return data.get("account_number")

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        number = data.get("account_number")
        if number:
            self.failed_lines.setdefault(number, line_no)

    def describe(self, error: DBAPIError) -> tuple[str, str]:
        return describe_row_error(error)

    # --- planning ------------------------------------------------------------------

    def plan(self, conn: Connection, rows: Sequence[PendingRow], final: bool) -> Plan[AccountWrite]:
        numbers = [r.data["account_number"] for r in rows if r.data.get("account_number")]
        parent_numbers = {r.data["parent_account"] for r in rows if r.data.get("parent_account")}
        self._refresh_groups(conn, rows)
        batch = _Batch(
            existing=repository.find_accounts(conn, numbers),
            parents=repository.find_account_refs(conn, parent_numbers),
            now=repository.stored_now(conn),
        )
        plan: Plan[AccountWrite] = Plan()
        for row in rows:
            self._plan_row(row, batch, plan, final)
        self._link_batch_parents(batch, plan, final)
        self._fail_cycles(conn, batch, plan)
        plan.writes = list(batch.writes.values())
        return plan

    def _plan_row(
        self, row: PendingRow, batch: _Batch, plan: Plan[AccountWrite], final: bool
    ) -> None:
        number = row.data.get("account_number")
        current = batch.existing.get(number) if number else None
        if current is None and self.mode == "update_only":
            if number:
                plan.counts.skip("not found")
            else:
                plan.failures.append(
                    self._fail(row, "account_number", "is required in update_only mode")
                )
            return
        if current is not None and self.mode == "create_only":
            plan.counts.skip("already exists")
            return
        try:
            write = (
                self._create(row, batch) if current is None else self._update(row, current, batch)
            )
            self._resolve_parent(write, current, batch)
        except RowFailure as failure:
            plan.failures.append(self._fail(row, failure.field_name, failure.message))
            return
        if write.changed:
            batch.writes[write.number] = write
        else:
            plan.counts.unchanged += 1

    def _fail(self, row: PendingRow, field_name: str, message: str) -> FailedRow:
        self.note_failure(row.data, row.line_no)
        return failed(row, field_name, message)

    def _create(self, row: PendingRow, batch: _Batch) -> AccountWrite:
        data = row.data
        number = data.get("account_number") or generated_number()
        group = self._group(data["customer_group"])
        columns = {f: data.get(f) for f in ACCOUNT_FIELDS}
        columns.update(
            account_number=number,
            customer_group_id=group.id,
            parent_account_id=None,
            created_at=batch.now,
            updated_at=batch.now,
        )
        write = AccountWrite(
            row,
            Outcome.CREATED,
            generated_key=number != data.get("account_number"),
            number=number,
            columns=columns,
            changed=True,
        )
        if group.group_type == INDIVIDUAL:
            write.contact_insert = self._new_contact(data, batch.now, "")
            write.contacts_created = 1
        else:
            self._count_ignored_contact(data)
        return write

    def _update(self, row: PendingRow, current: StoredAccount, batch: _Batch) -> AccountWrite:
        data = row.data
        values = tuple(map(data.get, self._account_fields))
        columns = dict(zip(self._account_fields, values, strict=True))
        write = AccountWrite(
            row, Outcome.UPDATED, number=current.account_number, account_id=current.id
        )
        write.changed = values != self._stored_fields(current)
        group_type = current.group_type
        if "customer_group" in self.present:
            group = self._group(data["customer_group"])
            columns["customer_group_id"] = group.id
            write.changed = write.changed or group.id != current.customer_group_id
            group_type = group.group_type
        if group_type == INDIVIDUAL:
            write.changed |= self._plan_primary_contact(write, current, batch.now)
        else:
            self._count_ignored_contact(data)
        write.columns = {**columns, "updated_at": batch.now}
        return write

    def _plan_primary_contact(
        self, write: AccountWrite, current: StoredAccount, now: Stamp
    ) -> bool:
        data = write.row.data
        if current.pc_id is None:
            write.contact_insert = self._new_contact(
                data, now, " (this INDIVIDUAL account has no primary contact yet)"
            )
            write.contacts_created = 1
            return True
        if not self._contact_fields:
            return False
        wanted = tuple(map(data.get, self._contact_fields))
        if wanted == self._stored_contact(current):
            return False
        for f in ("primary_contact_first_name", "primary_contact_last_name"):
            if f in self.present and data.get(f) is None:
                raise RowFailure(f, "is required for an account in an INDIVIDUAL group")
        values = {
            CONTACT_FIELDS[f]: value for f, value in zip(self._contact_fields, wanted, strict=True)
        }
        write.contact_update = {"id": current.pc_id, **values, "updated_at": now}
        write.contacts_updated = 1
        return True

    def _new_contact(self, data: dict[str, Any], now: Stamp, why: str) -> dict[str, Any]:
        for f in ("primary_contact_first_name", "primary_contact_last_name"):
            if data.get(f) is None:
                raise RowFailure(f, f"is required for an account in an INDIVIDUAL group{why}")
        contact = {c: data.get(f) for f, c in CONTACT_FIELDS.items()}
        contact.update(
            job_title=None, department=None, is_primary=True, created_at=now, updated_at=now
        )
        return contact

    def _count_ignored_contact(self, data: dict[str, Any]) -> None:
        if any(data.get(f) is not None for f in self._contact_fields):
            self.ignored_contact_rows += 1

    # --- groups --------------------------------------------------------------------

    def _refresh_groups(self, conn: Connection, rows: Sequence[PendingRow]) -> None:
        """Groups created by another import since we started are found, once per batch."""
        wanted = {r.data["customer_group"].lower() for r in rows if r.data.get("customer_group")}
        missing = sorted(wanted - self.groups.keys())
        if missing:
            self.groups.update(repository.find_groups(conn, missing))

    def _group(self, name: str) -> StoredGroup:
        group = self.groups.get(name.lower())
        if group is None:
            known = {g.name.lower(): g.name for g in self.groups.values()}
            close = get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
            hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
            raise RowFailure("customer_group", f"unknown customer group {name!r}{hint}")
        return group

    # --- parents -------------------------------------------------------------------

    def _resolve_parent(
        self, write: AccountWrite, current: StoredAccount | None, batch: _Batch
    ) -> None:
        """Set parent_account_id from the database, or note a parent that this batch creates."""
        if "parent_account" not in self.present:
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

    def _link_batch_parents(self, batch: _Batch, plan: Plan[AccountWrite], final: bool) -> None:
        """Parents created by this batch link after the insert; others wait for the file's end."""
        for number, parent in batch.parent_numbers.items():
            batch.writes[number].parent_in_batch = parent
        self._drop_orphans(batch, plan, final)

    def _drop_orphans(self, batch: _Batch, plan: Plan[AccountWrite], final: bool) -> None:
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
                    message = self._missing_parent(parent)
                    plan.failures.append(self._fail(write.row, "parent_account", message))
                else:
                    plan.deferred.append(write.row)

    def _missing_parent(self, parent: str) -> str:
        line = self.failed_lines.get(parent)
        if line is not None:
            return f"parent account {parent!r} was not imported (its row at line {line} failed)"
        return f"parent account {parent!r} not found"

    def _fail_cycles(self, conn: Connection, batch: _Batch, plan: Plan[AccountWrite]) -> None:
        """Fail every row whose new parent link would close a cycle (SPEC §4)."""
        links: dict[Hashable, Hashable | None] = {}
        for write in batch.writes.values():
            node: Hashable = write.account_id if write.account_id is not None else write.number
            if write.parent_in_batch is not None:
                links[node] = write.parent_in_batch
            elif "parent_account_id" in write.columns and write.account_id is not None:
                links[node] = write.columns["parent_account_id"]
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
            plan.failures.append(self._fail(write.row, "parent_account", message))
        if in_cycle:
            self._drop_orphans(batch, plan, final=True)

    @staticmethod
    def _write_for(batch: _Batch, node: Hashable) -> AccountWrite:
        if isinstance(node, str):
            return batch.writes[node]
        return next(w for w in batch.writes.values() if w.account_id == node)

    # --- writing -------------------------------------------------------------------

    def write(self, conn: Connection, writes: Sequence[AccountWrite]) -> None:
        creates = [w.columns for w in writes if w.account_id is None]
        if repository.insert_accounts(conn, creates) < len(creates):
            raise LostRace()
        updates = [{**w.columns, "id": w.account_id} for w in writes if w.account_id is not None]
        repository.update_accounts(conn, updates)
        self._write_batch_parents(conn, writes)
        contacts = [
            {**w.contact_insert, "account_number": w.number} for w in writes if w.contact_insert
        ]
        if repository.insert_contacts_of(conn, contacts) < len(contacts):
            raise RowFailure("account_number", "the account vanished while it was being imported")
        repository.update_contacts(conn, [w.contact_update for w in writes if w.contact_update])

    def _write_batch_parents(self, conn: Connection, writes: Sequence[AccountWrite]) -> None:
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
                    raise RowFailure("parent_account", self._missing_parent(parent))
        now = writes[0].columns["updated_at"]
        repository.set_parents(conn, linked, now)
