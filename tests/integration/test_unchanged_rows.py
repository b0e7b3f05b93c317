"""The shortcut for unchanged account rows decides exactly what full planning decides.

`AccountHandler._unchanged` counts a row unchanged without planning a write. It
restates the comparisons of `_update`, `_plan_primary_contact` and
`ParentLinks.resolve`, so this plans generated batches against stored accounts
twice, with and without the shortcut, and requires the same counts, writes,
failures and deferred rows.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from custimport.rows.accounts import AccountHandler
from custimport.rows.contract import Plan
from custimport.rows.outcomes import PendingRow
from helpers import (
    ACCOUNTS_HEADER,
    GROUPS_HEADER,
    account_row,
    execute,
    run_import,
    seed_groups,
    write_csv,
)

STORED = [  # number, group, parent, first, last, email, phone
    ("B-1", "Enterprise", "", "", "", "", ""),
    ("B-2", "Enterprise", "B-1", "", "", "", ""),
    ("I-1", "Retail", "", "Jane", "Doe", "jane@example.com", "+1 555"),
    ("I-2", "Retail", "B-1", "Jon", "Roe", "", ""),
    ("P-1", "Partners", "I-1", "", "", "", ""),
    ("C-1", "Converted", "", "", "", "", ""),  # INDIVIDUAL since, with no primary contact
]
CONTACT_COLUMNS = (
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
    "primary_contact_phone",
)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """A SQLite database holding STORED, and a connection to plan against it."""
    tmp_path = tmp_path_factory.mktemp("unchanged")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    seed_groups(tmp_path, url)
    groups = write_csv(tmp_path / "more.csv", GROUPS_HEADER, [["Converted", "BUSINESS"]])
    assert run_import(groups, "CustomerGroup", url).exit_code == 0
    rows = [
        account_row(n, group=g, parent=p, first=f, last=la, email=e, phone=ph, website="x.example")
        for n, g, p, f, la, e, ph in STORED
    ]
    path = write_csv(tmp_path / "stored.csv", ACCOUNTS_HEADER, rows)
    assert run_import(path, "Account", url).rows["created"] == len(STORED)
    execute(url, "UPDATE customer_group SET group_type = 'INDIVIDUAL' WHERE name = 'Converted'")
    engine = create_engine(url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _text(stored: str) -> st.SearchStrategy[str | None]:
    """The stored value (as validation gives it: empty is None), or a change."""
    return st.sampled_from([stored or None, None, "other", "Jane"])


@st.composite
def batches(draw: st.DrawFn) -> tuple[frozenset[str], list[dict[str, Any]]]:
    """Columns present, and one row per stored account with some values changed."""
    dropped = draw(st.sampled_from([(), ("parent_account",), ("customer_group",), CONTACT_COLUMNS]))
    present = frozenset(ACCOUNTS_HEADER) - set(dropped)
    rows = []
    for number, group, parent, first, last, email, phone in STORED:
        data: dict[str, Any] = {
            "account_number": number,
            "name": draw(st.sampled_from([f"Account {number}", "Renamed"])),
            "website": draw(st.sampled_from(["x.example", None, "y.example"])),
            "customer_group": draw(
                st.sampled_from([group, "Retail", "Enterprise", "Partners", "Nope"])
            ),
            "parent_account": draw(st.sampled_from([parent or None, None, "B-1", "B-2", "Z-9"])),
            "primary_contact_first_name": draw(_text(first)),
            "primary_contact_last_name": draw(_text(last)),
            "primary_contact_email": draw(_text(email)),
            "primary_contact_phone": draw(_text(phone)),
        }
        rows.append({k: v for k, v in data.items() if k in present})
    return present, rows


def _plan(
    conn: Connection, mode: str, present: frozenset[str], rows: list[dict[str, Any]], fast: bool
) -> tuple[Any, ...]:
    handler = AccountHandler(conn, mode, present)
    if not fast:
        handler._unchanged = lambda data, current, batch: None  # type: ignore[method-assign]
    pending = [PendingRow(line, data, []) for line, data in enumerate(rows, start=2)]
    # twice: the first batch fills the handler's cache of group spellings
    plans: list[Plan[Any]] = [handler.plan(conn, pending, final=True) for _ in range(2)]
    return tuple(_comparable(plan) for plan in plans)


def _comparable(plan: Plan[Any]) -> tuple[Any, ...]:
    """What a plan decided, without the timestamps it was planned at."""
    writes = sorted(
        (
            w.row.line_no,
            w.outcome,
            sorted((k, v) for k, v in w.columns.items() if not k.endswith("_at")),
            w.parent_in_batch,
            w.contact_insert is not None,
            w.contact_update is not None,
        )
        for w in plan.writes
    )
    failures = sorted((f.line_no, tuple(f.errors)) for f in plan.failures)
    deferred = [row.line_no for row in plan.deferred]
    return vars(plan.counts), writes, failures, deferred


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=batches(), mode=st.sampled_from(["create_update", "update_only"]))
def test_shortcut_and_full_planning_agree(
    stored: Connection, batch: tuple[frozenset[str], list[dict[str, Any]]], mode: str
) -> None:
    present, rows = batch
    assert _plan(stored, mode, present, rows, fast=True) == _plan(
        stored, mode, present, rows, fast=False
    )


def test_the_shortcut_is_taken_for_a_reimported_row(stored: Connection) -> None:
    """Not only agreement: an unchanged row never reaches `_update`."""
    handler = AccountHandler(stored, "create_update", frozenset(ACCOUNTS_HEADER))
    row = {
        "account_number": "I-1",
        "name": "Account I-1",
        "website": "x.example",
        "customer_group": "Retail",
        "parent_account": None,
        "primary_contact_first_name": "Jane",
        "primary_contact_last_name": "Doe",
        "primary_contact_email": "jane@example.com",
        "primary_contact_phone": "+1 555",
    }
    handler.plan(stored, [PendingRow(2, row, [])], final=True)  # caches "Retail"

    def no_update(*args: object) -> None:
        raise AssertionError("an unchanged row was planned in full")

    handler._update = no_update  # type: ignore[method-assign,assignment]
    plan = handler.plan(stored, [PendingRow(3, row, [])], final=True)
    assert (plan.counts.unchanged, plan.writes, plan.failures) == (1, [], [])
