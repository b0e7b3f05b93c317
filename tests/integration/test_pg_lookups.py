"""PostgreSQL look-ups are planned for their own parameters every time.

psycopg prepares a statement after five runs, and PostgreSQL may then keep one
generic plan: a look-up first run while a table was small kept a sequential scan
with an unhashed `= ANY` filter as the table grew (a 100,000-contact import into a
new database took 50 s instead of 4). So the look-ups must never be prepared.
"""

from pathlib import Path

import pytest

from custimport import db, repository
from helpers import seed_groups

pytestmark = pytest.mark.postgres


def test_look_ups_run_many_times_are_never_prepared(tmp_path: Path, postgres_url: str) -> None:
    seed_groups(tmp_path, postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            for _ in range(8):  # psycopg prepares from the sixth run on
                repository.find_accounts(conn, ["A-1", "A-2"])
                repository.find_account_refs(conn, ["A-1"])
                repository.find_contacts_by_email(conn, [(1, "a@example.com")])
                repository.find_contacts_without_email(conn, [1, 2])
            prepared = conn.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements WHERE strpos(statement, 'ANY') > 0"
            ).all()
    finally:
        engine.dispose()
    assert prepared == []
