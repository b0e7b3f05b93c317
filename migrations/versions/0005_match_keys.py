"""Stored match keys for `--match-on` and `--account-ref` (SPEC §10).

Normalised account names and website hosts, contact names and phones, each in a
column (an account's indexed where computed), so that an import matching rows on them
looks a batch up by index instead of reading the table. They are computed in Python
(rows/match_keys.py), here for the rows already stored, a chunk at a time, with the
functions imports use (store/match_store.py, whose docstring says how they are kept in
step).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custimport.rows.matching import STORED_KEYS
from custimport.store.match_store import fill_keys

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (
    ("account", "name_match"),
    ("account", "website_match"),
    ("contact", "name_match"),
    ("contact", "phone_match"),
)
INDEXED = ("name_match", "website_match")  # of account


def upgrade() -> None:
    # plain ADD COLUMN (nullable, no default) on both engines: no table is rebuilt. Text,
    # not varchar(n): without statistics PostgreSQL guesses a row's width from the
    # columns' declared lengths, and 555 more bytes made it think a freshly filled table
    # small enough to read whole through another index for every batch's look-up
    op.add_column("account", sa.Column("name_match", sa.Text(), nullable=True))
    op.add_column("account", sa.Column("website_match", sa.Text(), nullable=True))
    op.add_column("contact", sa.Column("name_match", sa.Text(), nullable=True))
    op.add_column("contact", sa.Column("phone_match", sa.Text(), nullable=True))
    # accounts are looked up by key: an index each, of the keys computed (NOT NULL), so
    # that imports not matching on them, which write them NULL, add nothing to it;
    # contacts are looked up through their account's index, then by key: none
    fill_keys(op.get_bind(), STORED_KEYS)
    for column in INDEXED:
        op.create_index(
            op.f(f"ix_account_{column}"),
            "account",
            [column],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in INDEXED:
        op.drop_index(op.f(f"ix_account_{column}"), table_name="account")
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would lose the expression indexes
    for table, column in reversed(KEYS):
        op.drop_column(table, column)
