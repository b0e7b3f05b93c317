"""Contact rows (SPEC §4): keyed by (account, email) or, without email, by name.

is_primary true makes the contact its account's one primary contact: the last
such row of a batch wins and the previous primary is demoted. On an INDIVIDUAL
account the primary contact belongs to the Account row, so a Contact row may
not move that flag.

A row writes the fields it has: every column of a CSV file, and of a JSON object
only its keys (SPEC §3). An update leaves a missing key's field alone; a create
without first_name or last_name fails, like one with them empty.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows import account_matching, near_keys
from custimport.rows.change_rules import ChangeRules
from custimport.rows.contract import LostRace, Plan, RowFailure, Write
from custimport.rows.keys import SUPERSEDED, contact_row_key
from custimport.rows.match_keys import phone_keys
from custimport.rows.matching import CONTACT_KEYS, RowKey, ambiguous, missing_key
from custimport.rows.modes import Mode, decide
from custimport.rows.near_keys import near_hint
from custimport.rows.outcomes import FailedRow, Outcome, PendingRow, failed
from custimport.schemas import GroupType, absent_errors
from custimport.store import match_store, repository
from custimport.store.db_errors import describe_row_error
from custimport.store.journal import Journal
from custimport.store.key_columns import name_key
from custimport.store.repository import AccountRef, Stamp, StoredContact

# a contact row's fields that are columns of its contact, in the order a new one is written
CONTACT_ROW_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "department")
INDIVIDUAL = GroupType.INDIVIDUAL.value  # a plain str: compared on every row
# a column → the match key a change of it makes stale (store/match_store.py)
STALE_KEY = {"first_name": "name_match", "last_name": "name_match", "phone": "phone_match"}
REQUIRED_ON_CREATE = ("first_name", "last_name")  # account: validation fails a row without it
CREATE_COLUMNS = (*CONTACT_ROW_FIELDS, "is_primary", "account_id", "created_at", "updated_at")
OWNED_BY_ACCOUNT = (
    "the primary contact of an INDIVIDUAL account is set by its Account row "
    "(import the account with primary_contact_* columns instead)"
)


@dataclass(slots=True)
class ContactWrite(Write):
    contact_id: int | None = None
    account_id: int = 0
    columns: dict[str, Any] = field(default_factory=dict)  # an update's columns
    demote_others: bool = False
    values: tuple[Any, ...] = ()  # a new contact's values, in CREATE_COLUMNS order


@dataclass(slots=True)
class _Match:
    """A row with its account and the stored contact it matched (if any)."""

    row: PendingRow
    account: AccountRef
    current: StoredContact | None
    wants_primary: bool | None


class ContactHandler:
    journal: Journal | None = None  # the run's, when its changes are recorded
    rules: ChangeRules | None = None  # policies, empty cells, defaults (None: none apply)

    def __init__(self, conn: Connection, mode: Mode, present: frozenset[str]) -> None:
        self.mode = Mode(mode)
        # the mode's decisions, as skip reasons (None: written): see rows/modes.py
        self._skip_found = decide(self.mode, exists=True).skip_reason
        self._skip_missing = decide(self.mode, exists=False).skip_reason
        self.present = present
        self._present_fields = [f for f in CONTACT_ROW_FIELDS if f in present]
        self._width = len(present)  # the fields of a row that has every column of the file
        self._set_changed_only = repository.sets_only_changed(conn)

    key_of = staticmethod(contact_row_key)
    match_on = "email"  # --match-on: what a row finds its contact by, within its account
    account_ref = "account_number"  # --account-ref: what the account column names
    key_field = "email"  # the field "duplicate of line N" is reported on
    phone_region: str | None = None  # --phone-region: phones match in national form too

    def match_by(self, match_on: str, account_ref: str) -> None:
        """--match-on and --account-ref (checked choices, rows/matching.py). A contact is
        matched among its account's contacts, on email (SPEC §4), name or phone."""
        self.match_on, self.account_ref = match_on, account_ref
        if match_on != "email" or account_ref != "account_number":
            self.key_of = RowKey("Contact", match_on, account_ref)
        if match_on != "email":
            self.key_field = "first_name" if match_on == "name" else match_on

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        """Contacts have no dependants within one file."""

    def describe(self, error: DBAPIError) -> tuple[str, str]:
        return describe_row_error(error)

    # --- planning ------------------------------------------------------------------

    def plan(self, conn: Connection, rows: Sequence[PendingRow], final: bool) -> Plan[ContactWrite]:
        plan: Plan[ContactWrite] = Plan()
        matches = self._match(conn, rows, plan)
        winners = self._primary_winners(matches)
        now = repository.stored_now(conn)
        for match in matches:
            try:
                write = self._plan_row(match, match.row.line_no in winners, now, plan)
            except RowFailure as failure:
                plan.failures.append(failed(match.row, failure.field_name, failure.message))
                continue
            if write is not None:
                plan.writes.append(write)
        return plan

    def _accounts_by_key(
        self, conn: Connection, rows: Sequence[PendingRow], plan: Plan[ContactWrite]
    ) -> list[PendingRow]:
        """--account-ref name|website: the rows with their account named by number (rows
        naming no account, or several, fail)."""
        how = self.account_ref
        found = account_matching.refs_by_key(conn, how, [r.data["account"] for r in rows])
        named = []
        for row in rows:
            text = row.data["account"]
            candidates = found.get(account_matching.own_ref_key(how, {how: text}), [])
            numbers = sorted({ref.account_number for ref in candidates})
            try:
                number = account_matching.pick_account("account", how, text, numbers)
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                continue
            named.append(PendingRow(row.line_no, {**row.data, "account": number}, row.cells))
        return named

    def _match(
        self, conn: Connection, rows: Sequence[PendingRow], plan: Plan[ContactWrite]
    ) -> list[_Match]:
        if self.account_ref != "account_number":
            rows = self._accounts_by_key(conn, rows, plan)
        accounts = repository.find_account_refs(conn, {r.data["account"] for r in rows})
        by_email_wanted = self.match_on == "email"  # else by key: no look-up by email
        email_keys = [
            (accounts[r.data["account"]].id, r.data["email"])
            for r in rows
            if by_email_wanted and r.data.get("email") and r.data["account"] in accounts
        ]
        by_email = repository.find_contacts_by_email(conn, email_keys)
        no_email_ids = sorted(
            {
                accounts[r.data["account"]].id
                for r in rows
                if by_email_wanted and not r.data.get("email") and r.data["account"] in accounts
            }
        )
        by_name = repository.find_contacts_without_email(conn, no_email_ids)
        by_key: dict[tuple[int, str], list[StoredContact]] = {}
        if self.match_on != "email":
            ids = sorted({a.id for r in rows if (a := accounts.get(r.data["account"]))})
            by_key = match_store.contacts_by_key(conn, CONTACT_KEYS[self.match_on][0], ids)
        matches = []
        for row in rows:
            account = accounts.get(row.data["account"])
            if account is None:
                number = row.data["account"]
                hint = near_hint(near_keys.near(conn, number))  # a key a spreadsheet damaged?
                plan.failures.append(failed(row, "account", f"account {number!r} not found{hint}"))
                continue
            try:
                if self.match_on == "email":
                    current = self._current(row, account, by_email, by_name)
                else:
                    current = self._current_by_key(row, account, by_key)
                if self.rules is not None and (current is not None or not self._skip_missing):
                    row = self.rules.applied(row, _stored(current))
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                continue
            matches.append(_Match(row, account, current, row.data.get("is_primary")))
        return matches

    def _current(
        self,
        row: PendingRow,
        account: AccountRef,
        by_email: dict[tuple[int, str], StoredContact],
        by_name: dict[int, list[StoredContact]],
    ) -> StoredContact | None:
        email = row.data.get("email")
        if email:
            return by_email.get((account.id, email))
        if row.data.get("first_name") is None or row.data.get("last_name") is None:
            raise RowFailure(
                "email", "email, or first_name and last_name, are needed to find the contact"
            )
        wanted = name_key(row.data["first_name"], row.data["last_name"])
        same_name = [
            c for c in by_name.get(account.id, []) if name_key(c.first_name, c.last_name) == wanted
        ]
        if len(same_name) > 1:
            raise RowFailure(
                "email",
                f"ambiguous: {len(same_name)} contacts of account {account.account_number!r} "
                "have this name and no email; add an email column to tell them apart",
            )
        return same_name[0] if same_name else None

    def _current_by_key(
        self,
        row: PendingRow,
        account: AccountRef,
        by_key: dict[tuple[int, str], list[StoredContact]],
    ) -> StoredContact | None:
        """The contact of the row's account whose name or phone key is the row's (--match-on
        name|phone); a row without one fails, and so does one that several match."""
        key = CONTACT_KEYS[self.match_on][1](row.data)
        if not key:
            raise RowFailure(*missing_key(self.match_on, [key]))
        keys = [key]
        if self.match_on == "phone":
            keys = list(phone_keys(row.data.get("phone"), self.phone_region))
        found = [c for k in keys for c in by_key.get((account.id, k), [])]
        if len(found) > 1:
            number = account.account_number
            named = [f"{number}/{c.email or f'{c.first_name} {c.last_name}'}" for c in found]
            raise RowFailure(
                self.key_field, ambiguous("contacts", len(found), self.match_on, key, named)
            )
        return found[0] if found else None

    def _primary_winners(self, matches: list[_Match]) -> set[int]:
        """The last row that makes a contact primary wins, per account: in the file (the
        preparer marks earlier claims superseded) and, to be sure, in the batch."""
        last_by_account: dict[int, int] = {}
        for match in matches:
            if match.wants_primary and not match.row.data.get(SUPERSEDED):
                last_by_account[match.account.id] = match.row.line_no
        return set(last_by_account.values())

    def _plan_row(
        self, match: _Match, wins_primary: bool, now: Stamp, plan: Plan[ContactWrite]
    ) -> ContactWrite | None:
        """The write for this row, or None when it is counted as skipped or unchanged."""
        row, current = match.row, match.current
        if current is None:
            return self._plan_create(match, wins_primary, now, plan)
        if self._skip_found:
            plan.counts.skip(self._skip_found)
            return None
        self._check_individual(match)
        fields = self._present_fields if self._whole(row.data) else self._given(row.data)
        columns = dict(zip(fields, map(row.data.get, fields), strict=True))
        if match.wants_primary is not None:
            columns["is_primary"] = wins_primary
        changed = tuple(c for c, v in columns.items() if getattr(current, c) != v)
        if not changed:
            plan.counts.unchanged += 1
            return None
        if self._set_changed_only:
            columns = {c: columns[c] for c in changed}
        for column in changed:  # its match key is filled again when a match needs it
            if column in STALE_KEY:
                columns[STALE_KEY[column]] = None
        columns["updated_at"] = now
        return ContactWrite(
            row,
            Outcome.UPDATED,
            fields_changed=changed,
            contact_id=current.id,
            account_id=match.account.id,
            columns=columns,
            demote_others=wins_primary and not current.is_primary,
        )

    def _plan_create(
        self, match: _Match, wins_primary: bool, now: Stamp, plan: Plan[ContactWrite]
    ) -> ContactWrite | None:
        """A new contact: every column, absent ones NULL (the hot path of a first import)."""
        if self._skip_missing:
            plan.counts.skip(self._skip_missing)
            return None
        row = match.row
        # absent optional fields are NULL, absent required ones fail (one length test first)
        if not self._whole(row.data) and (absent := absent_errors(row.data, REQUIRED_ON_CREATE)):
            plan.failures.append(FailedRow(row.line_no, absent, row.cells, row.data))
            return None
        self._check_individual(match)
        account_id = match.account.id
        # a tuple in column order, not a dict: the insert takes tuples, and building a
        # dict to take it apart again was 0.8 µs of this path's 2.3 a row
        values = (*map(row.data.get, CONTACT_ROW_FIELDS), wins_primary, account_id, now, now)
        return ContactWrite(
            row,
            Outcome.CREATED,
            account_id=account_id,
            demote_others=wins_primary,
            values=values,
        )

    def _whole(self, data: dict[str, Any]) -> bool:
        """Whether the row has every column of the file (always, but for a JSON object
        without some keys): one length test, where a test per field would cost each row."""
        return len(data) - (SUPERSEDED in data) >= self._width

    def _given(self, data: dict[str, Any]) -> list[str]:
        return [f for f in self._present_fields if f in data]

    def _check_individual(self, match: _Match) -> None:
        if match.account.group_type != INDIVIDUAL or match.wants_primary is None:
            return
        is_primary_now = bool(match.current is not None and match.current.is_primary)
        if match.wants_primary != is_primary_now:
            raise RowFailure("is_primary", OWNED_BY_ACCOUNT)

    # --- writing -------------------------------------------------------------------

    def write(self, conn: Connection, writes: Sequence[ContactWrite]) -> None:
        journal = self.journal
        demote = sorted({w.account_id for w in writes if w.demote_others})
        updated = [(w.contact_id, w.row.line_no) for w in writes if w.contact_id is not None]
        demoted: list[int] = []
        if journal is not None:
            journal.before(conn, "contact", updated)  # first: a row's own line wins
            demoted = repository.primary_contact_ids(conn, demote) if demote else []
            journal.before(conn, "contact", [(contact_id, None) for contact_id in demoted])
        repository.demote_primaries(conn, demote, repository.stored_now(conn))
        inserts = [w.values for w in writes if w.contact_id is None]
        columns: tuple[str, ...] = CREATE_COLUMNS
        new_ids: list[int] = []
        if journal is not None and inserts:
            new_ids = repository.next_ids(conn, "contact", len(inserts))
            inserts = [(*values, new_id) for values, new_id in zip(inserts, new_ids, strict=True)]
            columns = (*CREATE_COLUMNS, "id")
        if repository.insert_contact_values(conn, columns, inserts) < len(inserts):
            raise LostRace()  # another import added one of these contacts meanwhile
        updates = [{"id": w.contact_id, **w.columns} for w in writes if w.contact_id is not None]
        if repository.update_contacts(conn, updates) < len(updates):
            raise LostRace()  # a contact was deleted since the look-up: look up again
        if journal is not None:
            lines = [w.row.line_no for w in writes if w.contact_id is None]
            journal.created(conn, "contact", list(zip(new_ids, lines, strict=True)))
            journal.after(conn, "contact", [i for i, _ in updated] + demoted)


def _stored(current: StoredContact | None) -> Callable[[str], Any] | None:
    """The stored values field policies compare with; None for a row that creates."""
    if current is None:
        return None
    return lambda name: getattr(current, name)  # the fields with rules are its columns
