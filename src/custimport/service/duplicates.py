"""`custimport duplicates`: likely duplicate accounts or contacts already in the database.

Reads the records once (streamed: a server-side cursor on PostgreSQL), keeps only the
normalised values compared (rows/match_keys.py), and hands them to the blocking
comparison of rows/duplicate_pairs.py. It never writes to the database: the reads run
in a deferred transaction on SQLite, so an import can go on meanwhile.
"""

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.engine import Connection

from custimport.config import masked_url
from custimport.errors import UsageError
from custimport.models import Account, Contact
from custimport.rows.duplicate_pairs import Records, find_pairs
from custimport.rows.match_keys import (
    company_key,
    email_key,
    fingerprint,
    name_key,
    phone_digits,
    website_host,
)
from custimport.schemas import ModelSpec
from custimport.service.duplicates_job import DuplicatesRequest, DuplicatesResult
from custimport.store import db

YIELD_PER = 5000


def check_request(spec: ModelSpec, threshold: float) -> None:
    """Usage problems, before the database is opened (a missing SQLite file among them:
    this command only reads, and must not leave a new database behind a typo)."""
    if spec.name not in ("Account", "Contact"):
        raise UsageError(f"duplicates are found among Account or Contact records, not {spec.name}")
    if not 0 < threshold <= 1:
        raise UsageError(f"--threshold {threshold} must be above 0 and at most 1 (0.9: very alike)")


def find_duplicates(request: DuplicatesRequest) -> DuplicatesResult:
    check_request(request.spec, request.threshold)
    if db.missing_sqlite_file(request.database_url):
        raise UsageError(f"no database at {masked_url(request.database_url)}: nothing to compare")
    engine = db.make_engine(request.database_url)
    try:
        with db.translated_errors(request.database_url):
            db.ensure_schema(engine)
            reading = engine.execution_options(sqlite_deferred=True)
            with reading.connect() as conn:
                records = _records(conn, request.spec.name)
                conn.rollback()
    finally:
        engine.dispose()
    found = find_pairs(records, request.threshold)
    return DuplicatesResult(request, len(records.keys), found.count, found.pairs)


def _records(conn: Connection, model: str) -> Records:
    if model == "Account":
        return _accounts(conn)
    return _contacts(conn)


def _accounts(conn: Connection) -> Records:
    keys: list[str] = []
    names: list[str] = []
    fingerprints: list[str] = []
    hosts: list[str] = []
    query = select(Account.account_number, Account.name, Account.website).order_by(Account.id)
    for number, name, website in _streamed(conn, query):
        keys.append(number)
        names.append(company_key(name))
        fingerprints.append(fingerprint(company_key(name)))
        hosts.append(website_host(website))
    return Records(keys, names, fingerprints, {"website": hosts})


def _contacts(conn: Connection) -> Records:
    keys: list[str] = []
    names: list[str] = []
    fingerprints: list[str] = []
    emails: list[str] = []
    phones: list[str] = []
    accounts: list[str] = []
    query = (
        select(
            Account.account_number,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.phone,
        )
        .join(Account, Account.id == Contact.account_id)
        .order_by(Contact.id)
    )
    for number, first, last, email, phone in _streamed(conn, query):
        full = f"{first} {last}"
        keys.append(f"{number}/{email}" if email else f"{number}/{full}")
        names.append(name_key(full))
        fingerprints.append(fingerprint(full))
        emails.append(email_key(email))
        phones.append(phone_digits(phone))
        accounts.append(number)
    return Records(keys, names, fingerprints, {"email": emails, "phone": phones}, accounts)


def _streamed(conn: Connection, query: object) -> Iterator[tuple[str, ...]]:
    result = conn.execution_options(yield_per=YIELD_PER).execute(query)  # type: ignore[call-overload]
    for row in result:
        yield tuple(row)
