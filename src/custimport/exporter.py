"""`custimport export`: every record of a model in the columns and value forms the importer reads.

Importing an export again reports every row `unchanged`: references are written as the keys
the importer resolves (group names, account numbers), an INDIVIDUAL account's primary contact
as its primary_contact_* columns, flags as true/false. Rows are ordered by id; a parent may
come after its children, which import resolves. Records stream from the database
(`yield_per`: a server-side cursor on PostgreSQL) straight into the writer. A file is written
under a temporary name and renamed when complete, so a failed export leaves nothing behind and
an existing file is replaced only when asked to.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Select, Table, and_, case, select
from sqlalchemy.engine import Connection

from custimport import db, schemas
from custimport.errors import UsageError
from custimport.models import Account, Contact, CustomerGroup
from custimport.writers import Row, format_for, misleading_name, write_rows

GROUP: Table = CustomerGroup.__table__  # type: ignore[assignment]
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
CONTACT: Table = Contact.__table__  # type: ignore[assignment]
YIELD_PER = 2000


class OutputClosedError(Exception):
    """The reader of stdout went away (`custimport export … | head`)."""


@dataclass(frozen=True)
class ExportRequest:
    spec: schemas.ModelSpec
    database_url: str
    output: Path | None = None  # None: stdout
    format: str | None = None  # None or "auto": from the output's extension, else csv
    force: bool = False


@dataclass(frozen=True)
class ExportResult:
    request: ExportRequest
    format: str
    rows: int
    warnings: list[str] = field(default_factory=list)


def run_export(request: ExportRequest, stdout: BinaryIO) -> ExportResult:
    """Check the options, then stream the model's records to the file or to `stdout`."""
    fmt = format_for(request.format, request.output)
    warnings = _check_output(request, fmt)
    engine = db.make_engine(request.database_url)
    try:
        with db.translated_errors(request.database_url):
            db.ensure_schema(engine)
            with engine.connect() as conn, _destination(request, stdout) as out:
                rows = _records(conn, request.spec.name)
                written = write_rows(fmt, out, COLUMNS[request.spec.name], rows, request.spec.name)
    finally:
        engine.dispose()
    if written.carriage_returns:
        warnings.append(
            f"{written.carriage_returns} values held carriage returns, which XLSX stores as "
            "line feeds: importing this file will update those records (csv or json keep them)"
        )
    return ExportResult(request, fmt, written.rows, warnings)


def _check_output(request: ExportRequest, fmt: str) -> list[str]:
    """Usage problems before the database is touched; returns warnings worth showing."""
    path = request.output
    if path is None:
        if fmt == "xlsx":
            raise UsageError("xlsx needs an output file: add -o FILE.xlsx")
        return []
    if path.is_dir():
        raise UsageError(f"{path} is a directory; -o needs a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: the folder {path.parent} does not exist")
    if path.exists() and not request.force:
        raise UsageError(f"{path} already exists; use --force to replace it")
    if misleading_name(fmt, path):
        return [f"{path.name} will hold {fmt}: import it with --format {fmt}"]
    return []


@contextmanager
def _destination(request: ExportRequest, stdout: BinaryIO) -> Iterator[BinaryIO]:
    if request.output is None:
        try:
            yield stdout
            stdout.flush()
        except BrokenPipeError:
            raise OutputClosedError() from None
        return
    with _replacing(request.output, request.force) as handle:
        yield handle


@contextmanager
def _replacing(path: Path, force: bool) -> Iterator[BinaryIO]:
    """A private temporary file beside `path`, moved into place only once it is complete.

    Exports hold personal data, so the file is readable by its owner only (like error logs).
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        _publish(temp, path, force)
    finally:
        temp.unlink(missing_ok=True)


def _publish(temp: Path, path: Path, force: bool) -> None:
    """Rename into place; without --force a file that appeared meanwhile is still kept."""
    if force:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails if `path` exists, unlike a rename
    except FileExistsError:
        raise UsageError(f"{path} already exists; use --force to replace it") from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise UsageError(f"{path} already exists; use --force to replace it") from None
        os.replace(temp, path)


# --- what is exported ------------------------------------------------------------------

# Exactly the fields an import of the same model reads, in the same order, so an export
# imports back unchanged.
GROUP_COLUMNS = schemas.CUSTOMER_GROUP.fields
ACCOUNT_COLUMNS = schemas.ACCOUNT.fields
CONTACT_COLUMNS = schemas.CONTACT.fields
COLUMNS = {"CustomerGroup": GROUP_COLUMNS, "Account": ACCOUNT_COLUMNS, "Contact": CONTACT_COLUMNS}


def _records(conn: Connection, model: str) -> Iterator[Row]:
    """The model's rows in export column order, fetched `YIELD_PER` at a time."""
    query = {"CustomerGroup": _groups, "Account": _accounts, "Contact": _contacts}[model]()
    result = conn.execution_options(yield_per=YIELD_PER).execute(query)
    for partition in result.partitions():
        yield from partition  # type: ignore[misc]


def _groups() -> Select[tuple[str, str]]:
    return select(GROUP.c.name, GROUP.c.group_type).order_by(GROUP.c.id)


def _accounts() -> Select[tuple[str | None, ...]]:
    parent = ACCOUNT.alias("parent")
    primary = CONTACT.alias("primary_contact")
    individual_primary = and_(
        primary.c.account_id == ACCOUNT.c.id,
        primary.c.is_primary,
        GROUP.c.group_type == "INDIVIDUAL",
    )
    return (
        select(
            ACCOUNT.c.account_number,
            ACCOUNT.c.name,
            ACCOUNT.c.legal_name,
            GROUP.c.name.label("customer_group"),
            parent.c.account_number.label("parent_account"),
            ACCOUNT.c.website,
            ACCOUNT.c.industry,
            ACCOUNT.c.description,
            primary.c.first_name,
            primary.c.last_name,
            primary.c.email,
            primary.c.phone,
        )
        .join(GROUP, GROUP.c.id == ACCOUNT.c.customer_group_id)
        .outerjoin(parent, parent.c.id == ACCOUNT.c.parent_account_id)
        .outerjoin(primary, individual_primary)
        .order_by(ACCOUNT.c.id)
    )


def _contacts() -> Select[tuple[str | None, ...]]:
    return (
        select(
            ACCOUNT.c.account_number.label("account"),
            CONTACT.c.first_name,
            CONTACT.c.last_name,
            CONTACT.c.email,
            CONTACT.c.phone,
            CONTACT.c.job_title,
            CONTACT.c.department,
            case((CONTACT.c.is_primary, "true"), else_="false").label("is_primary"),
        )
        .join(ACCOUNT, ACCOUNT.c.id == CONTACT.c.account_id)
        .order_by(CONTACT.c.id)
    )
