"""Group names unique by a Python-computed case-insensitive key.

SQL lower() folds only ASCII on SQLite (and on PostgreSQL under the C locale), so
the lower(name) index let "Ärzte" and "ärzte" be two groups and made such a group
impossible to find again. The key is str.casefold() of the name, filled here for
existing rows; two groups whose names fold to the same key stop the upgrade with
a message naming them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custimport.errors import MigrationBlockedError

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # dropped first: SQLite's batch mode cannot reflect an expression index
    op.drop_index("uq_customer_group_lower_name", table_name="customer_group")
    with op.batch_alter_table("customer_group") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
    connection = op.get_bind()
    groups = connection.execute(sa.text("SELECT id, name FROM customer_group")).all()
    seen: dict[str, str] = {}
    for group_id, name in groups:
        key = name.casefold()
        if key in seen:
            raise MigrationBlockedError(
                f"customer groups {seen[key]!r} and {name!r} differ only in case: "
                "rename or merge one of them, then run `custimport db upgrade` again"
            )
        seen[key] = name
        connection.execute(
            sa.text("UPDATE customer_group SET name_key = :key WHERE id = :id"),
            {"key": key, "id": group_id},
        )
    with op.batch_alter_table("customer_group") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=300), nullable=False)
        batch.create_unique_constraint(op.f("uq_customer_group_name_key"), ["name_key"])


def downgrade() -> None:
    with op.batch_alter_table("customer_group") as batch:
        batch.drop_constraint(op.f("uq_customer_group_name_key"), type_="unique")
        batch.drop_column("name_key")
    op.create_index(
        "uq_customer_group_lower_name", "customer_group", [sa.text("lower(name)")], unique=True
    )
