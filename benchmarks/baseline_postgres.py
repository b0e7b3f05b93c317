"""Raw psycopg 3 baseline: the same inserts as custimport, without validation or isolation.

    python benchmarks/baseline_postgres.py accounts FILE --db postgresql+psycopg://...
    python benchmarks/baseline_postgres.py contacts FILE --db postgresql+psycopg://...

The database must already have custimport's schema (`custimport db upgrade`) and
the customer groups. One transaction of `executemany` statements (psycopg 3 sends
them pipelined): accounts with parent NULL, then the parent links, then the
individual accounts' primary contacts. Prints rows/s as one JSON line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import psycopg

from baseline_common import (
    AccountSideWork,
    Counted,
    account_params,
    conninfo,
    contact_params,
    timed,
)

INSERT_ACCOUNT = (
    "INSERT INTO account (account_number, name, legal_name, customer_group_id, website,"
    " industry, description, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
SET_PARENT = (
    "UPDATE account SET parent_account_id = parent.id FROM account AS parent"
    " WHERE parent.account_number = %s AND account.account_number = %s"
)
INSERT_PRIMARY_CONTACT = (
    "INSERT INTO contact (account_id, first_name, last_name, email, phone, is_primary,"
    " created_at, updated_at)"
    " SELECT id, %s, %s, %s, %s, true, %s, %s FROM account WHERE account_number = %s"
)
INSERT_CONTACT = (
    "INSERT INTO contact (account_id, first_name, last_name, email, phone, job_title,"
    " department, is_primary, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def import_accounts(connection: psycopg.Connection, path: Path) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name, group_type FROM customer_group")
        groups = {name.lower(): (group_id, kind) for group_id, name, kind in cursor}
        side = AccountSideWork()
        accounts = Counted(account_params(path, groups, datetime.now(), side))
        cursor.executemany(INSERT_ACCOUNT, accounts)
        cursor.executemany(SET_PARENT, side.parents)
        cursor.executemany(INSERT_PRIMARY_CONTACT, side.contacts)
    connection.commit()
    return accounts.count


def import_contacts(connection: psycopg.Connection, path: Path) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT account_number, id FROM account")
        account_ids: dict[str, int] = dict(cursor.fetchall())
        contacts = Counted(contact_params(path, account_ids, datetime.now()))
        cursor.executemany(INSERT_CONTACT, contacts)
    connection.commit()
    return contacts.count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("accounts", "contacts"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--db", required=True, help="postgresql+psycopg:// URL, migrated")
    args = parser.parse_args(argv)
    work = import_accounts if args.mode == "accounts" else import_contacts
    with psycopg.connect(conninfo(args.db)) as connection:
        return timed(args.mode, lambda: work(connection, args.file))


if __name__ == "__main__":
    sys.exit(main())
