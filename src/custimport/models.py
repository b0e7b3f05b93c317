"""SQLAlchemy 2 models: the schema custimport owns (SPEC §1).

Constraints live in the database, not only here: unique account_number, one
e-mail per account (case-insensitive), at most one primary contact per account.
The naming convention gives every constraint a stable name so Alembic can alter
SQLite tables in batch mode and `alembic check` can compare models and migrations.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from custimport.schemas import GroupType

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# "group_type IN ('INDIVIDUAL', 'BUSINESS')": the text migration 0001 created
GROUP_TYPE_CHECK = f"group_type IN ({', '.join(repr(t.value) for t in GroupType)})"


def utcnow() -> datetime:
    """Timestamps are stored in UTC; bulk paths set them explicitly with this."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class CustomerGroup(TimestampMixin, Base):
    __tablename__ = "customer_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)  # group_key(name)
    group_type: Mapped[str] = mapped_column(String(16))

    __table_args__ = (CheckConstraint(GROUP_TYPE_CHECK, name="group_type"),)


class Account(TimestampMixin, Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    legal_name: Mapped[str | None] = mapped_column(String(255))
    customer_group_id: Mapped[int] = mapped_column(
        ForeignKey("customer_group.id", ondelete="RESTRICT"), index=True
    )
    parent_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    website: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    # normalised keys for --match-on / --account-ref (SPEC §10); NULL: not computed yet
    # (store/match_store.py keeps them; never exported or shown in history); Text: see
    # migration 0005. Indexed where not NULL (see __table_args__).
    name_match: Mapped[str | None] = mapped_column(Text)
    website_match: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "parent_account_id IS NULL OR parent_account_id <> id", name="not_own_parent"
        ),
        # zero-padded numbers by their value without the zeros: a key a spreadsheet
        # stripped of them (SPEC §10) is found without reading the table
        Index(
            "ix_account_number_unpadded",
            func.ltrim(text("account_number"), text("'0'")),
            sqlite_where=text("substr(account_number, 1, 1) = '0'"),
            postgresql_where=text("substr(account_number, 1, 1) = '0'"),
        ),
        # keys where computed: an import that does not match on them writes them NULL and
        # so adds nothing to these indexes (an index entry each, NULL or not, slowed
        # every create); a look-up by key (`= ANY`, `IN`) implies NOT NULL on both engines
        *(
            Index(
                f"ix_account_{column}",
                column,
                sqlite_where=text(f"{column} IS NOT NULL"),
                postgresql_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("name_match", "website_match")
        ),
    )


class Contact(TimestampMixin, Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    job_title: Mapped[str | None] = mapped_column(String(128))
    department: Mapped[str | None] = mapped_column(String(128))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # normalised keys for --match-on (SPEC §10): see Account. Not indexed: a contact is
    # looked up through its account's contacts (store/match_store.contacts_by_key)
    name_match: Mapped[str | None] = mapped_column(Text)
    phone_match: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_contact_account_id_lower_email",
            "account_id",
            func.lower(text("email")),
            unique=True,
            sqlite_where=text("email IS NOT NULL"),
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index(
            "uq_contact_one_primary_per_account",
            "account_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )


class ImportRun(Base):
    """One import or undo (SPEC §8): committed when it starts, finished when it ends.

    `journal`: `full` (its changes are in import_change), `off` (--no-undo), `pruned`
    (`runs prune` deleted them). `last_line`: every row up to this line was committed
    (or failed), written in the same transaction as the rows: where --resume goes on;
    `last_line_read`: the last line of the batches committed (higher when rows before
    it wait for a parent later in the file).
    """

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(32))
    file: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    mapping: Mapped[str | None] = mapped_column(Text)  # JSON, as in effect
    options: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    os_user: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    journal: Mapped[str] = mapped_column(String(16), default="full")
    undoes_run_id: Mapped[int | None] = mapped_column(Integer)
    undone_by_run_id: Mapped[int | None] = mapped_column(Integer)
    last_line: Mapped[int | None] = mapped_column(Integer)
    last_line_read: Mapped[int | None] = mapped_column(Integer)  # of the batches written
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    contacts_created: Mapped[int] = mapped_column(Integer, default=0)
    contacts_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_deleted: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    message: Mapped[str | None] = mapped_column(Text)  # why it was aborted, or what undo left

    __table_args__ = (Index("ix_import_run_file_sha256", "file_sha256", "model"),)


class ImportChange(Base):
    """One row a run created or updated, in any table (SPEC §8): its values before the run
    and after it, as JSON arrays of store/journal.py's IMAGE_COLUMNS (a created row: the
    whole row after; an updated row: the columns the run changed, NULL on both sides for
    the others).

    No foreign key to import_run: every journal insert would check it, and the rows
    only ever go with their run (prune). On SQLite the table is clustered on its key.
    """

    __tablename__ = "import_change"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    row_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_key: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # created | updated
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    # set when an undo with --skip-conflicts reversed this row but left others of the run
    undone_by_run_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = ({"sqlite_with_rowid": False},)
