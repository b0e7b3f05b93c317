"""Rows without some of the file's fields (JSON objects without a key, SPEC §3).

The record leaves such a field out rather than setting it to None; validation fails
only a row that lacks what finds it (a group's name, a contact's account); account
planning writes and compares only the fields a row has, and its shortcut for
unchanged rows still decides exactly what full planning decides.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection
from test_unchanged_rows import _plan, batches, stored  # noqa: F401  (stored: a fixture)

from custimport.rows.accounts import CONTACT_COLUMN_BY_FIELD, AccountHandler
from custimport.rows.contacts import STALE_KEY
from custimport.rows.mapping import record_from
from custimport.rows.outcomes import PendingRow
from custimport.schemas import ACCOUNT, CONTACT, CUSTOMER_GROUP, BatchValidator

ABSENT = "required column '{}' is missing from this row"


def test_a_record_leaves_out_the_fields_whose_column_its_row_lacks() -> None:
    columns = {"name": "Name", "website": "Web", "description": "About"}
    record = record_from({"Name": " Beta ", "About": ""}, columns)
    assert record == {"name": "Beta", "description": None}


def test_a_row_without_a_non_key_field_is_valid_and_stays_without_it() -> None:
    validator = BatchValidator(ACCOUNT, frozenset({"account_number", "name", "description"}))
    [(clean, errors)] = validator.validate([{"account_number": "A2", "name": "Beta"}])
    assert (clean, errors) == ({"account_number": "A2", "name": "Beta"}, [])


def test_a_row_without_the_field_that_finds_it_fails_with_its_other_errors() -> None:
    groups = BatchValidator(CUSTOMER_GROUP, frozenset({"name", "group_type"}))
    results = groups.validate(
        [
            {"name": "Retail", "group_type": "retail"},
            {"group_type": "nope"},
            {"group_type": "BUSINESS"},
        ]
    )
    assert [errors for _, errors in results] == [
        [("group_type", "must be INDIVIDUAL or BUSINESS")],
        [("group_type", "must be INDIVIDUAL or BUSINESS"), ("name", ABSENT.format("name"))],
        [("name", ABSENT.format("name"))],
    ]
    contacts = BatchValidator(CONTACT, frozenset({"account", "email"}))
    [(_, errors)] = contacts.validate([{"email": "a@example.com"}])
    assert errors == [("account", ABSENT.format("account"))]


@st.composite
def short_batches(draw: st.DrawFn) -> tuple[frozenset[str], list[dict[str, Any]]]:
    """test_unchanged_rows' batches, each row without a random subset of its non-key fields."""
    present, rows = draw(batches())
    shortened = []
    for row in rows:
        optional = sorted(set(row) - {"account_number"})
        dropped = draw(st.sets(st.sampled_from(optional)))
        shortened.append({k: v for k, v in row.items() if k not in dropped})
    return present, shortened


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=short_batches(), mode=st.sampled_from(["create_update", "update_only"]))
def test_the_unchanged_shortcut_agrees_with_full_planning_for_short_rows(
    stored: Connection,  # noqa: F811
    batch: tuple[frozenset[str], list[dict[str, Any]]],
    mode: str,
) -> None:
    present, rows = batch
    assert _plan(stored, mode, present, rows, fast=True) == _plan(
        stored, mode, present, rows, fast=False
    )


WRITTEN_BY = {"customer_group": "customer_group_id", "parent_account": "parent_account_id"}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=short_batches())
def test_an_update_writes_only_the_fields_its_row_has(
    stored: Connection,  # noqa: F811
    batch: tuple[frozenset[str], list[dict[str, Any]]],
) -> None:
    present, rows = batch
    handler = AccountHandler(stored, "update_only", present)
    pending = [PendingRow(line, data, []) for line, data in enumerate(rows, start=2)]
    plan = handler.plan(stored, pending, final=True)
    for write in plan.writes:
        data = write.row.data
        given_columns = {WRITTEN_BY.get(f, f) for f in data} | {"updated_at"}
        # a written name or website makes its match key stale (store/match_store.py)
        given_columns |= {f"{f}_match" for f in ("name", "website") if f in data}
        assert set(write.columns) <= given_columns, (data, write.columns)
        if write.contact_update is not None:
            given_contact = {
                CONTACT_COLUMN_BY_FIELD[f] for f in data if f in CONTACT_COLUMN_BY_FIELD
            }
            given_contact |= {STALE_KEY[c] for c in given_contact if c in STALE_KEY}
            assert set(write.contact_update) <= given_contact | {"id", "updated_at"}
