"""Property-based tests (issue: hardening, point 2): generated CSVs mixing valid and invalid
rows, in every mode and several batch sizes.

For every generated file: read = created + updated + unchanged + skipped + failed and read
is the number of records in the file; every failed row is in the error log (with its line
number and field) and in the rejects file (with its own cells); rows that cannot fail did not,
rows that cannot pass did not; every row that did not fail is what the database now holds,
and every failed row left its key as it was; importing the same file again changes nothing.

Each example gets a fresh database: a copy of a migrated SQLite file with the three groups
(or a PostgreSQL database cloned from a template, for the smaller PostgreSQL property).
"""

import csv
import io
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from helpers import ACCOUNTS_HEADER, CONTACTS_HEADER, Run, fetch, run_import, write_csv
from hostile_support import (
    consistency_problems,
    failed_lines,
    fresh_copy,
    full_dump,
    migrated_sqlite,
    read_rejects,
    seed,
)
from pg_server import PostgresServer

MODES = ["create_only", "update_only", "create_update"]
BATCH_SIZES = ["1", "2", "3", "1000"]
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # keep the repository free of .hypothesis folders
)
POSTGRES_PROPERTY = settings(PROPERTY, max_examples=10)
GROUPS = {"retail": ("Retail", "INDIVIDUAL"), "enterprise": ("Enterprise", "BUSINESS")}
GROUPS["partners"] = ("Partners", "BUSINESS")
NUMBERS = ["A-1", "A-2", "A-3", "A-4", "A-5"]
KINDS = ["ok"] * 8 + ["ragged_more", "ragged_less", "nul", "blank", "multiline"]

# --- the generated files -------------------------------------------------------------------


@dataclass
class Record:
    """One record of a generated file: the cells written, and where it starts."""

    cells: list[str]
    kind: str = "ok"
    line: int = 0

    @property
    def counted(self) -> bool:
        """A record of only empty cells is an empty row: skipped like a blank line."""
        return self.kind != "blank" and any(self.cells)

    @property
    def well_formed(self) -> bool:
        return self.kind in ("ok", "multiline")


@dataclass
class Case:
    header: list[str]
    seeds: list[list[str]]
    records: list[Record]
    mode: str
    batch_size: str
    content: str = ""

    def __post_init__(self) -> None:
        """Serialise the records, noting the physical line each one starts on."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        line = 2
        for record in self.records:
            record.line = line
            start = out.tell()
            if record.kind == "blank":
                out.write("\n")
            else:
                writer.writerow(record.cells)
            line += out.getvalue()[start:].count("\n")
        self.content = out.getvalue()

    @property
    def counted(self) -> list[Record]:
        return [record for record in self.records if record.counted]

    def write(self, folder: Path) -> Path:
        path = folder / "generated.csv"
        path.write_text(self.content, encoding="utf-8", newline="")
        return path


def mangle(cells: list[str], kind: str, name_index: int) -> list[str]:
    if kind == "ragged_more":
        return [*cells, "extra"]
    if kind == "ragged_less":
        return cells[:-2]
    if kind == "nul":
        return [*cells[:name_index], "N\x00L", *cells[name_index + 1 :]]
    if kind == "multiline":
        return [*cells[:name_index], "Multi\nLine", *cells[name_index + 1 :]]
    return cells


def at_most_one_nul(records: list[Record]) -> list[Record]:
    """More NULs than that in a small file make it binary as a whole (exit 2, tested apart)."""
    seen = False
    for record in records:
        if record.kind == "nul":
            if seen:
                record.kind, record.cells[1] = "ok", "No NUL"
            seen = True
    return records


@st.composite
def account_cells(draw: st.DrawFn, blank_numbers: bool) -> list[str]:
    numbers = [*NUMBERS, " A-1 ", "N" * 65] + ([""] if blank_numbers else [])
    return [
        draw(st.sampled_from(numbers)),
        draw(st.sampled_from(["Acme", "Beta Ltd", "  Spaced  ", "Émile", "", "x" * 256])),
        draw(
            st.sampled_from(
                ["Retail", "Enterprise", "ENTERPRISE", "retail", "Partners", "Nope", ""]
            )
        ),
        draw(st.sampled_from(["", "", "", *NUMBERS, "Z-404"])),
        draw(st.sampled_from(["", "example.com", "https://ex.com/a?b=c", "bad site"])),
        draw(st.sampled_from(["Ann", "Bob", "", "F" * 101])),
        draw(st.sampled_from(["Lee", "Kim", ""])),
        draw(st.sampled_from(["", "ann@example.com", "ANN@Example.com", "not-an-email"])),
        draw(st.sampled_from(["", "+1 555 0100", "9" * 41])),
    ]


@st.composite
def seed_accounts(draw: st.DrawFn) -> list[list[str]]:
    """Valid accounts already in the database; a parent is always an earlier seed."""
    numbers = draw(st.lists(st.sampled_from(NUMBERS), unique=True, max_size=4))
    rows = []
    for index, number in enumerate(numbers):
        retail = draw(st.booleans())
        parent = draw(st.sampled_from(["", *numbers[:index]]))
        contact = ["Sam", "Seed", f"{number.lower()}@seed.example", ""] if retail else [""] * 4
        group = "Retail" if retail else "Enterprise"
        rows.append([number, f"Seed {number}", group, parent, "seed.example", *contact])
    return rows


@st.composite
def account_cases(draw: st.DrawFn, blank_numbers: bool = True) -> Case:
    records = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(KINDS))
        records.append(Record(mangle(draw(account_cells(blank_numbers)), kind, 1), kind))
    return Case(
        ACCOUNTS_HEADER,
        draw(seed_accounts()),
        at_most_one_nul(records),
        draw(st.sampled_from(MODES)),
        draw(st.sampled_from(BATCH_SIZES)),
    )


# --- what a file must do ----------------------------------------------------------------------


def run_case(case: Case, folder: Path, db_url: str, model: str) -> Run:
    return run_import(
        case.write(folder),
        model,
        db_url,
        "--mode",
        case.mode,
        "--batch-size",
        case.batch_size,
        "--error-log",
        folder,
        "--rejects",
        folder / "rejects.csv",
    )


def check_report(case: Case, run: Run) -> dict[int, list[tuple[str, str]]]:
    """The counting invariant, the exit code, the error log and the rejects file."""
    assert "Traceback" not in run.stderr
    rows = run.rows
    assert rows["read"] == len(case.counted), (rows, case.content)
    assert rows["read"] == sum(
        rows[k] for k in ("created", "updated", "unchanged", "skipped", "failed")
    )
    assert run.report["completed"] is True and run.report["committed"] is True
    assert run.exit_code == (1 if rows["failed"] else 0), run.stderr
    logged = failed_lines(run)
    assert len(logged) == rows["failed"]
    by_line = {record.line: record for record in case.counted}
    assert set(logged) <= set(by_line), (sorted(logged), sorted(by_line))
    assert all(errors for errors in logged.values())
    named = {field for errors in logged.values() for field, _ in errors}
    assert named <= {*case.header, "row"}, named  # each error names a column of the file
    if logged:
        header, rejected = read_rejects(run.report["rejects"])
        assert header == [*case.header, "error"]
        # deferred rows (a parent later in the file) fail at the end: compare regardless of order
        assert sorted(row[:-1] for row in rejected) == sorted(
            by_line[line].cells for line in logged
        )
        assert all(row[-1] for row in rejected)
    else:
        assert run.report["rejects"] is None and run.report["error_log"] is None
    return logged


def account_problems(cells: list[str]) -> set[str]:
    """The fields a row must fail on whatever the database holds (empty: it may pass)."""
    number, name, group, _parent, website, first, _last, email, phone = (c.strip() for c in cells)
    problems = set()
    if len(number) > 64:
        problems.add("account_number")
    if not name or len(name) > 255:
        problems.add("name")
    if not group:
        problems.add("customer_group")
    if website and " " in website:
        problems.add("website")
    if len(first) > 100:
        problems.add("primary_contact_first_name")
    if email and "@" not in email:
        problems.add("primary_contact_email")
    if len(phone) > 40:
        problems.add("primary_contact_phone")
    return problems


def account_must_fail(cells: list[str], mode: str) -> bool:
    """Valid rows that fail anyway, whatever the database holds (the field may vary)."""
    return mode == "update_only" and not cells[0].strip()


def account_must_pass(cells: list[str], keys: list[str]) -> bool:
    """Valid, a key of its own in the file, no parent, a known group with the contact it needs."""
    number, _name, group, parent, *_rest = (c.strip() for c in cells)
    first, last = cells[5].strip(), cells[6].strip()
    known = GROUPS.get(group.lower())
    return (
        bool(number)
        and keys.count(number) == 1
        and not parent
        and known is not None
        and (known[1] != "INDIVIDUAL" or bool(first and last))
    )


def accounts_by_number(db_url: str) -> dict[str, tuple[Any, ...]]:
    rows = fetch(
        db_url,
        "SELECT a.account_number, a.name, g.name, a.website, p.account_number, "
        "c.first_name, c.last_name, c.email, c.phone FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN account p ON p.id = a.parent_account_id "
        "LEFT JOIN contact c ON c.account_id = a.id AND c.is_primary",
    )
    return {row[0]: row[1:] for row in rows}


def expected_account(cells: list[str], before: tuple[Any, ...] | None) -> tuple[Any, ...]:
    _number, name, group, parent, website, first, last, email, phone = (c.strip() for c in cells)
    group_name, group_type = GROUPS[group.lower()]
    if group_type == "INDIVIDUAL":
        contact = (first, last, email.lower() or None, phone or None)
    else:  # contact columns are ignored: whatever primary contact it had stays
        contact = before[4:] if before else (None, None, None, None)
    return (name, group_name, website or None, parent or None, *contact)


def check_accounts(
    case: Case,
    logged: dict[int, list[tuple[str, str]]],
    before: dict[str, tuple[Any, ...]],
    after: dict[str, tuple[Any, ...]],
) -> None:
    keys = [record.cells[0].strip() for record in case.counted if record.cells]
    passed_keys = set()
    auto_created = 0
    for record in case.counted:
        failed = record.line in logged
        fields = {f for f, _ in logged.get(record.line, [])}
        if not record.well_formed:
            assert fields == {"row"}, (record, logged.get(record.line))
            continue
        must_fail = account_problems(record.cells)
        assert must_fail <= fields, (record, must_fail, logged.get(record.line))
        if account_must_fail(record.cells, case.mode):
            assert failed, record
        if not must_fail and account_must_pass(record.cells, keys):
            assert not failed, (record, logged[record.line])
        if failed:
            continue
        number = record.cells[0].strip()
        passed_keys.add(number)
        if not number:
            auto_created += 1
        elif case.mode == "create_only" and number in before:
            assert after[number] == before[number], (record, "skipped, yet changed")
        elif case.mode == "update_only" and number not in before:
            assert number not in after, (record, "skipped, yet created")
        else:
            assert after[number] == expected_account(record.cells, before.get(number)), record
    for record in case.counted:
        number = record.cells[0].strip() if record.cells else ""
        if record.line in logged and number and number not in passed_keys:
            assert after.get(number) == before.get(number), (record, "a failed row wrote")
    assert sum(1 for number in after if number.startswith("AUTO-")) == auto_created


def check_account_case(case: Case, folder: Path, db_url: str, twice: bool) -> None:
    if case.seeds:
        seeded = run_import(
            write_csv(folder / "seeds.csv", ACCOUNTS_HEADER, case.seeds), "Account", db_url
        )
        assert seeded.exit_code == 0, failed_lines(seeded)
    before = accounts_by_number(db_url)
    run = run_case(case, folder, db_url, "Account")
    logged = check_report(case, run)
    check_accounts(case, logged, before, accounts_by_number(db_url))
    # parent cycles have a test of their own (test_hostile_input: a known bug)
    assert consistency_problems(db_url, cycles=False) == []
    if twice:
        check_second_import_changes_nothing(case, folder, db_url, "Account", run)


def check_second_import_changes_nothing(
    case: Case, folder: Path, db_url: str, model: str, first: Run
) -> None:
    once = full_dump(db_url)
    again = run_case(case, folder, db_url, model)
    assert again.exit_code == first.exit_code, failed_lines(again)
    assert again.rows["created"] == again.rows["updated"] == 0, (again.rows, case.content)
    assert again.rows["failed"] == first.rows["failed"]
    assert again.report["contacts"] == {"created": 0, "updated": 0}
    assert full_dump(db_url) == once


# --- the properties -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def contacts_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Groups, and accounts B-1, B-2 (BUSINESS) and I-1 (INDIVIDUAL, primary contact Pat)."""
    folder = tmp_path_factory.mktemp("contacts_template")
    url = fresh_copy(template, folder / "template.db")
    accounts = write_csv(
        folder / "accounts.csv",
        ACCOUNTS_HEADER,
        [
            ["B-1", "Business one", "Enterprise", "", "", "", "", "", ""],
            ["B-2", "Business two", "Enterprise", "", "", "", "", "", ""],
            ["I-1", "Individual", "Retail", "", "", "Pat", "Prime", "pat@example.com", ""],
        ],
    )
    assert run_import(accounts, "Account", url).exit_code == 0
    return folder / "template.db"


@contextmanager
def fresh_sqlite(template: Path) -> Iterator[tuple[Path, str]]:
    with tempfile.TemporaryDirectory(prefix="custimport-property-") as name:
        folder = Path(name)
        yield folder, fresh_copy(template, folder / "custimport.db")


@PROPERTY
@given(case=account_cases())
def test_account_files_keep_every_invariant_in_every_mode(template: Path, case: Case) -> None:
    with fresh_sqlite(template) as (folder, url):
        check_account_case(case, folder, url, twice=False)


@PROPERTY
@given(case=account_cases(blank_numbers=False))
def test_importing_an_account_file_twice_leaves_the_database_as_after_once(
    template: Path, case: Case
) -> None:
    with fresh_sqlite(template) as (folder, url):
        check_account_case(case, folder, url, twice=True)


@PROPERTY
@given(case=st.deferred(lambda: contact_cases()))
def test_contact_files_keep_every_invariant_in_every_mode(
    contacts_template: Path, case: Case
) -> None:
    with fresh_sqlite(contacts_template) as (folder, url):
        check_contact_case(case, folder, url, twice=False)


# Two rows making two contacts of one account primary, in different batches: found by this
# property, kept as an explicit example so that it fails every time until it is fixed.
PRIMARY_ROWS_IN_TWO_BATCHES = Case(
    CONTACTS_HEADER,
    [],
    [Record(["B-1", "Ann", "Lee", "", "", "yes"]), Record(["B-1", "Bob", "Lee", "", "", "yes"])],
    "create_update",
    "1",
)


@PROPERTY
@example(case=PRIMARY_ROWS_IN_TWO_BATCHES)
@given(case=st.deferred(lambda: contact_cases()))
def test_importing_a_contact_file_twice_leaves_the_database_as_after_once(
    contacts_template: Path, case: Case
) -> None:
    with fresh_sqlite(contacts_template) as (folder, url):
        check_contact_case(case, folder, url, twice=True)


@pytest.fixture(scope="module")
def postgres_template(pg_server: PostgresServer) -> Iterator[str]:
    """A migrated PostgreSQL database with the groups, cloned for each example."""
    name = f"template_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    with tempfile.TemporaryDirectory() as folder:
        seed(Path(folder), url)
    yield name
    pg_server.drop_database(name)


@contextmanager
def fresh_postgres(pg_server: PostgresServer, template_name: str) -> Iterator[tuple[Path, str]]:
    name = f"example_{uuid.uuid4().hex[:10]}"
    pg_server.admin_execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(template_name), sql.Identifier(pg_server.user)
        )
    )
    try:
        with tempfile.TemporaryDirectory(prefix="custimport-property-") as folder:
            yield Path(folder), pg_server.app_url(name)
    finally:
        pg_server.drop_database(name)


@pytest.mark.postgres
@POSTGRES_PROPERTY
@given(case=account_cases(blank_numbers=False))
def test_account_files_keep_every_invariant_on_postgresql_too(
    pg_server: PostgresServer, postgres_template: str, case: Case
) -> None:
    with fresh_postgres(pg_server, postgres_template) as (folder, url):
        check_account_case(case, folder, url, twice=True)


# --- contacts ------------------------------------------------------------------------------------

TRUE_FLAGS, FALSE_FLAGS = {"yes", "true", "1"}, {"no", "false", "0"}


@st.composite
def contact_cells(draw: st.DrawFn) -> list[str]:
    return [
        draw(st.sampled_from(["B-1", "B-2", " B-1 ", "I-1", "Z-9", ""])),
        draw(st.sampled_from(["Ann", "Bob", "", "F" * 101])),
        draw(st.sampled_from(["Lee", "Kim", ""])),
        draw(
            st.sampled_from(
                [
                    "",
                    "",
                    "ann@example.com",
                    "ANN@example.com",
                    "bob@example.com",
                    "pat@example.com",
                    "bad@",
                ]
            )
        ),
        draw(st.sampled_from(["", "+1 555 0100", "9" * 41])),
        draw(st.sampled_from(["", "yes", "no", "TRUE", "0", "maybe"])),
    ]


def contact_key(cells: list[str]) -> tuple[str, ...]:
    account, first, last, email = (c.strip() for c in cells[:4])
    return (account, email.lower()) if email else (account, "", first.casefold(), last.casefold())


@st.composite
def seed_contacts(draw: st.DrawFn) -> list[list[str]]:
    valid = st.tuples(
        st.sampled_from(["B-1", "B-2"]),
        st.sampled_from(["Ann", "Bob"]),
        st.sampled_from(["Lee", "Kim"]),
        st.sampled_from(["", "ann@example.com", "bob@example.com"]),
        st.sampled_from(["", "yes", "no"]),
    ).map(lambda t: [t[0], t[1], t[2], t[3], "", t[4]])
    return draw(st.lists(valid, max_size=4, unique_by=lambda cells: contact_key(cells)))


@st.composite
def contact_cases(draw: st.DrawFn) -> Case:
    records = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(KINDS))
        records.append(Record(mangle(draw(contact_cells()), kind, 1), kind))
    return Case(
        CONTACTS_HEADER,
        draw(seed_contacts()),
        at_most_one_nul(records),
        draw(st.sampled_from(MODES)),
        draw(st.sampled_from(BATCH_SIZES)),
    )


def contact_problems(cells: list[str]) -> set[str]:
    account, first, last, email, phone, flag = (c.strip() for c in cells)
    problems = set()
    if not account:
        problems.add("account")
    if not first or len(first) > 100:
        problems.add("first_name")
    if not last:
        problems.add("last_name")
    if email and "." not in email.partition("@")[2]:
        problems.add("email")
    if len(phone) > 40:
        problems.add("phone")
    if flag and flag.lower() not in TRUE_FLAGS | FALSE_FLAGS:
        problems.add("is_primary")
    return problems


def contacts_by_key(db_url: str) -> dict[tuple[str, ...], tuple[Any, ...]]:
    rows = fetch(
        db_url,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.is_primary "
        "FROM contact c JOIN account a ON a.id = c.account_id",
    )
    contacts = {}
    for number, first, last, email, phone, primary in rows:
        key = (number, email) if email else (number, "", first.casefold(), last.casefold())
        assert key not in contacts, f"two contacts for {key}"
        contacts[key] = (first, last, phone, bool(primary))
    return contacts


def check_contacts(
    case: Case,
    logged: dict[int, list[tuple[str, str]]],
    before: dict[tuple[str, ...], tuple[Any, ...]],
    after: dict[tuple[str, ...], tuple[Any, ...]],
) -> None:
    keys = [contact_key(r.cells) for r in case.counted if r.well_formed]
    passed_keys, primary_winner = set(), {}
    for record in case.counted:
        failed = record.line in logged
        fields = {f for f, _ in logged.get(record.line, [])}
        if not record.well_formed:
            assert fields == {"row"}, (record, logged.get(record.line))
            continue
        must_fail = contact_problems(record.cells)
        assert must_fail <= fields, (record, must_fail, logged.get(record.line))
        if record.cells[0].strip() == "Z-9":  # an account that never exists
            assert failed, record
        key = contact_key(record.cells)
        account, first, last, email, phone, flag = (c.strip() for c in record.cells)
        if not must_fail and account in ("B-1", "B-2") and email and keys.count(key) == 1:
            assert not failed, (record, logged[record.line])
        if failed:
            continue
        passed_keys.add(key)
        if case.mode == "create_only" and key in before:
            assert after[key][:3] == before[key][:3], (record, "skipped, yet changed")
            continue
        if case.mode == "update_only" and key not in before:
            assert key not in after, (record, "skipped, yet created")
            continue
        assert after[key][:3] == (first, last, phone or None), record
        if flag.lower() in FALSE_FLAGS:
            assert after[key][3] is False, (record, "is_primary no, yet primary")
        if flag.lower() in TRUE_FLAGS:
            primary_winner[account] = key
    for account, key in primary_winner.items():
        primaries = [k for k, v in after.items() if k[0] == account and v[3]]
        assert primaries == [key], (account, "the last primary row of the file must win", primaries)
    for record in case.counted:
        if record.line in logged and record.well_formed:
            key = contact_key(record.cells)
            if key not in passed_keys:
                assert (after.get(key) or ())[:3] == (before.get(key) or ())[:3], record


def check_contact_case(case: Case, folder: Path, db_url: str, twice: bool) -> None:
    if case.seeds:
        seeded = run_import(
            write_csv(folder / "seeds.csv", CONTACTS_HEADER, case.seeds), "Contact", db_url
        )
        assert seeded.exit_code == 0, failed_lines(seeded)
    before = contacts_by_key(db_url)
    run = run_case(case, folder, db_url, "Contact")
    logged = check_report(case, run)
    check_contacts(case, logged, before, contacts_by_key(db_url))
    assert consistency_problems(db_url) == []
    if twice:
        check_second_import_changes_nothing(case, folder, db_url, "Contact", run)


def test_the_generated_files_are_what_the_checks_assume() -> None:
    """The line bookkeeping of `Case`, checked on a hand-made case."""
    case = Case(
        ["a", "b"],
        [],
        [
            Record(["1", "x"]),
            Record([], "blank"),
            Record(["2", "multi\nline"], "multiline"),
            Record(["", ""]),
        ],
        "create_update",
        "1",
    )
    assert case.content == 'a,b\n1,x\n\n2,"multi\nline"\n,\n'
    assert [r.line for r in case.records] == [2, 3, 4, 6]
    assert [r.line for r in case.counted] == [2, 4]
