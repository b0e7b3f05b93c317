"""Hostile input files, generated here: each case pins the exit code, the one-line reason
(stderr for the file as a whole, the error log for a row) and what the database holds.

Whole-file problems run on SQLite only (they must stop before the database is even opened);
value problems run on both engines, because that is where a database can disagree.
"""

import csv
import json
import random
from pathlib import Path

import pytest

from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    Run,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    write_csv,
)
from hostile_support import (
    assert_usage_error,
    consistency_problems,
    count,
    failed_lines,
    parent_cycles,
    seed,
)

ENTERPRISE_ONLY = ["account_number", "name", "customer_group", "parent_account"]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def import_groups(path: Path, db_url: str, *extra: str) -> Run:
    return run_import(path, "CustomerGroup", db_url, *extra)


def group_names(db_url: str) -> list[str]:
    return sorted(name for (name,) in fetch(db_url, "SELECT name FROM customer_group"))


def assert_row_failures(run: Run, expected: dict[int, tuple[str, str]]) -> None:
    """Exit 1, each listed line failed with that field and a message containing the text."""
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 1, run.stderr
    logged = failed_lines(run)
    assert sorted(logged) == sorted(expected), logged
    for line, (field, text) in expected.items():
        assert any(f == field and text in message for f, message in logged[line]), (
            line,
            logged[line],
        )
    assert run.rows["failed"] == len(expected)


# --- the file as a whole: exit 2, one line, nothing created ------------------------------

RANDOM_BYTES = random.Random(20240229).randbytes(4096)
WHOLE_FILE_PROBLEMS = [
    pytest.param("empty.csv", b"", "file is empty: no header row", id="empty file"),
    pytest.param("blank.csv", b"\n  \r\n\t\n", "file is empty: no header row", id="blank lines"),
    pytest.param("bom.csv", b"\xef\xbb\xbf", "file is empty: no header row", id="only a BOM"),
    pytest.param("garbage.csv", RANDOM_BYTES, "is not a text file", id="binary garbage"),
    pytest.param("image.csv", b"\x89PNG\r\n\x1a\n" + RANDOM_BYTES, "a PNG image", id="png"),
    pytest.param("packed.csv", b"\x1f\x8b\x08\x00" + RANDOM_BYTES, "a gzip archive", id="gzip"),
    pytest.param(
        "book.xlsx", b"PK\x03\x04" + RANDOM_BYTES, "not a readable xlsx workbook", id="broken xlsx"
    ),
    pytest.param(
        "text.xlsx", b"name,group_type\nA,BUSINESS\n", "not an xlsx workbook", id="text as xlsx"
    ),
    pytest.param(
        "dup.csv",
        b"name,group_type,name\nA,BUSINESS,B\n",
        "duplicate column names in the header: 'name' (columns 1, 3)",
        id="duplicated header names",
    ),
    pytest.param(
        "same.csv",
        b"name,Group Type,group-type\nA,BUSINESS,BUSINESS\n",
        "columns 'Group Type' and 'group-type' both map to the field 'group_type'",
        id="two headers for one field",
    ),
    pytest.param(
        "nameless.csv",
        b",group_type\nA,BUSINESS\n",
        "required columns missing: name",
        id="the required column has an empty name",
    ),
    pytest.param(
        "nul_header.csv",
        b"na\x00me,group_type\nA,BUSINESS\n",
        "the header row contains a NUL character",
        id="NUL in the header",
    ),
    pytest.param(
        "open_header.csv",
        b'"name,group_type\nA,BUSINESS\n',
        "the header row has an unterminated quoted field",
        id="unterminated quote in the header",
    ),
    pytest.param(
        "array.json", b'{"data": []}', "JSON input must be an array of objects", id="json object"
    ),
    pytest.param("cut.json", b"[", "element 1 is not valid JSON", id="truncated json"),
]


@pytest.mark.parametrize(("name", "content", "reason"), WHOLE_FILE_PROBLEMS)
def test_a_file_that_cannot_be_imported_exits_2_with_one_line_and_creates_no_database(
    tmp_path: Path, sqlite_url: str, name: str, content: bytes, reason: str
) -> None:
    path = write_bytes(tmp_path / name, content)
    run = cli(path, "--model", "CustomerGroup", "--db", sqlite_url)
    assert_usage_error(run, reason)
    assert not (tmp_path / "custimport.db").exists()


def test_a_directory_instead_of_a_file_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "folder.csv").mkdir()
    run = cli(tmp_path / "folder.csv", "--model", "Account", "--db", sqlite_url)
    assert_usage_error(run, "folder.csv: is a directory, not a file")
    assert not (tmp_path / "custimport.db").exists()


def test_a_missing_file_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    run = cli(tmp_path / "absent.csv", "--model", "Account", "--db", sqlite_url)
    assert_usage_error(run, "absent.csv: no such file")
    assert not (tmp_path / "custimport.db").exists()


def test_an_existing_database_is_left_untouched_by_a_file_that_cannot_be_imported(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    before = fetch(db_url, "SELECT id, name, group_type, updated_at FROM customer_group")
    path = write_bytes(tmp_path / "garbage.csv", RANDOM_BYTES)
    assert_usage_error(cli(path, "--model", "CustomerGroup", "--db", db_url), "not a text file")
    assert fetch(db_url, "SELECT id, name, group_type, updated_at FROM customer_group") == before


# --- header only, odd headers ---------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"name,group_type\n",
        b"name,group_type",
        b"\xef\xbb\xbfname,group_type\r\n",
        b"name,group_type\n\n\n",
        b"name;group_type\n",
    ],
    ids=["newline", "no newline", "BOM and CRLF", "blank lines after", "semicolon"],
)
def test_a_header_only_file_exits_0_and_writes_no_row(
    tmp_path: Path, sqlite_url: str, content: bytes
) -> None:
    run = import_groups(write_bytes(tmp_path / "header.csv", content), sqlite_url)
    assert run.exit_code == 0, run.stderr
    assert run.rows == dict.fromkeys(run.rows, 0)
    assert run.report["completed"] is True and run.report["error_log"] is None
    assert count(sqlite_url, "customer_group") == 0


def test_header_cells_without_a_name_become_unknown_columns(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_bytes(tmp_path / "g.csv", b"name,,group_type,\nG1,x,BUSINESS,\n")
    run = import_groups(path, sqlite_url)
    assert run.exit_code == 0, run.stderr
    assert run.report["unknown_columns"] == ["(column 2)", "(column 4)"]
    assert fetch(sqlite_url, "SELECT name, group_type FROM customer_group") == [("G1", "BUSINESS")]


# --- row-level problems: exit 1, the row in the error log, the others imported -----------


def test_ragged_rows_fail_with_expected_and_found_counts(tmp_path: Path, sqlite_url: str) -> None:
    path = write_bytes(
        tmp_path / "g.csv",
        # line 5 holds only a delimiter: an empty row, skipped like a blank line
        b"name,group_type\nR1,BUSINESS,extra\nR2\nR3,BUSINESS\n,\nR4,BUSINESS,,\nR5,INDIVIDUAL\n",
    )
    run = import_groups(path, sqlite_url)
    assert_row_failures(
        run,
        {
            2: ("row", "expected 2 fields, found 3"),
            3: ("row", "expected 2 fields, found 1"),
            6: ("row", "expected 2 fields, found 4"),
        },
    )
    assert run.rows["read"] == 5 and run.rows["created"] == 2
    assert group_names(sqlite_url) == ["R3", "R5"]


def test_nul_bytes_fail_their_row_only(tmp_path: Path, sqlite_url: str) -> None:
    filler = b"".join(b"Filler %03d,BUSINESS\n" % i for i in range(200))
    path = write_bytes(
        tmp_path / "g.csv",
        b"name,group_type\nN1,BUSINESS\nN\x002,BUSINESS\nN3,BUSI\x00NESS\n" + filler,
    )
    run = import_groups(path, sqlite_url)
    assert_row_failures(
        run,
        {
            3: ("row", "value in column 'name' contains a NUL character"),
            4: ("row", "value in column 'group_type' contains a NUL character"),
        },
    )
    assert count(sqlite_url, "customer_group") == 201
    assert fetch(sqlite_url, "SELECT count(*) FROM customer_group WHERE name LIKE 'N%'") == [(1,)]


def test_a_10_mb_field_fails_its_row_and_is_fine_in_an_ignored_column(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed(tmp_path, sqlite_url)
    huge = "x" * 10_000_000
    path = write_csv(
        tmp_path / "big.csv",
        ["account_number", "name", "customer_group", "description", "notes"],
        [
            ["BIG-1", "Big one", "Enterprise", huge, ""],
            ["BIG-2", "Big two", "Enterprise", "short", huge],
            ["BIG-3", "Big three", "Enterprise", "d" * 10_000, ""],
        ],
    )
    run = run_import(path, "Account", sqlite_url)
    assert_row_failures(run, {2: ("description", "must be at most 10000 characters")})
    assert run.report["unknown_columns"] == ["notes"]
    assert fetch(
        sqlite_url, "SELECT account_number, length(description) FROM account ORDER BY 1"
    ) == [("BIG-2", 5), ("BIG-3", 10_000)]


def test_a_row_of_100000_columns_fails_with_the_count(tmp_path: Path, sqlite_url: str) -> None:
    wide = ",".join(["W2", "BUSINESS", *(["c"] * 99_998)])
    path = write_bytes(
        tmp_path / "g.csv", f"name,group_type\nW1,BUSINESS\n{wide}\nW3,BUSINESS\n".encode()
    )
    run = import_groups(path, sqlite_url)
    assert_row_failures(run, {3: ("row", "expected 2 fields, found 100000")})
    assert group_names(sqlite_url) == ["W1", "W3"]


def test_a_header_of_100000_columns_imports_the_known_ones(tmp_path: Path, sqlite_url: str) -> None:
    extra = [f"extra{i}" for i in range(99_998)]
    path = write_csv(
        tmp_path / "g.csv", ["name", *extra, "group_type"], [["WH1", *(["v"] * 99_998), "BUSINESS"]]
    )
    run = import_groups(path, sqlite_url)
    assert run.exit_code == 0, run.stderr
    assert run.report["unknown_columns"] == extra
    assert fetch(sqlite_url, "SELECT name, group_type FROM customer_group") == [("WH1", "BUSINESS")]


def test_an_unterminated_quote_fails_the_rest_of_the_file_as_one_row(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_bytes(
        tmp_path / "g.csv", b'name,group_type\nU1,BUSINESS\n"U2,BUSINESS\nU3,BUSINESS\n'
    )
    run = import_groups(path, sqlite_url)
    assert_row_failures(run, {3: ("row", "unterminated quoted field starting at line 3")})
    assert run.rows["read"] == 2
    assert group_names(sqlite_url) == ["U1"]


def test_mixed_line_endings_keep_physical_line_numbers(tmp_path: Path, sqlite_url: str) -> None:
    content = (
        b"name,group_type\r\n"  # line 1
        b"M1,BUSINESS\n"  # line 2
        b"M2,BUSINESS\r"  # line 3 (old Mac)
        b"M3,BUSINESS\r\n"  # line 4
        b'"M4\r\nsecond line",BUSINESS\n'  # lines 5-6: a quoted multi-line value
        b"M5,NOPE\r"  # line 7
        b"M6,BUSINESS"  # line 8, no line ending at the end of the file
    )
    run = import_groups(write_bytes(tmp_path / "g.csv", content), sqlite_url)
    assert_row_failures(run, {7: ("group_type", "must be INDIVIDUAL or BUSINESS")})
    assert group_names(sqlite_url) == ["M1", "M2", "M3", "M4\r\nsecond line", "M6"]


def test_undecodable_bytes_late_in_a_utf8_file_fail_only_their_row(
    tmp_path: Path, sqlite_url: str
) -> None:
    lines = ["name,group_type", "Café,BUSINESS"] + [f"Group {i:05d},BUSINESS" for i in range(5000)]
    content = "\n".join(lines).encode() + b"\nBad\xff\xfeByte,BUSINESS\nApr\xc3\xa8s,BUSINESS\n"
    run = import_groups(write_bytes(tmp_path / "g.csv", content), sqlite_url)
    assert_row_failures(
        run, {5003: ("row", "value in column 'name' contains bytes that are not valid utf-8")}
    )
    assert count(sqlite_url, "customer_group") == 5002
    assert fetch(sqlite_url, "SELECT count(*) FROM customer_group WHERE name IN ('Café', 'Après')")[
        0
    ] == (2,)


def test_control_characters_are_escaped_in_the_error_log(tmp_path: Path, sqlite_url: str) -> None:
    path = write_bytes(
        tmp_path / "g.csv", b"name,group_type\nA\x1b[31mB,NOPE\nC\x1b]0;title\x07D,BUSINESS\n"
    )
    run = import_groups(path, sqlite_url)
    assert_row_failures(run, {2: ("group_type", "must be INDIVIDUAL or BUSINESS")})
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "\x1b" not in log and "A\\u001b[31mB" in log
    assert group_names(sqlite_url) == ["C\x1b]0;title\x07D"]


def test_a_column_name_that_looks_like_markup_is_shown_as_text(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_bytes(tmp_path / "g.csv", b"name,group_type,[/x]\nG1,BUSINESS,a\n")
    run = cli(path, "--model", "CustomerGroup", "--db", sqlite_url)
    assert run.exit_code == 0, run.stderr
    assert "Ignored unknown columns: [/x]" in run.stdout
    assert group_names(sqlite_url) == ["G1"]


# --- mapping files -----------------------------------------------------------------------

MAPPING_PROBLEMS = [
    pytest.param('{"No": "account_number",', "is not valid JSON (line 1", id="invalid JSON"),
    pytest.param("", "is not valid JSON", id="empty file"),
    pytest.param('["account_number"]', "must hold a JSON object", id="a list"),
    pytest.param('"account_number"', "must hold a JSON object", id="a string"),
    pytest.param(
        '{"No": 5}', "maps 'No' to 5: each value must be a field name or null", id="a number"
    ),
    pytest.param(
        '{"No": "account_number", "Company": "name", "Segment": "name"}',
        "columns 'Company' and 'Segment' both map to the field 'name'",
        id="two columns to one field",
    ),
    pytest.param(
        '{"No": "account_number", "Company": "Name"}',
        "columns 'Company' and 'name' both map to the field 'name'",
        id="a mapped column and a matching header for one field",
    ),
    *(
        pytest.param(
            json.dumps({"No": target}),
            f"the mapping sends 'No' to '{target}', which is not an importable field; "
            "valid fields: account_number, name, legal_name",
            id=f"maps to {target}",
        )
        for target in (
            "id",
            "ID",
            "customer_group_id",
            "Customer Group ID",
            "parent_account_id",
            "account_id",
            "created_at",
            "updated_at",
            "is_primary",
            "nonsense",
        )
    ),
]


@pytest.mark.parametrize(("mapping", "reason"), MAPPING_PROBLEMS)
def test_a_bad_mapping_file_exits_2_before_the_database_is_opened(
    tmp_path: Path, sqlite_url: str, mapping: str, reason: str
) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["No", "Company", "Segment", "name"],
        [["M-1", "Acme", "Enterprise", "x"]],
    )
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(mapping, encoding="utf-8")
    run = cli(path, "--model", "Account", "--db", sqlite_url, "--mapping", mapping_file)
    assert_usage_error(run, reason)
    assert not (tmp_path / "custimport.db").exists()


@pytest.mark.parametrize(
    ("mapping_file", "reason"),
    [
        (Path("absent.json"), "mapping file not found: absent.json"),
        (Path("."), "cannot read the mapping file"),
        (Path("binary.json"), "cannot read the mapping file binary.json"),
    ],
    ids=["missing", "a directory", "not text"],
)
def test_an_unreadable_mapping_file_exits_2(
    tmp_path: Path, sqlite_url: str, mapping_file: Path, reason: str
) -> None:
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe{\x00")
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("A-1")])
    run = cli(path, "--model", "Account", "--db", sqlite_url, "--mapping", mapping_file)
    assert_usage_error(run, reason)
    assert not (tmp_path / "custimport.db").exists()


# --- values that try to be code -------------------------------------------------------

TRICKY_VALUES = [
    "Robert'); DROP TABLE account;--",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM contact WHERE 1=1",
    '=HYPERLINK("http://evil.example","click")',
    "=1+1",
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "%",
    "_",
    "50% off_",
    "back\\slash",
    "$1 $$quoted$$",
    ":name ?param %(x)s {x}",
]


def test_sql_metacharacters_and_formulas_are_stored_literally(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    groups = write_csv(
        tmp_path / "g.csv", GROUPS_HEADER, [[value, "BUSINESS"] for value in TRICKY_VALUES]
    )
    assert import_groups(groups, db_url).exit_code == 0
    accounts = write_csv(
        tmp_path / "a.csv",
        ["account_number", "name", "legal_name", "customer_group", "description"],
        [[f"T-{n}", value, value, value, value] for n, value in enumerate(TRICKY_VALUES)],
    )
    run = run_import(accounts, "Account", db_url)
    assert run.exit_code == 0, run.stderr
    assert run.rows["created"] == len(TRICKY_VALUES)
    stored = fetch(
        db_url,
        "SELECT a.account_number, a.name, a.legal_name, a.description, g.name FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id",
    )
    assert sorted(stored) == sorted(
        (f"T-{n}", value, value, value, value) for n, value in enumerate(TRICKY_VALUES)
    )
    assert count(db_url, "customer_group") == 3 + len(TRICKY_VALUES)


def test_like_wildcards_in_keys_match_nothing_but_themselves(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    first = write_csv(
        tmp_path / "a.csv",
        ENTERPRISE_ONLY,
        [["AB1", "plain", "Enterprise", ""], ["A%", "percent", "Enterprise", ""]],
    )
    assert run_import(first, "Account", db_url).exit_code == 0
    second = write_csv(
        tmp_path / "b.csv",
        ENTERPRISE_ONLY,
        [
            ["A_1", "underscore", "Enterprise", ""],
            ["A%", "percent again", "Enterprise", ""],
            ["A-9", "group by wildcard", "Ret%", ""],
            ["A-8", "group by one char", "Retai_", ""],
            ["A-7", "parent by wildcard", "Enterprise", "A_1%"],
        ],
    )
    run = run_import(second, "Account", db_url)
    assert_row_failures(
        run,
        {
            4: ("customer_group", "unknown customer group 'Ret%'"),
            5: ("customer_group", "unknown customer group 'Retai_'"),
            6: ("parent_account", "parent account 'A_1%' not found"),
        },
    )
    assert run.rows["created"] == 1 and run.rows["updated"] == 1
    assert sorted(fetch(db_url, "SELECT account_number, name FROM account")) == [
        ("A%", "percent again"),
        ("AB1", "plain"),
        ("A_1", "underscore"),
    ]


# --- lengths at and past the limits ----------------------------------------------------


def email_of_length(length: int, local: str = "A") -> str:
    """A syntactically valid address of exactly `length` characters (upper case on purpose)."""
    domain_length = length - 64 - 1
    labels, remaining = [], domain_length - 4  # ".com"
    while remaining > 0:
        size = min(63, remaining)
        if remaining - size == 1:  # never leave a lone dot
            size -= 1
        labels.append("D" * size)
        remaining -= size + 1
    address = f"{local * 64}@{'.'.join(labels)}.com"
    assert len(address) == length, len(address)
    return address


def url_of_length(length: int) -> str:
    base = "https://example.com/"
    return base + "p" * (length - len(base))


def test_emails_and_websites_at_their_limits_are_stored_and_one_more_fails(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    header = [*ACCOUNTS_HEADER]
    at_limit = email_of_length(254)
    path = write_csv(
        tmp_path / "a.csv",
        header,
        [
            account_row("L-1", group="Retail", first="F", last="L", email=at_limit),
            account_row("L-2", group="Retail", first="F", last="L", email=email_of_length(255)),
            account_row("L-3", website=url_of_length(255)),
            account_row("L-4", website=url_of_length(256)),
            account_row("L-5", website="example.com"),
            account_row("L-6", website="exa mple.com"),
            account_row("L-7", group="Retail", first="F", last="L", email="a@b"),
        ],
    )
    run = run_import(path, "Account", db_url)
    assert_row_failures(
        run,
        {
            3: ("primary_contact_email", "must be at most 254 characters"),
            5: ("website", "must be at most 255 characters"),
            7: ("website", "is not a valid website"),
            8: ("primary_contact_email", "is not a valid email address"),
        },
    )
    assert sorted(fetch(db_url, "SELECT account_number, website FROM account")) == [
        ("L-1", None),
        ("L-3", url_of_length(255)),
        ("L-5", "example.com"),
    ]
    assert fetch(db_url, "SELECT email, is_primary FROM contact") == [(at_limit.lower(), True)]
    assert consistency_problems(db_url) == []


def test_contact_emails_at_the_limit_and_past_it(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("B-1")])
    assert run_import(accounts, "Account", db_url).exit_code == 0
    at_limit = email_of_length(254, local="C")
    path = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [
            ["B-1", "At", "Limit", at_limit, "", ""],
            ["B-1", "Past", "Limit", email_of_length(255, local="C"), "", ""],
            ["B-1", "P" * 100, "Q" * 101, "", "9" * 41, ""],
        ],
    )
    run = run_import(path, "Contact", db_url)
    assert run.exit_code == 1
    logged = failed_lines(run)
    assert sorted(logged) == [3, 4]
    assert logged[3] == [("email", "must be at most 254 characters")]
    assert sorted(logged[4]) == [
        ("last_name", "must be at most 100 characters"),
        ("phone", "must be at most 40 characters"),
    ]
    assert fetch(db_url, "SELECT first_name, email FROM contact") == [("At", at_limit.lower())]


@pytest.mark.parametrize("char", ["é", "😀", "中"], ids=["accented", "emoji", "cjk"])
def test_limits_count_characters_not_bytes(tmp_path: Path, db_url: str, char: str) -> None:
    seed(tmp_path, db_url)
    path = write_csv(
        tmp_path / "a.csv",
        ENTERPRISE_ONLY,
        [["U-1", char * 255, "Enterprise", ""], ["U-2", char * 256, "Enterprise", ""]],
    )
    run = run_import(path, "Account", db_url)
    assert_row_failures(run, {3: ("name", "must be at most 255 characters")})
    assert fetch(db_url, "SELECT account_number, name FROM account") == [("U-1", char * 255)]


# --- is_primary --------------------------------------------------------------------------

INVALID_FLAGS = [
    "y", "n", "t", "f", "on", "off", "2", "-1", "01", "00", "1.0", "0.0", "+1", "0x1",
    "true!", "ture", "yes please", "no way", "tru e", "TRUE FALSE", "oui", "ja", "nein",
    "null", "none", "nil", "x", "✓", "✗", "真", "\uff59\uff45\uff53", "\uff11", "yes\u200b",
]  # fmt: skip


def test_every_invalid_is_primary_spelling_fails_its_row(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row("P-1")])
    assert run_import(accounts, "Account", db_url).exit_code == 0
    path = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [["P-1", f"F{n}", "L", "", "", flag] for n, flag in enumerate(INVALID_FLAGS)],
    )
    run = run_import(path, "Contact", db_url)
    assert_row_failures(
        run,
        {
            n + 2: ("is_primary", "must be one of true/yes/1/false/no/0")
            for n in range(len(INVALID_FLAGS))
        },
    )
    assert count(db_url, "contact") == 0


def test_every_valid_is_primary_spelling_in_any_case_is_accepted(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed(tmp_path, sqlite_url)
    numbers = [f"V-{n}" for n in range(12)]
    accounts = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(n) for n in numbers])
    assert run_import(accounts, "Account", sqlite_url).exit_code == 0
    flags = ["TRUE", "True", "yEs", "YES", "1", " yes ", "FALSE", "False", "nO", "NO", "0", " 0 "]
    path = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [[number, "F", "L", "", "", flag] for number, flag in zip(numbers, flags, strict=True)],
    )
    run = run_import(path, "Contact", sqlite_url)
    assert run.exit_code == 0, failed_lines(run)
    stored = dict(
        fetch(
            sqlite_url,
            "SELECT a.account_number, c.is_primary FROM contact c JOIN account a ON a.id = c.account_id",
        )
    )
    assert {n: bool(stored[n]) for n in numbers} == {
        n: index < 6 for index, n in enumerate(numbers)
    }


# --- parent cycles -----------------------------------------------------------------------


def cycle_rows(prefix: str, length: int) -> list[list[str]]:
    return [
        [f"{prefix}-{i}", f"{prefix}{i}", "Enterprise", f"{prefix}-{(i + 1) % length}"]
        for i in range(length)
    ]


@pytest.mark.parametrize("batch_size", ["1", "4", "2000"])
def test_parent_cycles_of_1_2_and_10_in_one_file_fail_every_row_involved(
    tmp_path: Path, sqlite_url: str, batch_size: str
) -> None:
    seed(tmp_path, sqlite_url)
    rows = [
        ["OK-1", "root", "Enterprise", ""],
        *cycle_rows("S", 1),
        *cycle_rows("T", 2),
        ["H-1", "hangs off the ten", "Enterprise", "C-3"],
        *cycle_rows("C", 10),
        ["OK-2", "child of a root", "Enterprise", "OK-1"],
    ]
    run = run_import(
        write_csv(tmp_path / "a.csv", ENTERPRISE_ONLY, rows),
        "Account",
        sqlite_url,
        "--batch-size",
        batch_size,
    )
    expected = {3: ("parent_account", "an account cannot be its own parent")}
    expected |= {line: ("parent_account", "would make a cycle") for line in (4, 5)}
    expected |= {line: ("parent_account", "would make a cycle") for line in range(7, 17)}
    expected[6] = ("parent_account", "parent account 'C-3' was not imported")
    assert_row_failures(run, expected)
    assert sorted(
        fetch(
            sqlite_url,
            "SELECT a.account_number, p.account_number FROM account a "
            "LEFT JOIN account p ON p.id = a.parent_account_id",
        ),
        key=repr,
    ) == [("OK-1", None), ("OK-2", "OK-1")]


def test_parent_cycles_in_one_file_fail_on_both_engines(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    rows = [*cycle_rows("S", 1), *cycle_rows("T", 2), *cycle_rows("C", 10)]
    run = run_import(write_csv(tmp_path / "a.csv", ENTERPRISE_ONLY, rows), "Account", db_url)
    assert run.exit_code == 1 and run.rows["failed"] == 13 and run.rows["created"] == 0
    assert count(db_url, "account") == 0


@pytest.mark.parametrize("length", [1, 2, 10])
def test_an_update_closing_a_cycle_through_the_database_fails(
    tmp_path: Path, db_url: str, length: int
) -> None:
    seed(tmp_path, db_url)
    chain = [
        [f"D-{i}", f"D{i}", "Enterprise", f"D-{i + 1}" if i < length - 1 else ""]
        for i in range(length)
    ]
    assert (
        run_import(
            write_csv(tmp_path / "a.csv", ENTERPRISE_ONLY, chain), "Account", db_url
        ).exit_code
        == 0
    )
    before = fetch(db_url, "SELECT id, parent_account_id, updated_at FROM account")
    closing = write_csv(
        tmp_path / "b.csv", ["account_number", "parent_account"], [[f"D-{length - 1}", "D-0"]]
    )
    run = run_import(closing, "Account", db_url, "--mode", "update_only")
    reason = "cannot be its own parent" if length == 1 else "would make a cycle of parent accounts"
    assert_row_failures(run, {2: ("parent_account", reason)})
    assert fetch(db_url, "SELECT id, parent_account_id, updated_at FROM account") == before
    assert parent_cycles(db_url) == []


@pytest.mark.parametrize("length", [2, 3])
def test_a_cycle_through_an_existing_account_and_a_new_one_fails(
    tmp_path: Path, db_url: str, length: int
) -> None:
    seed(tmp_path, db_url)
    # the database: X-1 -> X-2 -> … (length - 1 accounts); the file links the last one to a new
    # account Y-1 whose parent is X-1, closing a cycle of `length`
    existing = [
        [f"X-{i}", f"X{i}", "Enterprise", f"X-{i + 1}" if i < length - 1 else ""]
        for i in range(1, length)
    ]
    assert (
        run_import(
            write_csv(tmp_path / "a.csv", ENTERPRISE_ONLY, existing), "Account", db_url
        ).exit_code
        == 0
    )
    closing = write_csv(
        tmp_path / "b.csv",
        ENTERPRISE_ONLY,
        [
            [f"X-{length - 1}", f"X{length - 1}", "Enterprise", "Y-1"],
            ["Y-1", "Y1", "Enterprise", "X-1"],
        ],
    )
    run = run_import(closing, "Account", db_url)
    assert run.exit_code == 1, run.stdout
    assert parent_cycles(db_url) == []


# --- where the database is -------------------------------------------------------------


def test_a_database_url_naming_the_input_file_exits_2_and_leaves_the_file_alone(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["G1", "BUSINESS"]])
    before = path.read_bytes()
    run = cli(path, "--model", "CustomerGroup", "--db", f"sqlite:///{path}")
    assert_usage_error(run, "file is not a database")
    assert path.read_bytes() == before


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    execute(url, "CREATE TABLE customer_group (id INTEGER PRIMARY KEY, label TEXT)")
    execute(url, "INSERT INTO customer_group (label) VALUES ('theirs')")
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["G1", "BUSINESS"]])
    run = cli(path, "--model", "CustomerGroup", "--db", url)
    assert_usage_error(run, "the database has tables but no custimport schema version")
    assert fetch(url, "SELECT label FROM customer_group") == [("theirs",)]


def test_hostile_rows_go_to_the_rejects_file_in_their_own_cells(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_bytes(
        tmp_path / "g.csv",
        b'name,group_type,notes\nG1,BUSINESS,a\nG2,nope,"multi\nline"\nG3,BUSINESS,x,y\n',
    )
    run = import_groups(path, sqlite_url, "--rejects", "fix.csv")
    assert run.exit_code == 1
    with Path(run.report["rejects"]).open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == ["name", "group_type", "notes", "error"]
    assert rows == [
        ["G2", "nope", "multi\nline", "group_type: must be INDIVIDUAL or BUSINESS"],
        ["G3", "BUSINESS", "x", "y", "row: expected 3 fields, found 4"],
    ]
