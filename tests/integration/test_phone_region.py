"""--phone-region CC (SPEC §11): valid numbers stored in E.164, others as given and counted."""

from pathlib import Path

from helpers import CONTACTS_HEADER, fetch, run_import, seed_groups, write_csv

ACCOUNT_HEADER = ["account_number", "name", "customer_group", "primary_contact_first_name"]
ACCOUNT_HEADER += ["primary_contact_last_name", "primary_contact_phone"]


def test_valid_numbers_are_stored_in_e164_and_the_others_as_given(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    accounts = write_csv(
        tmp_path / "a.csv",
        ACCOUNT_HEADER,
        [
            ["P-1", "One", "Retail", "Ann", "Lee", "020 7946 0018"],  # national, GB
            ["P-2", "Two", "Retail", "Bo", "Ng", "+49 30 901820"],  # its own + prefix
            ["P-3", "Three", "Retail", "Cy", "Oh", "ext. 12 only"],
            ["P-4", "Four", "Enterprise", "", "", ""],
        ],
    )
    run = run_import(accounts, "Account", db_url, "--phone-region", "gb")

    assert run.exit_code == 0, run.stderr
    phones = fetch(
        db_url,
        "SELECT a.account_number, c.phone FROM contact c JOIN account a ON a.id = c.account_id "
        "ORDER BY a.account_number",
    )
    assert phones == [("P-1", "+442079460018"), ("P-2", "+4930901820"), ("P-3", "ext. 12 only")]
    assert run.report["warnings"] == [
        "1 phone number is no valid number for region GB (nor with their own + prefix): "
        "stored as given"
    ]
    again = run_import(accounts, "Account", db_url, "--phone-region", "GB")
    assert again.rows["unchanged"] == 4  # the file's numbers compare as they are stored

    contacts = write_csv(
        tmp_path / "c.csv",
        CONTACTS_HEADER,
        [
            ["P-4", "Dee", "Fox", "dee@x.example", "555-0100", ""],  # too short: no area code
            ["P-4", "Eve", "Gil", "eve@x.example", "212 736 5000", ""],
        ],
    )
    run = run_import(contacts, "Contact", db_url, "--phone-region", "US")
    assert run.exit_code == 0, run.stderr
    assert fetch(db_url, "SELECT phone FROM contact WHERE account_id = "
                 "(SELECT id FROM account WHERE account_number = 'P-4') ORDER BY email") == [
        ("555-0100",), ("+12127365000",)
    ]  # fmt: skip
    assert "1 phone number is no valid number for region US" in run.report["warnings"][0]


def test_without_a_region_phones_are_stored_as_given(sqlite_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, sqlite_url)
    rows = [["N-1", "One", "Retail", "Ann", "Lee", "020 7946 0018"]]
    run = run_import(write_csv(tmp_path / "a.csv", ACCOUNT_HEADER, rows), "Account", sqlite_url)
    assert run.exit_code == 0 and run.report["warnings"] == []
    assert fetch(sqlite_url, "SELECT phone FROM contact") == [("020 7946 0018",)]


def test_an_unknown_region_is_a_usage_error(sqlite_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ACCOUNT_HEADER, [["N-1", "One", "Retail", "A", "B", ""]])
    run = run_import(path, "Account", sqlite_url, "--phone-region", "UK")
    assert run.exit_code == 2
    assert "unknown phone region 'UK': give a two-letter ISO country code" in run.stderr


def test_rows_not_read_under_max_errors_are_not_counted(sqlite_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, sqlite_url)
    rows = [
        ["M-1", "One", "Retail", "Ann", "Lee", "bad 1"],
        ["M-2", "", "Retail", "Bo", "Ng", "bad 2"],  # fails: the import stops here
        ["M-3", "Three", "Retail", "Cy", "Oh", "bad 3"],
    ]
    path = write_csv(tmp_path / "a.csv", ACCOUNT_HEADER, rows)
    run = run_import(path, "Account", sqlite_url, "--phone-region", "GB", "--max-errors", "1")
    assert run.rows["read"] == 2 and run.rows["created"] == 1
    assert run.report["warnings"][0].startswith("1 phone number is no valid number")
