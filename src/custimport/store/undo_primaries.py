"""The SQL behind rows/primary_restores.py: what undoing a merge needs to know to keep
every account it touches with a valid primary contact (SPEC §4, §8). A merge touches one
account's contacts, so this reads them all at once."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from custimport.store.journal import decode_image
from custimport.store.undo import PENDING, _Sql

INDIVIDUAL = "INDIVIDUAL"
Image = dict[str, Any]


def contact_records(
    conn: Connection, run_id: int
) -> list[tuple[int, str, str, Image | None, Image | None]]:
    """(id, key, action, before, after) of the run's contact records still to reverse."""
    sql = _Sql(conn)
    text = (
        "SELECT row_id, row_key, action, before, after FROM import_change "
        f"WHERE run_id = {sql.p} AND table_name = 'contact' AND {PENDING} ORDER BY row_id"
    )
    return [
        (
            row[0],
            row[1] or f"id {row[0]}",
            row[2],
            decode_image("contact", row[3]),
            decode_image("contact", row[4]),
        )
        for row in conn.exec_driver_sql(text, (run_id,))
    ]


def contacts_now(
    conn: Connection, ids: Sequence[int], accounts: Sequence[int]
) -> dict[int, tuple[int, bool]]:
    """{id: (account, primary)} of these contacts and of every contact of these accounts."""
    sql = _Sql(conn)
    by_id, id_params = sql.ids(ids)
    text = f"SELECT id, account_id, is_primary FROM contact WHERE id {by_id}"
    params = list(id_params)
    if accounts:
        by_account, account_params = sql.ids(accounts)
        text += f" OR account_id {by_account}"
        params += account_params
    rows = conn.exec_driver_sql(text, tuple(params))
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def accounts_after(
    conn: Connection, run_id: int, accounts: Sequence[int]
) -> dict[int, tuple[str, bool, bool]]:
    """{id: (number, INDIVIDUAL, reinserted)} of those of `accounts` there after the undo:
    there now and not created by the run, or deleted by it (the undo inserts them again, in
    the group they were in)."""
    sql = _Sql(conn)
    found: dict[int, tuple[str, bool, bool]] = {}
    if accounts:
        where, params = sql.ids(accounts)
        text = (
            "SELECT a.id, a.account_number, g.group_type FROM account a "
            "JOIN customer_group g ON g.id = a.customer_group_id "
            f"WHERE a.id {where} AND NOT EXISTS (SELECT 1 FROM import_change c "
            f"WHERE c.run_id = {sql.p} AND c.table_name = 'account' AND c.row_id = a.id "
            f"AND c.action = 'created' AND c.{PENDING})"
        )
        for row in conn.exec_driver_sql(text, (*params, run_id)):
            found[row[0]] = (row[1], row[2] == INDIVIDUAL, False)
    text = (
        "SELECT c.row_id, c.before FROM import_change c "
        f"WHERE c.run_id = {sql.p} AND c.table_name = 'account' AND c.action = 'deleted' "
        f"AND c.{PENDING}"
    )
    for row_id, before in conn.exec_driver_sql(text, (run_id,)).all():
        image = decode_image("account", before) or {}
        kind = conn.exec_driver_sql(
            f"SELECT group_type FROM customer_group WHERE id = {sql.p}",
            (image["customer_group_id"],),
        ).scalar()
        found[row_id] = (image["account_number"], kind == INDIVIDUAL, True)
    return found
