"""Initial schema: customer_group, account, contact (SPEC §1).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "customer_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("group_type", sa.String(length=16), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "group_type IN ('INDIVIDUAL', 'BUSINESS')", name=op.f("ck_customer_group_group_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_group")),
    )
    op.create_index(
        "uq_customer_group_lower_name", "customer_group", [sa.text("lower(name)")], unique=True
    )

    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("legal_name", sa.String(length=255), nullable=True),
        sa.Column("customer_group_id", sa.Integer(), nullable=False),
        sa.Column("parent_account_id", sa.Integer(), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("industry", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "parent_account_id IS NULL OR parent_account_id <> id",
            name=op.f("ck_account_not_own_parent"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_group_id"],
            ["customer_group.id"],
            name=op.f("fk_account_customer_group_id_customer_group"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_account_id"],
            ["account.id"],
            name=op.f("fk_account_parent_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("account_number", name=op.f("uq_account_account_number")),
    )
    op.create_index("ix_account_customer_group_id", "account", ["customer_group_id"])
    op.create_index("ix_account_parent_account_id", "account", ["parent_account_id"])

    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("job_title", sa.String(length=128), nullable=True),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_contact_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
    )
    op.create_index("ix_contact_account_id", "contact", ["account_id"])
    op.create_index(
        "uq_contact_account_id_lower_email",
        "contact",
        ["account_id", sa.text("lower(email)")],
        unique=True,
        sqlite_where=sa.text("email IS NOT NULL"),
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index(
        "uq_contact_one_primary_per_account",
        "contact",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("is_primary"),
        postgresql_where=sa.text("is_primary"),
    )


def downgrade() -> None:
    op.drop_table("contact")
    op.drop_table("account")
    op.drop_table("customer_group")
