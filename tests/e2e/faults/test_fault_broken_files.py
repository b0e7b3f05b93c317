"""Broken files of every format, broken at the first, a middle and the last record (SPEC §12.1).

Each file holds N valid customer groups before it is damaged, so the test knows exactly which
records precede the damage, which one holds it and which follow. Whatever the damage, the
command prints no traceback and exits 1 or 2; exit 2 leaves the database as it was; exit 1
prints a report whose counts are the database's, logs every failed row, and says
`completed: false` exactly when records of the file were left unread.

Two kinds of damage, as the SPEC tells them apart:
- a record that cannot be used fails alone and the rest is imported (a bad byte in any text
  format, anything on one line of CSV, TSV or JSON Lines);
- a JSON syntax error or an XLSX XML error stops reading: the records before it are
  imported, the one holding it may fail, the ones after it are unread (`completed` false,
  and the one `Error:` line says at which line, row or element reading stopped).
When nothing at all could be imported (the damage is in the first record of a format whose
first record names the columns, or reading stops there), exit 2 with nothing written is
also right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fault_files import (
    GROUP_FIELDS,
    SHEET,
    TextFile,
    group_records,
    rewrite_member,
    sheet_row_offset,
    text_file,
    write,
    xlsx_bytes,
)
from fault_support import (
    Dump,
    assert_failed_rows_logged,
    assert_no_traceback,
    assert_one_error_line,
    assert_report_matches_db,
    dump,
    import_args,
    parsed_report,
    run_command,
)

from helpers import Run
from hostile_support import error_log_entries, seed

N = 60
POSITIONS = {"the first record": 1, "a middle record": N // 2, "the last record": N}
# The line number of record k in the error log (SPEC §4): CSV/TSV and XLSX count the header.
LINE_OF = {"csv": 1, "tsv": 1, "xlsx": 1, "json": 0, "jsonl": 0}

Outcome = tuple[int, int, int, bool]  # created, failed, read, completed (all with exit 1)


@dataclass
class Expected:
    """What SPEC §3/§12.1 allow for one damage: exit-1 outcomes, and whether exit 2 may do."""

    outcomes: list[Outcome]
    may_refuse: bool


def fails_alone(k: int) -> Expected:
    """The damaged record fails; every other one is imported; the whole file was read."""
    return Expected([(N - 1, 1, N, True)], may_refuse=False)


def fails_alone_or_names_the_columns(k: int) -> Expected:
    """As fails_alone, but record 1 of JSON/JSONL names the columns: refusing is also right."""
    return Expected([(N - 1, 1, N, True)], may_refuse=k == 1)


def stops_reading(k: int) -> Expected:
    """Records before k are imported, record k fails or is unread, the rest are unread.

    `completed` must be false while records follow; after the last one the reader cannot
    know that none follow, so false is right there too.
    """
    outcomes = [(k - 1, 1, k, False), (k - 1, 0, k - 1, False)]
    return Expected([*outcomes, (k - 1, 1, k, True)] if k == N else outcomes, may_refuse=k == 1)


def cut_after(k: int) -> Expected:
    """A delimited file cut inside record k: it is the last record, and it fails."""
    return Expected([(k - 1, 1, k, True)], may_refuse=False)


def cut_json_line(k: int) -> Expected:
    """A JSON Lines file cut inside line k: that line is the last, and it fails."""
    return Expected([(k - 1, 1, k, True)], may_refuse=k == 1)


def cut_json_array(k: int) -> Expected:
    """A JSON array cut inside element k: it fails or is unread; the array never closes, so
    `completed` may say that more was lost."""
    outcomes = [(k - 1, 1, k, True), (k - 1, 1, k, False), (k - 1, 0, k - 1, False)]
    return Expected(outcomes, may_refuse=k == 1)


# --- damages to text files: (file, record) -> damaged bytes ----------------------------------


def insert_at(offset: int, data: bytes, piece: bytes) -> bytes:
    return data[:offset] + piece + data[offset:]


def bad_byte(file: TextFile, k: int) -> bytes:
    return insert_at(file.name_offset(k), file.data, b"\xff")


def nul_byte(file: TextFile, k: int) -> bytes:
    return insert_at(file.name_offset(k), file.data, b"\x00")


def truncated(file: TextFile, k: int) -> bytes:
    return file.data[: file.name_offset(k)]


def json_syntax_error(file: TextFile, k: int) -> bytes:
    """The colon after record k's first key becomes a semicolon."""
    start, end = file.span(k)
    record = file.data[start:end].replace(b'":', b'";', 1)
    return file.data[:start] + record + file.data[end:]


TextDamage = Callable[[TextFile, int], bytes]
ALL, MIDDLE, LAST = list(POSITIONS), ["a middle record"], ["the last record"]
# Each format's characteristic damage at all three places, the others where they differ.
TEXT_CASES: list[tuple[str, str, TextDamage, Callable[[int], Expected], list[str]]] = [
    ("csv", "a bad byte", bad_byte, fails_alone, ALL),
    ("csv", "a NUL byte", nul_byte, fails_alone, MIDDLE),
    ("csv", "truncation", truncated, cut_after, ALL),
    ("tsv", "a bad byte", bad_byte, fails_alone, MIDDLE),
    ("tsv", "truncation", truncated, cut_after, LAST),
    ("json", "a syntax error", json_syntax_error, stops_reading, ALL),
    ("json", "truncation", truncated, cut_json_array, ALL),
    ("json", "a bad byte", bad_byte, fails_alone, MIDDLE),
    ("jsonl", "a syntax error", json_syntax_error, fails_alone_or_names_the_columns, ALL),
    ("jsonl", "a bad byte", bad_byte, fails_alone, MIDDLE),
    ("jsonl", "truncation", truncated, cut_json_line, LAST),
]
TEXT_PARAMS = [
    pytest.param(fmt, injure, expect, where, id=f"{fmt}-{damage}-{where}")
    for fmt, damage, injure, expect, places in TEXT_CASES
    for where in places
]

# --- damages to the sheet XML inside an XLSX zip ---------------------------------------------


def broken_tag(sheet: bytes, k: int) -> bytes:
    """Record k's row element loses its closing '>': not well-formed XML from there on."""
    offset = sheet_row_offset(sheet, k + 1)
    end = sheet.index(b">", offset)
    return sheet[:end] + b" <" + sheet[end:]


def bad_xml_byte(sheet: bytes, k: int) -> bytes:
    """A byte that is not UTF-8 inside record k's row (XML must be well-formed UTF-8)."""
    offset = sheet_row_offset(sheet, k + 1)
    return insert_at(sheet.index(b"<t>", offset) + 3, sheet, b"\xff")


def truncated_sheet(sheet: bytes, k: int) -> bytes:
    return sheet[: sheet_row_offset(sheet, k + 1) + 20]


XLSX_CASES: list[tuple[str, Callable[[bytes, int], bytes], list[str]]] = [
    ("bad XML", broken_tag, ALL),
    ("a bad byte in the XML", bad_xml_byte, MIDDLE),
    ("a truncated sheet", truncated_sheet, LAST),
]
XLSX_PARAMS = [
    pytest.param(injure, where, id=f"{damage}-{where}")
    for damage, injure, places in XLSX_CASES
    for where in places
]


def check(run: Run, before: Dump, db_url: str, fmt: str, k: int, expected: Expected) -> None:
    """§12.1 for one broken file: no traceback; exit 2 changes nothing; exit 1 tells the truth."""
    assert_no_traceback(run)
    after = dump(db_url)
    if run.exit_code == 2 and expected.may_refuse:
        assert_one_error_line(run)
        assert after == before, "exit 2, yet the database changed"
        return
    assert run.exit_code == 1, (run.exit_code, run.stderr[-2000:])
    report = parsed_report(run)
    assert_report_matches_db(report, before, after)
    assert report is not None
    assert_failed_rows_logged(report)
    rows = report["rows"]
    actual = (rows["created"], rows["failed"], rows["read"], report["completed"])
    assert actual in expected.outcomes, (
        f"created/failed/read/completed {actual}, the SPEC allows {expected.outcomes}"
    )
    if rows["failed"]:
        assert k + LINE_OF[fmt] in error_log_entries(report["error_log"]), "wrong line logged"
    if not report["completed"]:
        assert_says_where_reading_stopped(run, k + LINE_OF[fmt])


def assert_says_where_reading_stopped(run: Run, line: int) -> None:
    """SPEC §12.1: the unread rows are named, with the line or position where reading
    stopped: the damaged record's, or the last one read before it."""
    message = assert_one_error_line(run)
    where = re.compile(rf"\b(line|row|element|position) ({line}|{line - 1})\b")
    assert where.search(message), f"the line does not say where reading stopped: {message}"


@pytest.mark.parametrize(("fmt", "injure", "expect", "where"), TEXT_PARAMS)
def test_a_broken_text_file_is_reported_as_it_is_and_leaves_the_database_consistent(
    tmp_path: Path,
    sqlite_url: str,
    fmt: str,
    injure: TextDamage,
    expect: Callable[[int], Expected],
    where: str,
) -> None:
    k = POSITIONS[where]
    seed(tmp_path, sqlite_url)
    source = text_file(fmt, GROUP_FIELDS, group_records(N))
    path = write(tmp_path / f"groups.{fmt}", injure(source, k))
    before = dump(sqlite_url)
    run = run_command(*import_args(path, "CustomerGroup", sqlite_url, "--error-log", tmp_path))
    check(run, before, sqlite_url, fmt, k, expect(k))


@pytest.mark.parametrize(("injure", "where"), XLSX_PARAMS)
def test_a_workbook_with_broken_sheet_xml_imports_what_precedes_the_damage_and_says_so(
    tmp_path: Path,
    sqlite_url: str,
    injure: Callable[[bytes, int], bytes],
    where: str,
) -> None:
    k = POSITIONS[where]
    seed(tmp_path, sqlite_url)
    workbook = xlsx_bytes(GROUP_FIELDS, group_records(N))
    damaged = rewrite_member(workbook, SHEET, lambda sheet: injure(sheet, k))
    path = write(tmp_path / "groups.xlsx", damaged)
    before = dump(sqlite_url)
    run = run_command(*import_args(path, "CustomerGroup", sqlite_url, "--error-log", tmp_path))
    check(run, before, sqlite_url, "xlsx", k, stops_reading(k))


@pytest.mark.parametrize("cut", [0.5])
def test_a_truncated_workbook_is_refused_with_one_line_before_anything_is_written(
    tmp_path: Path, sqlite_url: str, cut: float
) -> None:
    """The zip's directory is at its end: any cut leaves no workbook to read (exit 2)."""
    seed(tmp_path, sqlite_url)
    workbook = xlsx_bytes(GROUP_FIELDS, group_records(N))
    path = write(tmp_path / "groups.xlsx", workbook[: int(len(workbook) * cut)])
    before = dump(sqlite_url)
    run = run_command(*import_args(path, "CustomerGroup", sqlite_url))
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    assert_one_error_line(run, "groups.xlsx")
    assert dump(sqlite_url) == before


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_a_file_broken_in_the_middle_tells_the_truth_on_postgresql_too(
    tmp_path: Path, postgres_url: str, fmt: str
) -> None:
    """The same checks on the other engine, for one damage of each kind."""
    k = POSITIONS["a middle record"]
    seed(tmp_path, postgres_url)
    records = group_records(N)
    if fmt == "xlsx":
        data = rewrite_member(xlsx_bytes(GROUP_FIELDS, records), SHEET, lambda s: broken_tag(s, k))
        expect = stops_reading(k)
    elif fmt == "json":
        data, expect = json_syntax_error(text_file(fmt, GROUP_FIELDS, records), k), stops_reading(k)
    else:
        data, expect = bad_byte(text_file(fmt, GROUP_FIELDS, records), k), fails_alone(k)
    path = write(tmp_path / f"groups.{fmt}", data)
    before = dump(postgres_url)
    run = run_command(*import_args(path, "CustomerGroup", postgres_url, "--error-log", tmp_path))
    check(run, before, postgres_url, fmt, k, expect)
