"""The same accounts as real programs save them: every file gives exactly the same database.

The test writes each file the way its program does: Excel's "CSV" in a Western European
locale (cp1252, semicolons, CRLF), a UTF-8 CSV with a BOM, Excel's "Unicode Text" (UTF-16
with a BOM, tabs), a workbook with account numbers as text cells and a real date cell, a
JSON array and JSON Lines. Files that are not data at all are refused with nothing written.
"""

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from helpers import cli, fetch, run_import, seed_groups

HEADER = [
    "account_number",
    "name",
    "legal_name",
    "customer_group",
    "parent_account",
    "website",
    "industry",
    "description",
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
    "primary_contact_phone",
]

ACCOUNTS = [
    {
        "account_number": "00042",
        "name": "Café Müller",
        "legal_name": "Café Müller GmbH",
        "customer_group": "Enterprise",
        "parent_account": "",
        "website": "cafe-mueller.example.de",
        "description": "2024-03-01",  # a date cell in the workbook
    },
    {
        "account_number": "00107",
        "name": "Société Générale; Filiale",
        "customer_group": "enterprise",
        "parent_account": "00042",
        "description": 'Prix: 5 €; «citation» "quoted"\nsecond line',
    },
    {
        "account_number": "0099",
        "name": "Zoë Ñúñez",
        "customer_group": "Retail",
        "primary_contact_first_name": "Zoë",
        "primary_contact_last_name": "Ñúñez",
        "primary_contact_email": "ZOE@EXAMPLE.COM",
        "primary_contact_phone": "+34 600 000 000",
    },
]
EXPECTED_ACCOUNTS = [
    (
        "00042",
        "Café Müller",
        "Café Müller GmbH",
        "Enterprise",
        None,
        "cafe-mueller.example.de",
        "2024-03-01",
    ),
    (
        "00107",
        "Société Générale; Filiale",
        None,
        "Enterprise",
        "00042",
        None,
        'Prix: 5 €; «citation» "quoted"\nsecond line',
    ),
    ("0099", "Zoë Ñúñez", None, "Retail", None, None, None),
]
EXPECTED_CONTACTS = [("0099", "Zoë", "Ñúñez", "zoe@example.com", "+34 600 000 000", True)]


def cells() -> list[list[str]]:
    return [[record.get(column, "") for column in HEADER] for record in ACCOUNTS]


def delimited(delimiter: str) -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(cells())
    return text.getvalue()


def excel_cp1252_csv(path: Path) -> Path:
    path.write_bytes(delimited(";").encode("cp1252"))
    return path


def utf8_bom_csv(path: Path) -> Path:
    path.write_bytes(delimited(",").replace("\r\n", "\n").encode("utf-8-sig"))
    return path


def utf16_tsv(path: Path) -> Path:
    path.write_bytes(delimited("\t").encode("utf-16"))  # with a BOM, as Excel writes it
    return path


def workbook(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Accounts"
    sheet.append(HEADER)
    for row in cells():
        sheet.append([value or None for value in row])
    description = HEADER.index("description") + 1
    date_cell = sheet.cell(row=2, column=description, value=date(2024, 3, 1))
    date_cell.number_format = "yyyy-mm-dd"
    for (number,) in sheet.iter_rows(min_row=2, max_col=1):
        assert number.data_type == "s"  # "00042" stays text, as a CRM export would leave it
    book.save(path)
    return path


def json_array(path: Path) -> Path:
    records = [dict(zip(HEADER, row, strict=True)) for row in cells()]
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return path


def json_lines(path: Path) -> Path:
    lines = [json.dumps(dict(zip(HEADER, row, strict=True)), ensure_ascii=False) for row in cells()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# file name → (how to write it, what inspect must detect: format, encoding, delimiter)
FILES: dict[str, tuple[Callable[[Path], Path], tuple[str, str | None, str | None]]] = {
    "excel-cp1252-semicolon.csv": (excel_cp1252_csv, ("csv", "cp1252", ";")),
    "utf8-bom.csv": (utf8_bom_csv, ("csv", "utf-8-sig", ",")),
    "unicode-text.tsv": (utf16_tsv, ("tsv", "utf-16", "\t")),
    "crm.xlsx": (workbook, ("xlsx", None, None)),
    "accounts.json": (json_array, ("json", "utf-8", None)),
    "accounts.jsonl": (json_lines, ("jsonl", "utf-8", None)),
}


@pytest.mark.parametrize("name", list(FILES))
def test_each_saved_form_of_the_same_accounts_gives_the_same_database(
    tmp_path: Path, db_url: str, name: str
) -> None:
    seed_groups(tmp_path, db_url)
    make, detected = FILES[name]
    path = make(tmp_path / name)
    inspected = json.loads(cli("inspect", path, "--model", "Account", "--json").stdout)
    assert (inspected["format"], inspected["encoding"], inspected["delimiter"]) == detected
    assert (inspected["rows"], inspected["missing_required"]) == (3, [])
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0, run.stdout
    assert run.rows["created"] == 3
    assert (
        fetch(
            db_url,
            "SELECT a.account_number, a.name, a.legal_name, g.name, p.account_number, a.website, "
            "a.description FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
            "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
        )
        == EXPECTED_ACCOUNTS
    )
    assert (
        fetch(
            db_url,
            "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.is_primary "
            "FROM contact c JOIN account a ON a.id = c.account_id",
        )
        == EXPECTED_CONTACTS
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 40, "is not a text file"),
        (b"", "file is empty"),
    ],
    ids=["binary-garbage", "empty"],
)
def test_garbage_and_empty_files_exit_2_with_nothing_written(
    tmp_path: Path, db_url: str, content: bytes, message: str
) -> None:
    seed_groups(tmp_path, db_url)
    path = tmp_path / "accounts.csv"
    path.write_bytes(content)
    run = cli(path, "--model", "Account", "--db", db_url)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: ")
    assert message in run.stderr
    assert fetch(db_url, "SELECT count(*) FROM account") == [(0,)]
    assert not list(tmp_path.glob("import_errors_*"))
