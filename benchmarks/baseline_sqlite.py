"""Raw sqlite3 baseline: the same inserts as custimport, without validation or isolation.

    python benchmarks/baseline_sqlite.py accounts FILE --db sqlite:///PATH
    python benchmarks/baseline_sqlite.py contacts FILE --db sqlite:///PATH

The database must already have custimport's schema (`custimport db upgrade`) and
the customer groups, so constraints, indexes and foreign keys cost the baseline
what they cost custimport. One transaction: accounts with parent NULL in one
executemany, then the parent links, then the individual accounts' primary contacts.
Prints {"rows": N, "seconds": S, "rows_per_s": R} as one JSON line.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from baseline_common import AccountSideWork, account_params, contact_params, timed

INSERT_ACCOUNT = (
    "INSERT INTO account (account_number, name, legal_name, customer_group_id, website,"
    " industry, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SET_PARENT = (
    "UPDATE account SET parent_account_id = (SELECT id FROM account WHERE account_number = ?)"
    " WHERE account_number = ?"
)
INSERT_PRIMARY_CONTACT = (
    "INSERT INTO contact (account_id, first_name, last_name, email, phone, is_primary,"
    " created_at, updated_at) SELECT id, ?, ?, ?, ?, 1, ?, ? FROM account WHERE account_number = ?"
)
INSERT_CONTACT = (
    "INSERT INTO contact (account_id, first_name, last_name, email, phone, job_title,"
    " department, is_primary, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def connect(url: str) -> sqlite3.Connection:
    """Autocommit connection (we issue BEGIN ourselves) with the pragmas custimport sets."""
    path = url.removeprefix("sqlite:///")
    if not Path(path).is_file():
        raise SystemExit(f"error: {path} does not exist; run `custimport db upgrade` first")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys=ON")
    # The rollback journal: one big transaction is this script's best case (measured at
    # 1M accounts: about 60,000 rows/s, against 37,000-48,000 in the WAL mode that
    # `custimport db upgrade` gives new files), so the baseline stays the practical limit.
    connection.execute("PRAGMA journal_mode=DELETE")
    return connection


def now() -> str:
    """Timestamps in the text form SQLAlchemy stores in SQLite."""
    return str(datetime.now())


def import_accounts(connection: sqlite3.Connection, path: Path) -> int:
    groups = {
        name.lower(): (group_id, kind)
        for group_id, name, kind in connection.execute(
            "SELECT id, name, group_type FROM customer_group"
        )
    }
    side = AccountSideWork()
    stamp = now()
    connection.execute("BEGIN")
    cursor = connection.executemany(INSERT_ACCOUNT, account_params(path, groups, stamp, side))
    rows = cursor.rowcount
    connection.executemany(SET_PARENT, side.parents)
    connection.executemany(INSERT_PRIMARY_CONTACT, side.contacts)
    connection.execute("COMMIT")
    return rows


def import_contacts(connection: sqlite3.Connection, path: Path) -> int:
    account_ids = dict(connection.execute("SELECT account_number, id FROM account").fetchall())
    connection.execute("BEGIN")
    cursor = connection.executemany(INSERT_CONTACT, contact_params(path, account_ids, now()))
    connection.execute("COMMIT")
    return cursor.rowcount


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("accounts", "contacts"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--db", required=True, help="sqlite:///PATH of a migrated database")
    args = parser.parse_args(argv)
    connection = connect(args.db)
    work = import_accounts if args.mode == "accounts" else import_contacts
    try:
        return timed(args.mode, lambda: work(connection, args.file))
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
