"""Zero-padded account numbers indexed by their value without the zeros (SPEC §10).

A spreadsheet strips the leading zeros of a number-looking cell: `00123` comes back as
`123`. An import must see that `123` is probably the stored `00123` instead of creating
a second account, for every new key of a file, without reading the table each time.
Partial (only numbers that start with a zero), so tables without such keys pay nothing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZERO_PADDED = sa.text("substr(account_number, 1, 1) = '0'")


def upgrade() -> None:
    op.create_index(
        "ix_account_number_unpadded",
        "account",
        [sa.text("ltrim(account_number, '0')")],
        sqlite_where=ZERO_PADDED,
        postgresql_where=ZERO_PADDED,
    )


def downgrade() -> None:
    op.drop_index("ix_account_number_unpadded", table_name="account")
