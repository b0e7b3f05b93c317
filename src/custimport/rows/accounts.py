"""Account rows (SPEC §4): key, group, parent links, and the INDIVIDUAL primary contact.

Planning looks up a whole batch at once (accounts with their primary contact,
parents, groups), decides every row, and hands the writes to `write`, which
issues one executemany per kind. A parent that is neither in the database nor
in this batch may still come later in the file: such rows are deferred and
planned again at the end.

A row writes and compares the fields it has: every column of a CSV file, and of a
JSON object only its keys (SPEC §3), so an update leaves a missing key's field (the
primary contact's and the parent included) alone; a create without name or
customer_group fails.

Planning is split so that the look-ahead (run/lookahead.py) can make a batch's draft in
its thread: `look_up` and `draft` change nothing on the handler and return what they
found; `plan`, on the import's own thread and in batch order, takes it over (groups
found, rows that failed, the file's spellings of group names). The one thing both
threads touch is `_shapes`, a memo of RowFields by a row's fields: a value is the same
whoever computes it, and a dict's item assignment is atomic.
"""

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows import account_matching, near_keys
from custimport.rows.account_links import AccountBatch, AccountDraft, AccountWrite, ParentLinks
from custimport.rows.change_rules import NEW_RECORD, ChangeRules
from custimport.rows.contract import LostRace, Plan, RowFailure
from custimport.rows.keys import account_row_key
from custimport.rows.match_keys import name_key, website_host
from custimport.rows.matching import RowKey
from custimport.rows.modes import Mode, decide, key_required
from custimport.rows.outcomes import FailedRow, Outcome, PendingRow, failed
from custimport.schemas import PRIMARY_CONTACT_FIELDS, GroupType, absent_errors
from custimport.store import repository
from custimport.store.db_errors import describe_row_error
from custimport.store.journal import Journal
from custimport.store.key_columns import group_key
from custimport.store.repository import (
    AccountRef,
    Stamp,
    StoredAccount,
    StoredGroup,
    tuple_getter,
)

ACCOUNT_FIELDS = ("name", "legal_name", "website", "industry", "description")
# primary_contact_* field → the column of the contact it writes
CONTACT_COLUMN_BY_FIELD = {
    "primary_contact_first_name": "first_name",
    "primary_contact_last_name": "last_name",
    "primary_contact_email": "email",
    "primary_contact_phone": "phone",
}
# a field of the file → the attribute of a StoredAccount holding its stored value
STORED_ATTRIBUTE = {
    "customer_group": "customer_group_id",
    "parent_account": "parent_account_id",
    **{f: f"pc_{column}" for f, column in CONTACT_COLUMN_BY_FIELD.items()},
}
INDIVIDUAL = GroupType.INDIVIDUAL.value  # a plain str: compared on every row
REQUIRED_ON_CREATE = ("name", "customer_group")
# an account field → its stored match key column and how it is computed (store/match_store)
KEY_COLUMN_BY_FIELD = {"name": ("name_match", name_key), "website": ("website_match", website_host)}
# a primary contact column → the contact key column a change of it makes stale
CONTACT_KEY_BY_COLUMN = {
    "first_name": "name_match",
    "last_name": "name_match",
    "phone": "phone_match",
}
# an update's column → the field whose change it is written for
COLUMN_FIELD = {
    "customer_group_id": "customer_group",
    **{column: field for field, (column, _) in KEY_COLUMN_BY_FIELD.items()},
}


def _stored_getter(fields: Sequence[str]) -> Callable[[StoredAccount], tuple[Any, ...]]:
    """A function giving those fields of a stored account as a tuple."""
    return tuple_getter([StoredAccount._fields.index(f) for f in fields])


@dataclass(frozen=True)
class RowFields:
    """The fields a row has, with getters for their stored values, as tuples: what an
    update writes and compares (one C-level comparison per row instead of a Python loop
    over the columns; the update path is most of a re-import's time)."""

    account: list[str]
    stored: Callable[[StoredAccount], tuple[Any, ...]]
    contact: list[str]  # primary_contact_*
    stored_contact: Callable[[StoredAccount], tuple[Any, ...]]
    group: bool
    parent: bool

    @classmethod
    def of(cls, given: Collection[str]) -> "RowFields":
        account = [f for f in ACCOUNT_FIELDS if f in given]
        contact = [f for f in PRIMARY_CONTACT_FIELDS if f in given]
        stored_contact = _stored_getter([f"pc_{CONTACT_COLUMN_BY_FIELD[f]}" for f in contact])
        group, parent = "customer_group" in given, "parent_account" in given
        return cls(account, _stored_getter(account), contact, stored_contact, group, parent)


def generated_number() -> str:
    return f"AUTO-{secrets.token_hex(10).upper()}"


class AccountHandler:
    journal: Journal | None = None  # the run's, when its changes are recorded
    rules: ChangeRules | None = None  # policies, empty cells, defaults (None: none apply)
    allow_new_keys = False  # --allow-new-keys: keys a spreadsheet may have damaged are new
    match_on = "account_number"  # --match-on: what a row finds its account by (SPEC §10)
    account_ref = "account_number"  # --account-ref: what parent_account names
    keyed = False  # either is by key: this import computes the keys of what it writes
    key_field = "account_number"  # the field "duplicate of line N" is reported on

    def __init__(self, conn: Connection, mode: Mode, present: frozenset[str]) -> None:
        self.mode = Mode(mode)
        # the mode's decisions, as skip reasons (None: written): see rows/modes.py
        self._skip_found = decide(self.mode, exists=True).skip_reason
        self._skip_missing = decide(self.mode, exists=False).skip_reason
        self.present = present
        # Both group maps are replaced, never changed in place: a draft being made in the
        # look-ahead thread reads the ones it started with.
        self.groups = repository.all_groups(conn)
        self._group_by_name: dict[str, StoredGroup] = {}  # the file's spellings, resolved
        self.parents = ParentLinks(has_parent_column="parent_account" in present)
        # a parent not found may be a key a spreadsheet damaged: its message says so
        self.parents.near = lambda number: near_keys.near(conn, number)
        self._prefetched: AccountDraft | None = None  # planned ahead in a thread (lookahead)
        self._all = RowFields.of(present)  # a row with every column of the file
        self._width = len(present)
        self._shapes: dict[frozenset[str], RowFields] = {}  # rows with fewer, by their fields
        self._set_changed_only = repository.sets_only_changed(conn)
        self._failed_by_key: dict[str, int] = {}  # --account-ref by key: failed rows' lines

    key_of = staticmethod(account_row_key)

    def match_by(self, match_on: str, account_ref: str) -> None:
        """--match-on and --account-ref (checked choices, rows/matching.py). Matching on
        keys, this import computes the keys of the accounts it writes (elsewhere they are
        left NULL, to be filled when needed: store/match_store.py), so that rows later in
        the file find the accounts earlier rows wrote."""
        self.match_on, self.account_ref = match_on, account_ref
        self.keyed = match_on != "account_number" or account_ref != "account_number"
        if match_on != "account_number":
            self.key_of = RowKey("Account", match_on)
            self.key_field = match_on.split(",")[0]

    def _fields(self, data: dict[str, Any]) -> RowFields:
        """This row's fields: the file's, or fewer for a JSON object without some keys.

        A record holds the file's mapped fields or a subset, so one length test tells a
        whole row (every CSV row) from one that lacks some, without a test per field. The
        per-row paths make that test inline and call this only for the others: a call
        each was 4% of planning a re-import's updates."""
        if len(data) >= self._width:
            return self._all
        shape = frozenset(data)
        fields = self._shapes.get(shape)
        if fields is None:
            fields = self._shapes[shape] = RowFields.of(shape)
        return fields

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        self.parents.note_failure(data, line_no)
        if self.account_ref != "account_number":  # rows naming it by key say so
            key = account_matching.own_ref_key(self.account_ref, data)
            self._failed_by_key.setdefault(key, line_no)

    def link_of(self, data: dict[str, Any]) -> tuple[str | None, str | None]:
        """(own key, parent's key) of a row that waited for its parent (waiting_rows)."""
        return self.parents.link_of(data)

    def fail_waiting(self, row: PendingRow, on_cycle: bool) -> FailedRow:
        return self.parents.fail_waiting(row, on_cycle)

    def describe(self, error: DBAPIError) -> tuple[str, str]:
        """Contact constraints name the Account file's own column for the primary contact."""
        field_name, message = describe_row_error(error)
        if field_name in ("email", "is_primary"):
            return "primary_contact_email" if field_name == "email" else "row", message
        return field_name, message

    # --- planning ------------------------------------------------------------------

    def look_up(self, conn: Connection, rows: Sequence[PendingRow]) -> AccountDraft:
        """Look the batch up and plan every row: on our own connection, or ahead on
        another one in a thread (see lookahead), where it sees committed rows only.
        Changes nothing on the handler: `plan` takes the draft over."""
        found_groups = self._new_groups(conn, rows)
        matched = None
        if self.match_on != "account_number":
            matched = account_matching.match_rows(conn, self.match_on, rows)
        numbers = [  # matching on keys: only those of rows that match none (see _matched)
            r.data["account_number"]
            for r in rows
            if r.data.get("account_number") and (matched is None or r.line_no not in matched)
        ]
        parent_numbers = {r.data["parent_account"] for r in rows if r.data.get("parent_account")}
        existing = repository.find_accounts(conn, numbers)
        refs_by_key = None
        if self.account_ref != "account_number" and parent_numbers:
            refs_by_key = account_matching.refs_by_key(conn, self.account_ref, list(parent_numbers))
            parent_numbers = set()
        return self.draft(
            rows,
            existing=existing,
            parents=repository.find_account_refs(conn, parent_numbers),
            now=repository.stored_now(conn),
            found_groups=found_groups,
            damaged=self._damaged_keys(conn, [n for n in numbers if n not in existing]),
            matched=matched,
            refs_by_key=refs_by_key,
        )

    def _damaged_keys(self, conn: Connection, new_numbers: Sequence[str]) -> dict[str, list[str]]:
        """New account numbers a spreadsheet probably damaged (rows/near_keys.py), with the
        stored keys they may mean; none under --allow-new-keys."""
        if self.allow_new_keys or not new_numbers:
            return {}
        return near_keys.damaged(conn, new_numbers)

    def draft(
        self,
        rows: Sequence[PendingRow],
        existing: dict[str, StoredAccount],
        parents: dict[str, AccountRef],
        now: Stamp,
        found_groups: dict[str, StoredGroup] | None = None,
        damaged: dict[str, list[str]] | None = None,
        matched: dict[int, account_matching.Matched] | None = None,
        refs_by_key: dict[str, list[AccountRef]] | None = None,
    ) -> AccountDraft:
        """Every row decided against what was looked up; no database is asked, and the
        handler is left as it was (failures are in the draft's plan, to be noted)."""
        found_groups = found_groups or {}
        groups = {**self.groups, **found_groups} if found_groups else self.groups
        batch = AccountBatch(existing, parents, now, groups, dict(self._group_by_name))
        batch.damaged = damaged or {}
        batch.matched = matched
        batch.refs_by_key = refs_by_key
        plan: Plan[AccountWrite] = Plan()
        for row in rows:
            self._plan_row(row, batch, plan)
        return AccountDraft(rows, batch, plan, found_groups)

    def prefetched(self, found: AccountDraft) -> None:
        self._prefetched = found

    def plan(self, conn: Connection, rows: Sequence[PendingRow], final: bool) -> Plan[AccountWrite]:
        draft, self._prefetched = self._prefetched, None
        if draft is not None and draft.rows is rows and self.account_ref != "account_number":
            draft = None  # references by name: made ahead, it missed what was written since
        if draft is not None and draft.rows is rows:  # made ahead for exactly these rows, once
            self._plan_unseen_parents(conn, draft)
        else:
            draft = self.look_up(conn, rows)
        self._take_over(draft)
        batch, plan = draft.batch, draft.plan
        self.parents.link_in_batch(batch, plan, final)
        self.parents.fail_cycles(conn, batch, plan)
        plan.writes = list(batch.writes.values())
        return plan

    def _take_over(self, draft: AccountDraft) -> None:
        """What a draft found becomes the handler's: on the import's own thread, when its
        batch is planned, so batches see each other's findings in file order only."""
        if draft.found_groups:
            self.groups = {**self.groups, **draft.found_groups}
        self._group_by_name = {**self._group_by_name, **draft.batch.group_by_name}
        for failure in draft.plan.failures:  # rows waiting on these say which line failed
            self.note_failure(failure.data, failure.line_no)

    def _plan_unseen_parents(self, conn: Connection, draft: AccountDraft) -> None:
        """Plan again the rows whose parent a draft made ahead could not see.

        Another connection sees committed rows only, and misses the parents this
        import wrote since its last commit (most often, the batch just before). Left
        alone, such a row would wait for the end of the file; asked on our own
        connection, the parent is found and the row is planned as a full look-up
        would have planned it.
        """
        batch = draft.batch
        unseen = set(batch.parent_numbers.values()) - batch.parents.keys() - batch.writes.keys()
        found = repository.find_account_refs(conn, unseen) if unseen else {}
        if not found:
            return
        batch.parents.update(found)
        for number in [n for n, parent in batch.parent_numbers.items() if parent in found]:
            write = batch.writes.pop(number)
            del batch.parent_numbers[number]
            draft.plan.counts.ignored_contacts -= write.ignored_contact
            self._plan_row(write.row, batch, draft.plan)
        # file order, as a full look-up plans them: rows written one by one rely on it
        batch.writes = dict(sorted(batch.writes.items(), key=lambda item: item[1].row.line_no))

    def _plan_row(self, row: PendingRow, batch: AccountBatch, plan: Plan[AccountWrite]) -> None:
        """One row's outcome, into `plan` and `batch` only (see the module's docstring)."""
        number = row.data.get("account_number")
        if batch.matched is None:
            current = batch.existing.get(number) if number else None
        else:
            try:
                current = self._matched(row, number, batch)
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                return
        if current is None and number in batch.damaged:  # never silently new (SPEC §10)
            message = near_keys.damaged_key_message(number, batch.damaged[number])
            plan.failures.append(failed(row, "account_number", message))
            return
        if current is None and self._skip_missing:
            if number or batch.matched is not None:
                plan.counts.skip(self._skip_missing)
            else:
                plan.failures.append(failed(row, "account_number", key_required(self.mode)))
            return
        if current is not None and self._skip_found:
            plan.counts.skip(self._skip_found)
            return
        if batch.refs_by_key is not None and row.data.get("parent_account"):  # by name: a number
            try:
                row = self._parent_by_key(row, batch)
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                return
        given = row.data  # the file's values: ignored primary_contact_* values are counted
        if self.rules is not None:
            try:
                row = self.rules.applied(row, None if current is None else _stored(current))
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                return
        if current is not None and (group_type := self._unchanged(row.data, current, batch)):
            plan.counts.unchanged += 1
            plan.counts.ignored_contacts += group_type != INDIVIDUAL and self._has_contact_values(
                given
            )
            return
        # a JSON object without some keys (one length test first): a create needs them
        short = current is None and len(row.data) < self._width
        if short and (absent := absent_errors(row.data, REQUIRED_ON_CREATE)):
            plan.failures.append(FailedRow(row.line_no, absent, row.cells, row.data))
            return
        try:
            write = (
                self._create(row, batch) if current is None else self._update(row, current, batch)
            )
            # a JSON object without the key keeps its parent
            whole = len(row.data) >= self._width
            if self._all.parent if whole else self._fields(row.data).parent:
                self.parents.resolve(write, current, batch)
        except RowFailure as failure:
            plan.failures.append(failed(row, failure.field_name, failure.message))
            return
        # a default is not a value the file gave: none is counted as ignored
        plan.counts.ignored_contacts += write.ignored_contact and self._has_contact_values(given)
        if write.changed:
            batch.writes[write.number] = write
            if batch.refs_by_key is not None:  # later rows of the batch may name it
                key = account_matching.own_ref_key(self.account_ref, row.data)
                batch.written_by_key.setdefault(key, []).append(write.number)
                if current is not None:  # a stored parent, as a reference by number finds it
                    ref = AccountRef(
                        current.id,
                        current.account_number,
                        current.parent_account_id,
                        current.group_type,
                    )
                    batch.parents.setdefault(write.number, ref)
        else:
            plan.counts.unchanged += 1

    def _matched(
        self, row: PendingRow, number: str | None, batch: AccountBatch
    ) -> StoredAccount | None:
        """The stored account a row matched on --match-on's fields (None: it creates).

        A file's account_number must agree: a row that matches one account and names
        another fails, and so does one that matches none but names a stored account
        (updating it would be matching on account_number after all)."""
        assert batch.matched is not None
        found = batch.matched.get(row.line_no)
        if isinstance(found, RowFailure):
            raise found
        label = self.match_on.replace(",", " and ")
        if found is not None:
            if number and number != found.account_number:
                raise RowFailure(
                    "account_number",
                    f"the account whose {label} matches is {found.account_number!r}, "
                    f"not {number!r}",
                )
            return found
        if number and (other := batch.existing.get(number)) is not None:
            raise RowFailure(
                "account_number",
                f"account {number!r} exists, but its {label} does not match "
                f"(its name is {other.name!r})",
            )
        if number and number in batch.writes:
            raise RowFailure(
                "account_number", f"duplicate of line {batch.writes[number].row.line_no}"
            )
        return None

    def _parent_by_key(self, row: PendingRow, batch: AccountBatch) -> PendingRow:
        """The row with its parent named by account number (--account-ref name|website):
        an account stored, or written by an earlier row of the batch."""
        assert batch.refs_by_key is not None
        text = row.data["parent_account"]
        key = account_matching.own_ref_key(self.account_ref, {self.account_ref: text})
        # a stored account renamed (or given another website) by an earlier row of the
        # batch is named by its new key only, in written_by_key
        numbers = {
            ref.account_number
            for ref in batch.refs_by_key.get(key, ())
            if ref.account_number not in batch.writes
            or self.account_ref not in batch.writes[ref.account_number].fields_changed
        }
        numbers.update(batch.written_by_key.get(key, ()))
        if not numbers and key in self._failed_by_key:
            line = self._failed_by_key[key]
            raise RowFailure(
                "parent_account",
                f"parent account {account_matching.ref_words(self.account_ref)} {text!r} "
                f"was not imported (its row at line {line} failed)",
            )
        number = account_matching.pick_account(
            "parent_account", self.account_ref, text, sorted(numbers)
        )
        for ref in batch.refs_by_key.get(key, ()):
            batch.parents.setdefault(ref.account_number, ref)
        return PendingRow(row.line_no, {**row.data, "parent_account": number}, row.cells)

    def _create(self, row: PendingRow, batch: AccountBatch) -> AccountWrite:
        data = row.data
        number = data.get("account_number") or generated_number()
        group = self._group(data["customer_group"], batch)
        columns = dict(zip(ACCOUNT_FIELDS, map(data.get, ACCOUNT_FIELDS), strict=True))
        columns.update(
            account_number=number,
            customer_group_id=group.id,
            parent_account_id=None,
            created_at=batch.now,
            updated_at=batch.now,
        )
        if self.keyed:  # otherwise NULL: computed when an import needs them
            for f, (column, key_of) in KEY_COLUMN_BY_FIELD.items():
                columns[column] = key_of(data.get(f))
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
            write.ignored_contact = self._has_contact_values(data)
        return write

    def _update(self, row: PendingRow, current: StoredAccount, batch: AccountBatch) -> AccountWrite:
        data = row.data
        fields = self._all if len(data) >= self._width else self._fields(data)
        values = tuple(map(data.get, fields.account))
        columns = dict(zip(fields.account, values, strict=True))
        write = AccountWrite(
            row, Outcome.UPDATED, number=current.account_number, account_id=current.id
        )
        stored = fields.stored(current)
        if values != stored:
            write.changed = True
            write.fields_changed = _differing(fields.account, values, stored)
            for f in ("name", "website"):  # the stored key goes stale (store/match_store.py)
                if f in write.fields_changed:
                    column, key_of = KEY_COLUMN_BY_FIELD[f]
                    if self.keyed:
                        columns[column] = key_of(data[f])
                    elif getattr(current, column) is not None:  # NULL already: not set again
                        columns[column] = None
        group_type = current.group_type
        if fields.group:
            group = self._group(data["customer_group"], batch)
            columns["customer_group_id"] = group.id
            if group.id != current.customer_group_id:
                write.changed = True
                write.fields_changed += ("customer_group",)
            group_type = group.group_type
        if group_type == INDIVIDUAL:
            write.changed |= self._plan_primary_contact(write, current, batch.now, fields)
        else:
            write.ignored_contact = self._has_contact_values(data)
        if self._set_changed_only:
            changed = write.fields_changed
            columns = {c: v for c, v in columns.items() if COLUMN_FIELD.get(c, c) in changed}
        write.columns = {**columns, "updated_at": batch.now}
        return write

    def _unchanged(
        self, data: dict[str, Any], current: StoredAccount, batch: AccountBatch
    ) -> str | None:
        """The group type of a row that changes nothing, found without planning a write
        (most rows of a re-imported file: a write each cost more than the look-up); None
        when it changes something or this cannot tell, and `_update` decides.

        Mirrors `_update`, `_plan_primary_contact` and `ParentLinks.resolve`;
        tests/unit/test_unchanged_rows.py checks that both paths agree (and
        tests/unit/test_absent_fields.py, for rows without some of the file's fields).
        """
        fields = self._all if len(data) >= self._width else self._fields(data)
        if tuple(map(data.get, fields.account)) != fields.stored(current):
            return None
        group_type = current.group_type
        if fields.group:
            group = batch.group_by_name.get(data.get("customer_group") or "")
            if group is None or group.id != current.customer_group_id:
                return None
            group_type = group.group_type
        if group_type == INDIVIDUAL and fields.contact:
            if current.pc_id is None:
                return None
            if tuple(map(data.get, fields.contact)) != fields.stored_contact(current):
                return None
        if fields.parent and not self.parents.unchanged(data, current, batch):
            return None
        return group_type

    def _plan_primary_contact(
        self, write: AccountWrite, current: StoredAccount, now: Stamp, fields: RowFields
    ) -> bool:
        """Create or update the primary contact when the row has primary_contact_* columns.

        Without them an update leaves the contact alone (SPEC §4 asks for the names on
        update only when such a column is present), even for an account that has none
        yet because its group became INDIVIDUAL after it was created.
        """
        data = write.row.data
        if not fields.contact:
            return False
        if current.pc_id is None:
            write.contact_insert = self._new_contact(
                data, now, " (this INDIVIDUAL account has no primary contact yet)"
            )
            write.contacts_created = 1
            write.fields_changed += tuple(f for f in fields.contact if data[f] is not None)
            return True
        wanted = tuple(map(data.get, fields.contact))
        stored = fields.stored_contact(current)
        if wanted == stored:
            return False
        write.fields_changed += _differing(fields.contact, wanted, stored)
        for f in ("primary_contact_first_name", "primary_contact_last_name"):
            if f in fields.contact and data[f] is None:
                raise RowFailure(f, "is required for an account in an INDIVIDUAL group")
        values: dict[str, Any] = {}
        for f, value, old in zip(fields.contact, wanted, stored, strict=True):
            column = CONTACT_COLUMN_BY_FIELD[f]
            if value != old:
                key = CONTACT_KEY_BY_COLUMN.get(column)
                if key is not None and getattr(current, f"pc_{key}") is not None:
                    values[key] = None  # stale: filled again when a match needs it
            elif self._set_changed_only:
                continue
            values[column] = value
        write.contact_update = {"id": current.pc_id, **values, "updated_at": now}
        write.contacts_updated = 1
        return True

    def _new_contact(self, data: dict[str, Any], now: Stamp, why: str) -> dict[str, Any]:
        for f in ("primary_contact_first_name", "primary_contact_last_name"):
            if data.get(f) is None:
                raise RowFailure(f, f"is required for an account in an INDIVIDUAL group{why}")
        columns, fields = CONTACT_COLUMN_BY_FIELD.values(), CONTACT_COLUMN_BY_FIELD
        contact = dict(zip(columns, map(data.get, fields), strict=True))
        contact.update(
            job_title=None, department=None, is_primary=True, created_at=now, updated_at=now
        )
        return contact

    def _has_contact_values(self, data: dict[str, Any]) -> bool:
        """primary_contact_* values given (and ignored: the group is not INDIVIDUAL)."""
        # validated text is None or non-empty, so truthiness is "given" (and runs in C)
        return any(map(data.get, self._all.contact))

    # --- groups --------------------------------------------------------------------

    def _new_groups(self, conn: Connection, rows: Sequence[PendingRow]) -> dict[str, StoredGroup]:
        """Groups created by another import since we started, found once per batch."""
        names = {r.data.get("customer_group") for r in rows} - self._group_by_name.keys()
        wanted = {group_key(name) for name in names if name}
        missing = sorted(wanted - self.groups.keys())
        return repository.find_groups(conn, missing) if missing else {}

    @staticmethod
    def _group(name: str, batch: AccountBatch) -> StoredGroup:
        group = batch.group_by_name.get(name)
        if group is None:
            group = batch.groups.get(group_key(name))
            if group is None:
                raise _unknown_group(name, batch.groups)
            batch.group_by_name[name] = group
        return group

    # --- writing -------------------------------------------------------------------

    def write(self, conn: Connection, writes: Sequence[AccountWrite]) -> None:
        journal = self.journal
        if journal is not None:
            repository.name_new_rows(
                conn, "account", [w.columns for w in writes if w.account_id is None]
            )
            repository.name_new_rows(
                conn, "contact", [c for w in writes if (c := w.contact_insert)]
            )
            journal.before(conn, "account", _updated_accounts(writes))
            journal.before(conn, "contact", _updated_contacts(writes))
        creates = [w.columns for w in writes if w.account_id is None]
        if repository.insert_accounts(conn, creates) < len(creates):
            raise LostRace()
        updates = [{**w.columns, "id": w.account_id} for w in writes if w.account_id is not None]
        if repository.update_accounts(conn, updates) < len(updates):
            raise LostRace()  # an account was deleted since the look-up: look up again
        self.parents.write_links(conn, writes)
        _insert_primary_contacts(conn, writes)
        contact_updates = [w.contact_update for w in writes if w.contact_update]
        if repository.update_contacts(conn, contact_updates) < len(contact_updates):
            raise LostRace()
        if journal is not None:
            journal.created(conn, "account", _created(writes))
            journal.after(conn, "account", [w.account_id for w in writes if w.account_id])
            journal.created(conn, "contact", _created_contacts(writes))
            journal.after(conn, "contact", [i for i, _ in _updated_contacts(writes)])


def _insert_primary_contacts(conn: Connection, writes: Sequence[AccountWrite]) -> None:
    """The primary contacts the writes create. When every one belongs to an account this
    batch created with its id already given (the journal names new rows), by that id: with
    a look-up of each account by number, the insert took 4.6 s instead of 1.7 for a
    million accounts. Otherwise by account number, which also finds an account that
    another connection deleted since it was looked up (it is then not found)."""
    contacts = [(w, c) for w in writes if (c := w.contact_insert)]
    if all(w.account_id is None and "id" in w.columns for w, _ in contacts):
        rows = [{**c, "account_id": w.columns["id"]} for w, c in contacts]
        repository.insert_contacts_of_new_accounts(conn, rows)
        return
    by_number = [{**c, "account_number": w.number} for w, c in contacts]
    if repository.insert_contacts_of(conn, by_number) < len(by_number):
        raise RowFailure("account_number", "the account vanished while it was being imported")


def _differing(
    names: Sequence[str], values: tuple[Any, ...], stored: tuple[Any, ...]
) -> tuple[str, ...]:
    """The names whose value differs from the stored one (fields_changed, SPEC §9)."""
    return tuple(name for name, a, b in zip(names, values, stored, strict=True) if a != b)


def _stored(current: StoredAccount) -> Callable[[str], Any]:
    """A stored account's value of a field of the file (field policies ask for it); for
    the primary_contact_* fields of an account without a primary contact, NEW_RECORD:
    the row creates that contact, and a create writes every field."""

    def stored(name: str) -> Any:
        if current.pc_id is None and name in CONTACT_COLUMN_BY_FIELD:
            return NEW_RECORD
        return getattr(current, STORED_ATTRIBUTE.get(name, name))

    return stored


def _created(writes: Sequence[AccountWrite]) -> list[tuple[int, int | None]]:
    return [(w.columns["id"], w.row.line_no) for w in writes if w.account_id is None]


def _updated_accounts(writes: Sequence[AccountWrite]) -> list[tuple[int, int | None]]:
    return [(w.account_id, w.row.line_no) for w in writes if w.account_id is not None]


def _created_contacts(writes: Sequence[AccountWrite]) -> list[tuple[int, int | None]]:
    return [(c["id"], w.row.line_no) for w in writes if (c := w.contact_insert) is not None]


def _updated_contacts(writes: Sequence[AccountWrite]) -> list[tuple[int, int | None]]:
    return [(c["id"], w.row.line_no) for w in writes if (c := w.contact_update) is not None]


def _unknown_group(name: str, groups: dict[str, StoredGroup]) -> RowFailure:
    known = {g.name.lower(): g.name for g in groups.values()}
    close = get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
    return RowFailure("customer_group", f"unknown customer group {name!r}{hint}")
