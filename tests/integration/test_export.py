"""`custimport export` on both engines: what it writes imports back as every row `unchanged`.

The data is the examples plus a generated set with NULLs, unicode, quotes, commas and line
breaks in values, leading-zero account numbers, a value that looks like a formula, and
parents stored after their children. Databases are read back with SQL.
"""

import csv
import io
from pathlib import Path

import pytest

from helpers import (
    ACCOUNT_COLUMNS,
    CONTACT_COLUMNS,
    EXAMPLES,
    cli,
    execute,
    fetch,
    run_import,
    write_csv,
)

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
MODELS = ("CustomerGroup", "Account", "Contact")
GROUPS = [["Særlige kunder", "INDIVIDUAL"], ['Comma, "Quoted" & Co', "business"]]
# 00123's parent 00456 comes later in the file, and 00456's parent ZZ-9 later still: forward
# references, which the import resolves (their batch creates the parents first).
# fmt: off
ACCOUNTS = [
    ["00123", 'Quote "Q" Ltd, Comma', "", "Enterprise", "00456", "", "", "line 1\nline 2", "", "", "", ""],
    ["00456", "Semi;colon\tTab|Pipe", "#N/A", 'Comma, "Quoted" & Co', "ZZ-9", "x.example.com", "=SUM(A1)", "", "", "", "", ""],
    ["000789", "Zoë Ørsted", "", "Særlige kunder", "", "", "", "🚀 株式会社 شركة", "Zoë", "Ørsted", "", "+45 12 34"],
    ["ZZ-9", "Top", "Top Holding", "Partners", "", "https://top.example.org/a?b=1", "Holding", "", "", "", "", ""],
    ["AB 12", "Individual with email", "", "Retail Customers", "00123", "", "", "", "Ann", "Lee", "Ann.Lee@Example.com", ""],
]
CONTACTS = [
    ["00123", "Nöm", "Without Email", "", "", "", "", ""],
    ["00456", "Pri", "Mary", "pri@example.com", "+1 (555) 0100", "Chief, \"Boss\"", "", "true"],
    ["000789", "Second", "Person", "second@example.com", "", "", "Line\nbreak", "false"],
    ["AB 12", "Other", "Contact", "other@example.com", "", "", "", "no"],
]
# fmt: on


def import_ok(path: Path, model: str, db_url: str, *extra: str) -> dict[str, int]:
    run = run_import(path, model, db_url, *extra)
    assert run.exit_code == 0, run.stderr
    assert run.rows["failed"] == 0, run.stdout
    return run.rows


def load_everything(tmp_path: Path, db_url: str) -> None:
    """The examples, then the generated set: every row of it must import."""
    for name, model in [
        ("customer_groups", "CustomerGroup"),
        ("accounts", "Account"),
        ("contacts", "Contact"),
    ]:
        import_ok(EXAMPLES / f"{name}.csv", model, db_url)
    data = tmp_path / "generated"
    data.mkdir()
    import_ok(write_csv(data / "g.csv", ["name", "group_type"], GROUPS), "CustomerGroup", db_url)
    import_ok(write_csv(data / "a.csv", ACCOUNT_COLUMNS, ACCOUNTS), "Account", db_url)
    import_ok(write_csv(data / "c.csv", CONTACT_COLUMNS, CONTACTS), "Contact", db_url)


def snapshot(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every column of every row, timestamps included."""
    return {
        table: fetch(db_url, f"SELECT * FROM {table} ORDER BY id")
        for table in ("customer_group", "account", "contact")
    }


def export(db_url: str, model: str, path: Path, *extra: str) -> Path:
    run = cli("export", "--model", model, "--db", db_url, "-o", path, *extra)
    assert run.exit_code == 0, run.stderr
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_reports_every_row_unchanged_and_changes_nothing(
    tmp_path: Path, db_url: str, fmt: str
) -> None:
    load_everything(tmp_path, db_url)
    before = snapshot(db_url)
    counts = dict(zip(MODELS, map(len, before.values()), strict=True))
    assert counts == {"CustomerGroup": 6, "Account": 12, "Contact": 15}
    for model in MODELS:
        path = export(db_url, model, tmp_path / f"{model}.{fmt}")
        rows = import_ok(path, model, db_url)
        assert rows == {
            "read": counts[model],
            "created": 0,
            "updated": 0,
            "unchanged": counts[model],
            "skipped": 0,
            "failed": 0,
        }
    assert snapshot(db_url) == before


def test_export_writes_the_import_columns_with_keys_for_references(
    tmp_path: Path, db_url: str
) -> None:
    load_everything(tmp_path, db_url)
    text = export(db_url, "Account", tmp_path / "accounts.csv").read_text(encoding="utf-8")
    records = {row["account_number"]: row for row in csv.DictReader(io.StringIO(text))}
    assert list(records["00123"]) == ACCOUNT_COLUMNS
    assert records["00123"]["parent_account"] == "00456"
    assert records["00456"]["customer_group"] == 'Comma, "Quoted" & Co'
    assert records["00123"]["description"] == "line 1\nline 2"
    # only an INDIVIDUAL account carries its primary contact; ACME-001's stays in Contact
    assert [records["000789"][c] for c in ACCOUNT_COLUMNS[8:]] == ["Zoë", "Ørsted", "", "+45 12 34"]
    assert [records["AB 12"][c] for c in ACCOUNT_COLUMNS[8:]] == [
        "Ann",
        "Lee",
        "ann.lee@example.com",
        "",
    ]
    assert [records["ACME-001"][c] for c in ACCOUNT_COLUMNS[8:]] == ["", "", "", ""]
    assert fetch(
        db_url,
        "SELECT c.first_name FROM contact c JOIN account a ON a.id = c.account_id "
        "WHERE a.account_number = 'ACME-001' AND c.is_primary",
    ) == [("Wile",)]


def test_records_are_in_id_order_and_a_batch_creates_parents_before_their_children(
    tmp_path: Path, db_url: str
) -> None:
    """Export follows ids; a batch inserts the parents it creates first (so a batch written
    row by row links each child as it goes), whatever their order in the file."""
    load_everything(tmp_path, db_url)
    text = export(db_url, "Account", tmp_path / "accounts.csv").read_text(encoding="utf-8")
    numbers = [row["account_number"] for row in csv.DictReader(io.StringIO(text))]
    by_id = fetch(db_url, "SELECT account_number FROM account ORDER BY id")
    assert numbers == [number for (number,) in by_id]
    assert numbers.index("ZZ-9") < numbers.index("00456") < numbers.index("00123")


def natural_contents(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    """The data without ids and timestamps, references by key: comparable across databases."""
    return {
        "groups": fetch(db_url, "SELECT name, group_type FROM customer_group ORDER BY name"),
        "accounts": fetch(
            db_url,
            "SELECT a.account_number, a.name, a.legal_name, g.name, p.account_number, a.website, "
            "a.industry, a.description FROM account a "
            "JOIN customer_group g ON g.id = a.customer_group_id "
            "LEFT JOIN account p ON p.id = a.parent_account_id ORDER BY a.account_number",
        ),
        "contacts": fetch(
            db_url,
            "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.job_title, "
            "c.department, c.is_primary FROM contact c JOIN account a ON a.id = c.account_id "
            "ORDER BY a.account_number, c.first_name",
        ),
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_an_export_rebuilds_the_same_data_in_an_empty_database(
    tmp_path: Path, db_url: str, fmt: str
) -> None:
    load_everything(tmp_path, db_url)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    outcomes = {}
    for model in MODELS:
        rows = import_ok(export(db_url, model, tmp_path / f"{model}.{fmt}"), model, fresh)
        outcomes[model] = (rows["created"], rows["unchanged"])
    # the Account rows already made the INDIVIDUAL accounts' primary contacts
    assert outcomes == {"CustomerGroup": (6, 0), "Account": (12, 0), "Contact": (10, 5)}
    assert natural_contents(fresh) == natural_contents(db_url)


def test_carriage_returns_survive_text_formats_and_xlsx_refuses_them(
    tmp_path: Path, db_url: str
) -> None:
    """XLSX would turn a carriage return into a line feed, which the import would then
    write back as a change: it refuses the value instead (SPEC §12.6)."""
    import_ok(EXAMPLES / "customer_groups.csv", "CustomerGroup", db_url)
    rows = [
        ["CR-1", "Windows\r\nlines", "", "Partners", "", "", "", "a\rb", "", "", "", ""],
        ["CR-2", "Plain", "", "Partners", "", "", "", "", "", "", "", ""],
    ]
    import_ok(write_csv(tmp_path / "a.csv", ACCOUNT_COLUMNS, rows), "Account", db_url)
    before = snapshot(db_url)
    for fmt in ("csv", "tsv", "json", "jsonl"):
        path = export(db_url, "Account", tmp_path / f"out.{fmt}")
        assert import_ok(path, "Account", db_url)["unchanged"] == 2, fmt
    assert snapshot(db_url) == before
    run = cli("export", "--model", "Account", "--db", db_url, "-o", tmp_path / "out.xlsx")
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: row 2 (account_number 'CR-1'), column 'name'")
    assert "carriage return" in run.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_a_control_character_stops_an_xlsx_export_and_leaves_no_file(
    tmp_path: Path, db_url: str
) -> None:
    import_ok(EXAMPLES / "customer_groups.csv", "CustomerGroup", db_url)
    rows = [["V-1", "Vertical\x0btab", "", "Partners", "", "", "", "", "", "", "", ""]]
    import_ok(write_csv(tmp_path / "a.csv", ACCOUNT_COLUMNS, rows), "Account", db_url)
    run = cli("export", "--model", "Account", "--db", db_url, "-o", tmp_path / "out.xlsx")
    assert run.exit_code == 2
    assert run.stderr.startswith(
        "Error: row 2 (account_number 'V-1'), column 'name': the value holds a control character"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out"))) == []
    csv_path = export(db_url, "Account", tmp_path / "out.csv")
    assert import_ok(csv_path, "Account", db_url)["unchanged"] == 1


def test_an_empty_table_exports_a_header_that_imports_as_nothing(
    tmp_path: Path, db_url: str
) -> None:
    path = export(db_url, "Contact", tmp_path / "contacts.csv")
    assert path.read_text(encoding="utf-8") == ",".join(CONTACT_COLUMNS) + "\n"
    assert import_ok(path, "Contact", db_url)["read"] == 0


def test_more_records_than_one_fetch_stream_out_complete_and_in_order(
    tmp_path: Path, db_url: str
) -> None:
    import_ok(EXAMPLES / "customer_groups.csv", "CustomerGroup", db_url)
    execute(
        db_url,
        "INSERT INTO account (account_number, name, customer_group_id, created_at, updated_at) "
        "SELECT 'N-' || n, 'Name ' || n, (SELECT id FROM customer_group WHERE name = 'Partners'), "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM (WITH RECURSIVE s(n) AS "
        "(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 4500) SELECT n FROM s) AS numbers",
    )
    path = export(db_url, "Account", tmp_path / "many.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4500
    assert lines[0].startswith('{"account_number": "N-1", ')
    assert lines[-1].startswith('{"account_number": "N-4500", ')
    assert import_ok(path, "Account", db_url)["unchanged"] == 4500
