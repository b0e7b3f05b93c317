"""Import history (SPEC §8): import_run, one row per import or undo, and import_change,
the before- and after-images of every row a run created or updated.

Existing data is left as it is: runs before this revision have no history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("mapping", sa.Text(), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("os_user", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("journal", sa.String(length=16), nullable=False),
        sa.Column("undoes_run_id", sa.Integer(), nullable=True),
        sa.Column("undone_by_run_id", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.Column("last_line_read", sa.Integer(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "rows_read",
                "rows_created",
                "rows_updated",
                "rows_unchanged",
                "rows_skipped",
                "rows_failed",
                "contacts_created",
                "contacts_updated",
            )
        ),
        sa.Column("rows_deleted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run")),
    )
    op.create_index("ix_import_run_file_sha256", "import_run", ["file_sha256", "model"])
    op.create_table(
        "import_change",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("undone_by_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "table_name", "row_id", name=op.f("pk_import_change")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("import_change")
    op.drop_index("ix_import_run_file_sha256", table_name="import_run")
    op.drop_table("import_run")
