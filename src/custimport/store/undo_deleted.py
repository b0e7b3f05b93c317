"""The SQL of undoing a `deleted` record (a row `merge` deleted, SPEC §8/§10): find why the
row cannot come back, and insert it again with its id and every value it had.

A deleted row comes back unless, since: a row took its id (SQLite may give a new row the
id of the highest row deleted), another row took its key (an account's account_number;
a contact's e-mail on its account), or what it refers to is gone (an account's group or
parent, a contact's account), or it was a primary contact and its account has another
primary. Rows the same undo moves out of the way (their own records change that e-mail,
flag or account back) do not count, and neither do referred rows the undo inserts again.
"""

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from custimport.store.journal import IMAGE_COLUMNS
from custimport.store.undo import PENDING, _pg_cast, _Sql, reinserted

# why a deleted row cannot come back, by the code the conflict query gives
REASONS = {
    "id": "its id was taken by another row since",
    "key": "its account_number is another account's since",
    "group": "its customer group was deleted since",
    "parent": "its parent account was deleted since",
    "account": "its account was deleted since",
    "email": "its e-mail is another contact's since",
    "primary": "it was primary, and its account has another primary since",
}


def deleted_conflicts(
    conn: Connection, run_id: int, table: str
) -> list[tuple[int, str | None, str]]:
    """(id, key, reason) of the run's deleted rows in `table` that cannot come back."""
    sql = _Sql(conn)
    cases = [f"WHEN EXISTS (SELECT 1 FROM {table} t WHERE t.id = c.row_id) THEN 'id'"]
    if table == "account":
        number = sql.field("c.before", table, "account_number")
        group, parent = (
            sql.number("c.before", table, column)
            for column in ("customer_group_id", "parent_account_id")
        )
        cases += [
            f"WHEN EXISTS (SELECT 1 FROM account t WHERE t.account_number = {number}) THEN 'key'",
            f"WHEN NOT EXISTS (SELECT 1 FROM customer_group g WHERE g.id = {group}) THEN 'group'",
            f"WHEN {parent} IS NOT NULL AND {_gone('account', parent)} THEN 'parent'",
        ]
    elif table == "contact":
        cases += _contact_cases(sql)
    text = (
        f"SELECT c.row_id, c.row_key, CASE {' '.join(cases)} END FROM import_change c "
        f"WHERE c.run_id = {sql.p} AND c.table_name = {sql.p} AND c.action = 'deleted' "
        f"AND c.{PENDING} ORDER BY c.row_id"
    )
    rows = conn.exec_driver_sql(text, (run_id, table)).all()
    return [(row[0], row[1], REASONS[row[2]]) for row in rows if row[2] is not None]


def _gone(table: str, row_id: str) -> str:
    """SQL: no row `row_id` in `table`, and the undo does not insert one again."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = {row_id}) "
        f"AND NOT EXISTS ({reinserted(table, row_id)})"
    )


def _contact_cases(sql: _Sql) -> list[str]:
    account = sql.number("c.before", "contact", "account_id")
    email = sql.field("c.before", "contact", "email")
    k_email = [sql.field(f"k.{side}", "contact", "email") for side in ("before", "after")]
    k_account = [sql.number(f"k.{side}", "contact", "account_id") for side in ("before", "after")]
    moves = sql.differs(*k_account)
    leaves_email = f"k.action = 'created' OR {moves} OR " + sql.differs(
        f"lower({k_email[0]})", f"lower({k_email[1]})"
    )
    leaves_primary = (
        f"k.action = 'created' OR {moves} OR "
        f"coalesce({sql.flag('k.before', False)} AND {sql.flag('k.after', True)}, false)"
    )
    leaves = (
        "NOT EXISTS (SELECT 1 FROM import_change k WHERE k.run_id = c.run_id "
        f"AND k.table_name = 'contact' AND k.row_id = o.id AND k.{PENDING} AND ({{}}))"
    )
    return [
        f"WHEN {_gone('account', account)} THEN 'account'",
        f"WHEN {email} IS NOT NULL AND EXISTS (SELECT 1 FROM contact o WHERE o.account_id = "
        f"{account} AND lower(o.email) = lower({email}) AND {leaves.format(leaves_email)}) "
        "THEN 'email'",
        f"WHEN coalesce({sql.flag('c.before', True)}, false) AND EXISTS (SELECT 1 FROM contact o "
        f"WHERE o.account_id = {account} AND o.is_primary AND {leaves.format(leaves_primary)}) "
        "THEN 'primary'",
    ]


def reinsert(conn: Connection, run_id: int, table: str, ids: Sequence[int]) -> int:
    """Insert the run's deleted rows `ids` of `table` again, with their ids and values (an
    account's parent set after all are in: it may be one of them); how many."""
    if not ids:
        return 0
    sql = _Sql(conn)
    where, params = sql.ids(ids)
    columns = IMAGE_COLUMNS[table]
    parent = columns.index("parent_account_id") if table == "account" else None
    if sql.pg:
        value = "(v.b->>{i})"
        source = "(SELECT row_id, before::jsonb AS b FROM import_change "
    else:
        value = "json_extract(v.b, '$[{i}]')"
        source = "(SELECT row_id, before AS b FROM import_change "
    source += (
        f"WHERE run_id = {sql.p} AND table_name = {sql.p} AND action = 'deleted' "
        f"AND row_id {where}) v"
    )
    values = [
        "NULL" if i == parent else value.format(i=i) + (_pg_cast(table, c) if sql.pg else "")
        for i, c in enumerate(columns)
    ]
    text = (
        f"INSERT INTO {table} (id, {', '.join(columns)}) "
        f"SELECT v.row_id, {', '.join(values)} FROM {source}"
    )
    count = int(conn.exec_driver_sql(text, (run_id, table, *params)).rowcount)
    if parent is not None:
        parent_value = value.format(i=parent) + ("::integer" if sql.pg else "")
        text = (
            f"UPDATE account SET parent_account_id = (SELECT {parent_value} FROM {source} "
            "WHERE v.row_id = account.id) "
            f"WHERE account.id {where}"
        )
        conn.exec_driver_sql(text, (run_id, table, *params, *params))
    return count
