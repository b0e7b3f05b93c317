"""Title rows above the header and Excel's `sep=` line (SPEC §11, issue 17), on both engines.

`--header-row N` takes the header from line N (CSV/TSV) or sheet row N (XLSX); the rows
above it are ignored and every line number in messages and the error log stays physical.
"""

import gzip
import io
import zipfile
from pathlib import Path

import openpyxl

from helpers import cli, fetch, run_import
from hostile_support import assert_usage_error, count, failed_lines, seed

ACCOUNTS = "account_number,name,customer_group\n"


def workbook(path: Path, *rows: list[str]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_a_workbook_with_two_title_rows(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = workbook(
        tmp_path / "accounts.xlsx",
        ["Accounts export"],
        ["Generated 2024-06-01 by the CRM"],
        ["account_number", "name", "customer_group"],
        ["W-1", "Widget Co", "Enterprise"],
        ["W-2", "Gadget Co", "Nope"],
    )
    without = run_import(path, "Account", db_url)
    assert_usage_error(without, "required columns missing")
    run = run_import(path, "Account", db_url, "--header-row", "3")
    assert run.exit_code == 1, run.stderr
    assert (run.rows["created"], run.rows["failed"]) == (1, 1)
    assert list(failed_lines(run)) == [5]
    assert fetch(db_url, "SELECT account_number, name FROM account") == [("W-1", "Widget Co")]


def test_header_row_in_a_workbook_inside_a_zip(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    book = workbook(
        tmp_path / "b.xlsx", ["Title"], ACCOUNTS.strip().split(","), ["Z-1", "Zed", "Partners"]
    )
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(book, "accounts.xlsx")
    run = run_import(path, "Account", db_url, "--header-row", "2")
    assert run.exit_code == 0, run.stderr
    assert count(db_url, "account") == 1


def test_csv_error_log_lines_stay_physical(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = tmp_path / "accounts.csv"
    title = 'Report "Q2,,,\nExported by CRM\n\n'  # an open quote: never parsed
    path.write_text(title + ACCOUNTS + "C-1,One,Enterprise\nC-2,,Enterprise\nC-3,Three,Retail\n")
    run = run_import(path, "Account", db_url, "--header-row", "4")
    assert run.exit_code == 1, run.stderr
    assert run.rows["created"] == 1 and run.rows["failed"] == 2
    logged = failed_lines(run)
    assert list(logged) == [6, 7]
    assert logged[6][0][0] == "name"


def test_excel_sep_line(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = tmp_path / "accounts.csv"
    rows = "S-1;Semi, Colon;Enterprise\r\nS-2;Two;Nope\r\n"
    path.write_bytes(
        ("sep=;\r\n" + ACCOUNTS.replace(",", ";").replace("\n", "\r\n") + rows).encode()
    )
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 1, run.stderr
    assert list(failed_lines(run)) == [4]
    assert fetch(db_url, "SELECT account_number, name FROM account") == [("S-1", "Semi, Colon")]


def test_inspect_with_header_row(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("Accounts\n" + ACCOUNTS + "I-1,Inspected,Enterprise\n")
    run = cli("inspect", path, "--header-row", "2", "--json")
    assert run.exit_code == 0, run.stderr
    found = run.report
    assert [c["column"] for c in found["columns"]] == ["account_number", "name", "customer_group"]
    assert (found["rows"], found["model"]) == (1, "Account")
    assert [row["account_number"] for row in found["sample"]] == ["I-1"]


def test_header_row_with_json_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"account_number": "J-1", "name": "J", "customer_group": "Enterprise"}\n')
    run = run_import(path, "Account", db_url, "--header-row", "2")
    assert_usage_error(run, "--header-row is for CSV, TSV and XLSX files")
    inspected = cli("inspect", path, "--header-row", "2")
    assert_usage_error(inspected, "--header-row is for CSV, TSV and XLSX files")


def test_header_row_beyond_the_file_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS + "B-1,B,Enterprise\n")
    run = run_import(path, "Account", db_url, "--header-row", "9")
    assert_usage_error(run, "no line 9: the file has 2 lines")
    zero = run_import(path, "Account", db_url, "--header-row", "0")
    assert_usage_error(zero, "--header-row")
    assert count(db_url, "account") == 0


def test_a_workbook_inside_a_gzip_file(tmp_path: Path, db_url: str) -> None:
    """A workbook can come gzipped too; the title row is skipped as for the plain file."""
    seed(tmp_path, db_url)
    book = openpyxl.Workbook()
    for row in (["Title"], ACCOUNTS.strip().split(","), ["G-1", "Gee", "Partners"]):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "accounts.xlsx.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    run = run_import(path, "Account", db_url, "--header-row", "2")
    assert run.exit_code == 0, run.stderr
    assert fetch(db_url, "SELECT account_number FROM account") == [("G-1",)]
