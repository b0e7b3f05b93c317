"""CustomerGroup rows (SPEC §4): key = name, case-insensitive; group_type required on create.

An update writes the fields its row has: every column of a CSV file, and of a JSON
object only its keys (SPEC §3), so a missing group_type leaves the stored one alone.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from custimport.rows.change_rules import ChangeRules
from custimport.rows.contract import LostRace, Plan, RowFailure, Write
from custimport.rows.keys import group_row_key
from custimport.rows.modes import Mode, decide
from custimport.rows.outcomes import Outcome, PendingRow, failed
from custimport.schemas import absent_message
from custimport.store import repository
from custimport.store.db_errors import describe_row_error
from custimport.store.journal import Journal
from custimport.store.key_columns import group_key


@dataclass(slots=True)
class GroupWrite(Write):
    group_id: int | None = None
    columns: dict[str, Any] = field(default_factory=dict)


class GroupHandler:
    journal: Journal | None = None  # the run's, when its changes are recorded
    rules: ChangeRules | None = None  # policies, empty cells, defaults (None: none apply)

    def __init__(self, conn: Connection, mode: Mode, present: frozenset[str]) -> None:
        self.mode = Mode(mode)
        # the mode's decisions, as skip reasons (None: written): see rows/modes.py
        self._skip_found = decide(self.mode, exists=True).skip_reason
        self._skip_missing = decide(self.mode, exists=False).skip_reason
        self.present = present

    key_of = staticmethod(group_row_key)

    def note_failure(self, data: dict[str, Any], line_no: int) -> None:
        """Groups have no dependants within one file."""

    def describe(self, error: DBAPIError) -> tuple[str, str]:
        return describe_row_error(error)

    def plan(self, conn: Connection, rows: Sequence[PendingRow], final: bool) -> Plan[GroupWrite]:
        existing = repository.find_groups(conn, [group_key(r.data["name"]) for r in rows])
        now = repository.stored_now(conn)
        plan: Plan[GroupWrite] = Plan()
        for row in rows:
            current = existing.get(group_key(row.data["name"]))
            if current is None:
                self._plan_create(row, plan, now)
            elif self._skip_found:
                plan.counts.skip(self._skip_found)
            else:
                self._plan_update(row, current, plan, now)
        return plan

    def _plan_update(self, row: PendingRow, current: Any, plan: Plan[GroupWrite], now: Any) -> None:
        if self.rules is not None:
            row = self.rules.applied(row, lambda name: getattr(current, name))
        # the row's own fields (not the file's columns): a JSON object may lack one
        columns: dict[str, Any] = {f: row.data[f] for f in ("name", "group_type") if f in row.data}
        changed = tuple(c for c, v in columns.items() if getattr(current, c) != v)
        if not changed:
            plan.counts.unchanged += 1
            return
        columns["updated_at"] = now
        plan.writes.append(
            GroupWrite(
                row, Outcome.UPDATED, fields_changed=changed, group_id=current.id, columns=columns
            )
        )

    def _plan_create(self, row: PendingRow, plan: Plan[GroupWrite], now: Any) -> None:
        if self._skip_missing:
            plan.counts.skip(self._skip_missing)
            return
        if self.rules is not None:
            try:
                row = self.rules.applied(row, None)
            except RowFailure as failure:
                plan.failures.append(failed(row, failure.field_name, failure.message))
                return
        if "group_type" not in row.data:
            plan.failures.append(failed(row, "group_type", absent_message("group_type")))
        elif row.data["group_type"] is None:
            plan.failures.append(
                failed(row, "group_type", "is required to create a customer group")
            )
        else:
            columns = {
                "name": row.data["name"],
                "name_key": group_key(row.data["name"]),
                "group_type": row.data["group_type"],
                "created_at": now,
                "updated_at": now,
            }
            plan.writes.append(GroupWrite(row, Outcome.CREATED, columns=columns))

    def write(self, conn: Connection, writes: Sequence[GroupWrite]) -> None:
        journal = self.journal
        creates = [w for w in writes if w.group_id is None]
        updated = [(w.group_id, w.row.line_no) for w in writes if w.group_id is not None]
        if journal is not None:
            repository.name_new_rows(conn, "customer_group", [w.columns for w in creates])
            journal.before(conn, "customer_group", updated)
        if repository.insert_groups(conn, [w.columns for w in creates]) < len(creates):
            raise LostRace()
        updates = [{"id": w.group_id, **w.columns} for w in writes if w.group_id is not None]
        if repository.update_groups(conn, updates) < len(updates):
            raise LostRace()  # a group was deleted since the look-up: look up again
        if journal is not None:
            created = [(w.columns["id"], w.row.line_no) for w in creates]
            journal.created(conn, "customer_group", created)
            journal.after(conn, "customer_group", [group_id for group_id, _ in updated])
