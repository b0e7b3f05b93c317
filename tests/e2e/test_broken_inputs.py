"""The cases of the issue "Trust at the edges" that readers own, through the real command.

Each input is broken for real (a damaged byte, JSON that stops, NaN where an account number
goes, a formula saved without its value, a sheet whose XML breaks, a zip bomb, a codec that
cannot read the file) and the database is read back with SQL. The zip bombs run the
installed command in a child process whose address space is capped, as a user's machine
would be, and must be refused in one line, quickly, before anything is written.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

import raw_workbooks as raw
from helpers import COMMAND, Run, cli, fetch, run_import

GROUP_ROWS = [["name", "group_type"]] + [[f"G{n:04d}", "BUSINESS"] for n in range(2, 402)]
ISSUE_JSON = (
    '[{"name":"S1","group_type":"BUSINESS"},{"name":"S2" "group_type":"BUSINESS"},'
    '{"name":"S3","group_type":"BUSINESS"}]'
)
MEMORY_CAP = 600 * 2**20  # the command itself needs about 300 MB of address space


@pytest.fixture
def db(tmp_path: Path) -> str:
    """An SQLite database holding the BUSINESS group `G` that accounts refer to."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    groups = tmp_path / "g.csv"
    groups.write_text("name,group_type\nG,BUSINESS\n")
    assert run_import(groups, "CustomerGroup", url).exit_code == 0
    return url


def imported(path: Path, model: str, db: str, *extra: str) -> Run:
    run = run_import(path, model, db, "--error-log", str(path.parent), *extra)
    assert "Traceback" not in run.stdout + run.stderr
    return run


def assert_usage_error(run: Run, fragment: str) -> None:
    """Exit 2 and exactly one line `Error: …` holding the fragment."""
    lines = run.stderr.strip().splitlines()
    assert run.exit_code == 2, (run.exit_code, run.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    assert fragment in lines[0], lines[0]


def group_names(db: str) -> set[str]:
    return {name for (name,) in fetch(db, "SELECT name FROM customer_group")} - {"G"}


def test_a_utf8_file_with_one_damaged_byte_imports_its_other_rows_unchanged(
    tmp_path: Path, db: str
) -> None:
    path = tmp_path / "enc.csv"
    path.write_bytes(b"name,group_type\nM\xc3\xbcller,BUSINESS\nBad\xffByte,BUSINESS\n")
    run = imported(path, "CustomerGroup", db)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 1, 1)
    assert group_names(db) == {"Müller"}


def test_a_json_syntax_error_part_way_keeps_the_rows_before_and_says_the_rest_is_unread(
    tmp_path: Path, db: str
) -> None:
    """Needs the pipeline to turn the reader's `stopped` into completed: false (SPEC §12.1)."""
    path = tmp_path / "s.json"
    path.write_text(ISSUE_JSON)
    run = imported(path, "CustomerGroup", db)
    assert run.exit_code == 1
    assert run.report["completed"] is False
    assert run.rows["created"] == 1 and run.rows["failed"] == 1
    assert "reading stopped at element 2 (line 1, column 53)" in json.dumps(run.report)
    assert group_names(db) == {"S1"}


def test_json_numbers_and_keys_that_json_loads_would_bend_fail_their_rows(
    tmp_path: Path, db: str
) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        "["
        '{"account_number": "A1", "name": 1e3, "customer_group": "G"},'
        '{"account_number": NaN, "name": "n", "customer_group": "G"},'
        '{"account_number": Infinity, "name": "i", "customer_group": "G"},'
        '{"account_number": 1.2345678901234567e16, "name": "f", "customer_group": "G"},'
        '{"account_number": "A5", "name": "x", "name": "y", "customer_group": "G"}'
        "]"
    )
    run = imported(path, "Account", db)
    assert (run.exit_code, run.rows["created"], run.rows["failed"]) == (1, 1, 4)
    assert fetch(db, "SELECT account_number, name FROM account") == [("A1", "1000")]


def test_a_formula_without_a_saved_value_fails_its_row_and_leaves_the_stored_value_alone(
    tmp_path: Path, db: str
) -> None:
    first = tmp_path / "a.csv"
    first.write_text("account_number,name,customer_group,description\nA1,Alpha,G,kept\n")
    assert imported(first, "Account", db).exit_code == 0
    workbook = Workbook()
    workbook.active.append(["account_number", "name", "description"])
    workbook.active.append(["A1", "Alpha", "=UPPER(B2)"])
    workbook.save(tmp_path / "f.xlsx")
    run = imported(tmp_path / "f.xlsx", "Account", db, "--mode", "update_only")
    assert (run.exit_code, run.rows["failed"]) == (1, 1)
    assert fetch(db, "SELECT description FROM account") == [("kept",)]


def test_a_sheet_whose_xml_breaks_part_way_keeps_the_rows_before_and_says_the_rest_is_unread(
    tmp_path: Path, db: str
) -> None:
    """Needs the pipeline to turn the reader's `stopped` into completed: false (SPEC §12.1)."""
    sheet = raw.sheet_xml(GROUP_ROWS)
    at = sheet.index(b'<row r="301">') + len(b'<row r="301">')
    broken = (
        sheet[:at] + '<c r="C301" t="inlineStr"><is><t>\ufffe</t></is></c>'.encode() + sheet[at:]
    )
    run = imported(raw.write_workbook(tmp_path / "g.xlsx", broken), "CustomerGroup", db)
    assert run.exit_code == 1
    assert run.report["completed"] is False
    assert "reading stopped after sheet row 300" in json.dumps(run.report)
    assert len(group_names(db)) == run.rows["created"] == 299


def test_a_workbook_with_damaged_compressed_data_is_refused_before_anything_is_written(
    tmp_path: Path, db: str
) -> None:
    path = raw.write_workbook(tmp_path / "g.xlsx", raw.sheet_xml(GROUP_ROWS))
    raw.corrupt_deflate(path, raw.SHEET)
    assert_usage_error(imported(path, "CustomerGroup", db), "g.xlsx")
    assert group_names(db) == set()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "idna", "punycode", "undefined"])
def test_an_encoding_the_file_cannot_be_read_with_is_refused_before_anything_is_written(
    tmp_path: Path, db: str, encoding: str
) -> None:
    path = tmp_path / "g.csv"
    path.write_text("name,group_type\nH,BUSINESS\n")
    run = imported(path, "CustomerGroup", db, "--encoding", encoding)
    assert_usage_error(run, f"cannot be read as '{encoding}'")
    assert group_names(db) == set()


def _capped(*args: str | Path) -> tuple[subprocess.CompletedProcess[str], float]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    started = time.monotonic()
    done = subprocess.run(
        [COMMAND, *map(str, args)],
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done, time.monotonic() - started


def _shared_strings_bomb(path: Path) -> Path:
    """1.3 MB on disk, 256 MB of shared strings: 15 million of them in openpyxl's list."""
    raw.write_workbook(path, raw.sheet_xml(GROUP_ROWS[:3]), strings_added_later=True)
    raw.inflating_member(
        path, raw.STRINGS, raw.strings_head(), b"<si><t>ab</t></si>", 256, b"</sst>"
    )
    return path


def _lying_part(path: Path) -> Path:
    """A part openpyxl reads in one piece that declares 1 KB and inflates to 512 MB."""
    raw.write_workbook(path, raw.sheet_xml(GROUP_ROWS[:3]))
    raw.inflating_member(path, "docProps/core.xml", b"<a>", b"<b>lol</b>", 512, b"</a>")
    raw.declare_size(path, "docProps/core.xml", 1024)
    return path


@pytest.mark.parametrize(
    "build, message",
    [
        (_shared_strings_bomb, "refused as a likely zip bomb: xl/sharedStrings.xml"),
        (_lying_part, "docProps/core.xml is damaged, or does not hold what the zip directory"),
    ],
)
@pytest.mark.parametrize("command", ["import", "inspect"])
def test_a_zip_bomb_is_refused_in_one_line_quickly_within_a_memory_cap(
    tmp_path: Path, db: str, build: Callable[[Path], Path], message: str, command: str
) -> None:
    path = build(tmp_path / "bomb.xlsx")
    if command == "import":
        args: list[str | Path] = [path, "--model", "CustomerGroup", "--db", db, "--json"]
    else:
        args = ["inspect", path]
    done, seconds = _capped(*args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert seconds < 30  # the unguarded import took 208 s on the issue's bomb
    assert group_names(db) == set()


def _deep_json(path: Path) -> Path:
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(f'[{{"name": "S1"}}, {{"name": {deep}}}, {{"name": "S3"}}]')
    return path


def _issue_json(path: Path) -> Path:
    path.write_text(ISSUE_JSON)
    return path


def _broken_sheet(path: Path) -> Path:
    sheet = raw.sheet_xml(GROUP_ROWS)
    return raw.write_workbook(path, sheet[: sheet.index(b'<row r="301">')])


@pytest.mark.parametrize(
    "build, name, stopped",
    [
        (_issue_json, "a.json", "reading stopped at element 2 (line 1, column 53)"),
        (_deep_json, "a.json", "reading stopped at element 2 (line 1, column 18)"),
        (_broken_sheet, "a.xlsx", "reading stopped after sheet row 300"),
    ],
)
def test_inspect_says_where_reading_stopped_without_a_traceback(
    tmp_path: Path, build: Callable[[Path], Path], name: str, stopped: str
) -> None:
    """Needs reporting to show the inspection's `stats.stopped` (human and JSON)."""
    path = build(tmp_path / name)
    for extra in ([], ["--json"]):
        run = cli("inspect", path, *extra)
        assert run.exit_code == 0, run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        assert stopped in run.stdout
