"""CRM exports import without a mapping file; `inspect --suggest-mapping` (SPEC §11).

The files are shaped as Salesforce and HubSpot export them: their own headers, columns
we do not store, and the columns the synonyms must recognise.
"""

import json
from pathlib import Path

import pytest

from helpers import cli, fetch, run_import, seed_groups, write_csv

SALESFORCE_HEADER = [
    "Account ID",
    "Account Name",
    "Account Number",
    "Type",
    "Parent Account",
    "Industry",
    "Website",
    "Phone",
    "Billing City",
    "Billing Country",
    "Account Description",
    "Account Owner",
]
SALESFORCE_ROWS = [
    ["0015g00000AbCdEAAV", "Acme Corp", "SF-1001", "Customer - Direct", "", "Manufacturing",
     "https://acme.example", "+1 415 555 0100", "San Francisco", "USA", "Widgets", "J. Smith"],
    ["0015g00000AbCdFAAV", "Globex", "SF-1002", "Prospect", "", "Energy",
     "globex.example", "+1 212 555 0101", "New York", "USA", "", "J. Smith"],
    ["0015g00000AbCdGAAV", "Initech", "SF-1003", "Customer - Channel", "", "Technology",
     "www.initech.example", "", "Austin", "USA", "Software", "M. Bolton"],
    ["0015g00000AbCdHAAV", "Umbrella", "SF-1004", "Partner", "", "Pharmaceuticals",
     "", "+44 20 7946 0000", "London", "UK", "", "A. Wesker"],
    ["0015g00000AbCdIAAV", "Stark Industries", "SF-1005", "Customer - Direct", "", "Defense",
     "stark.example", "", "Los Angeles", "USA", "Arms", "P. Potts"],
]  # fmt: skip
HUBSPOT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Mobile Phone Number",
    "Job Title",
    "Associated Company",
    "Account Number",  # a custom property, synced from the ERP
    "Contact owner",
    "Lifecycle Stage",
    "Create Date",
]
HUBSPOT_ROWS = [
    ["101", "Ada", "Lovelace", "Ada@Acme.example", "+1 415 555 0200", "+1 415 555 0299",
     "CTO", "Acme Corp", "SF-1001", "J. Smith", "customer", "2024-01-03 10:00"],
    ["102", "Alan", "Turing", "alan@acme.example", "+1 415 555 0201", "",
     "Researcher", "Acme Corp", "SF-1001", "J. Smith", "customer", "2024-01-04 11:00"],
    ["103", "Grace", "Hopper", "grace@globex.example", "", "+1 212 555 0298",
     "Rear Admiral", "Globex", "SF-1002", "J. Smith", "lead", "2024-02-01 09:30"],
    ["104", "Linus", "Torvalds", "linus@initech.example", "+1 512 555 0202", "",
     "", "Initech", "SF-1003", "M. Bolton", "opportunity", "2024-03-15 14:45"],
    ["105", "Margaret", "Hamilton", "", "+1 512 555 0203", "",
     "Director", "Initech", "SF-1003", "M. Bolton", "customer", "2024-03-16 08:00"],
    ["106", "Barbara", "Liskov", "barbara@stark.example", "", "",
     "Engineer", "Stark Industries", "SF-1005", "P. Potts", "subscriber", "2024-04-01 12:00"],
]  # fmt: skip


def salesforce_accounts(tmp_path: Path, db_url: str) -> Path:
    """The Salesforce export, imported into a database with its groups (Enterprise the
    default: Salesforce has no customer group column)."""
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "sf_accounts.csv", SALESFORCE_HEADER, SALESFORCE_ROWS)
    run = run_import(path, "Account", db_url, "--default", "customer_group=Enterprise")
    assert run.exit_code == 0, run.stderr
    assert run.rows["created"] == len(SALESFORCE_ROWS)
    return path


def test_a_salesforce_account_export_imports_without_a_mapping_file(
    tmp_path: Path, db_url: str
) -> None:
    path = salesforce_accounts(tmp_path, db_url)
    rows = fetch(
        db_url,
        "SELECT account_number, name, industry, website, description FROM account"
        " ORDER BY account_number",
    )
    assert rows[0] == ("SF-1001", "Acme Corp", "Manufacturing", "https://acme.example", "Widgets")
    assert [r[1] for r in rows] == [r[1] for r in SALESFORCE_ROWS]
    assert rows[3][3:] == (None, None)
    run = run_import(path, "Account", db_url, "--default", "customer_group=Enterprise")
    assert run.report["synonyms"] == {
        "Account Name": "name",
        "Account Description": "description",
    }
    assert run.report["unknown_columns"] == [
        "Account ID",
        "Type",
        "Phone",
        "Billing City",
        "Billing Country",
        "Account Owner",
    ]
    assert run.rows["unchanged"] == len(SALESFORCE_ROWS)


def test_a_hubspot_contacts_export_imports_without_a_mapping_file(
    tmp_path: Path, db_url: str
) -> None:
    salesforce_accounts(tmp_path, db_url)
    path = write_csv(tmp_path / "hubspot_contacts.csv", HUBSPOT_HEADER, HUBSPOT_ROWS)
    run = run_import(path, "Contact", db_url)
    assert run.exit_code == 0, run.stderr
    assert run.rows["created"] == len(HUBSPOT_ROWS)
    # Phone Number is preferred to Mobile Phone Number, which stays an unknown column
    assert run.report["synonyms"] == {"Phone Number": "phone", "Account Number": "account"}
    assert "Mobile Phone Number" in run.report["unknown_columns"]
    rows = fetch(
        db_url,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.job_title"
        " FROM contact c JOIN account a ON a.id = c.account_id ORDER BY c.first_name",
    )
    assert rows[0] == ("SF-1001", "Ada", "Lovelace", "ada@acme.example", "+1 415 555 0200", "CTO")
    grace = next(r for r in rows if r[1] == "Grace")
    assert grace[4] is None  # her mobile number is not her phone
    assert len(rows) == len(HUBSPOT_ROWS)


def test_the_summary_lists_the_columns_matched_by_synonym(tmp_path: Path, sqlite_url: str) -> None:
    seed_groups(tmp_path, sqlite_url)
    path = write_csv(tmp_path / "a.csv", ["Company", "Sector", "Group"], [["Acme", "Mining", "Enterprise"]])  # fmt: skip
    run = cli(path, "--model", "Account", "--db", sqlite_url)
    assert run.exit_code == 0, run.stderr
    assert (
        "Columns matched by synonym: Company → name, Sector → industry, Group → customer_group"
        in run.stdout
    )
    assert fetch(sqlite_url, "SELECT name, industry FROM account") == [("Acme", "Mining")]


def test_a_synonym_colliding_with_a_field_column_stays_unknown(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    header = ["account_number", "Account Name", "name", "customer_group"]
    path = write_csv(tmp_path / "a.csv", header, [["A-1", "Not me", "Acme", "Enterprise"]])
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0, run.stderr
    assert (run.report["synonyms"], run.report["unknown_columns"]) == ({}, ["Account Name"])
    assert fetch(db_url, "SELECT name FROM account") == [("Acme",)]


# --- inspect --suggest-mapping -----------------------------------------------------------

ABBREVIATED_HEADER = ["Acct No", "Acct Nm", "Cust Grp", "Web", "Sector", "Billing City"]
ABBREVIATED_ROWS = [
    ["C-1", "Acme", "Enterprise", "acme.example", "Mining", "Paris"],
    ["C-2", "Globex", "Partners", "globex.example", "Energy", "Lyon"],
]


def test_a_suggested_mapping_names_every_column_and_imports_as_it_is(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "crm.csv", ABBREVIATED_HEADER, ABBREVIATED_ROWS)
    out = tmp_path / "mapping.json"
    run = cli("inspect", path, "--model", "Account", "--suggest-mapping", out)
    assert run.exit_code == 0, run.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == {
        "columns": {
            "Acct No": "account_number",
            "Acct Nm": "name",
            "Cust Grp": "customer_group",
            "Web": "website",
            "Sector": "industry",
            "Billing City": None,
        }
    }
    assert "Suggested mapping for Account written to" in run.stdout
    assert "Acct Nm → name (suggested, 80%)" in run.stdout
    assert "null (not imported): Billing City" in run.stdout
    imported = run_import(path, "Account", db_url, "--mapping", out)
    assert imported.exit_code == 0, imported.stderr
    assert fetch(
        db_url,
        "SELECT a.account_number, a.name, g.name, a.website, a.industry FROM account a"
        " JOIN customer_group g ON g.id = a.customer_group_id ORDER BY a.account_number",
    ) == [
        ("C-1", "Acme", "Enterprise", "acme.example", "Mining"),
        ("C-2", "Globex", "Partners", "globex.example", "Energy"),
    ]


def test_without_a_model_the_suggestion_is_for_the_best_fit_and_says_so(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_csv(tmp_path / "hubspot.csv", HUBSPOT_HEADER, HUBSPOT_ROWS)
    out = tmp_path / "mapping.json"
    run = cli("inspect", path, "--suggest-mapping", out)
    assert run.exit_code == 0, run.stderr
    assert "Suggested mapping for Contact (best fit; choose with --model)" in run.stdout
    columns = json.loads(out.read_text(encoding="utf-8"))["columns"]
    assert list(columns) == HUBSPOT_HEADER
    assert columns["Phone Number"] == "phone"
    assert columns["Mobile Phone Number"] is None  # phone has its column
    salesforce_accounts(tmp_path, sqlite_url)
    imported = run_import(path, "Contact", sqlite_url, "--mapping", out)
    assert (imported.exit_code, imported.rows["created"]) == (0, len(HUBSPOT_ROWS))


def test_policies_and_defaults_given_to_inspect_go_into_the_suggested_file(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = write_csv(tmp_path / "sf.csv", SALESFORCE_HEADER, SALESFORCE_ROWS)
    out = tmp_path / "mapping.json"
    args = ["--default", "customer_group=Enterprise", "--policy", "website=if_empty"]
    run = cli("inspect", path, "-m", "Account", *args, "--suggest-mapping", out)
    assert run.exit_code == 0, run.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["defaults"] == {"customer_group": "Enterprise"}
    assert written["policies"] == {"website": "if_empty"}
    seed_groups(tmp_path, sqlite_url)
    imported = run_import(path, "Account", sqlite_url, "--mapping", out)
    assert (imported.exit_code, imported.rows["created"]) == (0, len(SALESFORCE_ROWS))


def test_inspect_says_what_the_suggestion_still_lacks(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sf.csv", SALESFORCE_HEADER, SALESFORCE_ROWS)
    out = tmp_path / "mapping.json"
    run = cli("inspect", path, "--model", "Account", "--suggest-mapping", out, "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    suggestion = report["suggested_mapping"]
    assert suggestion["model"] == "Account"
    assert suggestion["missing_required"] == ["customer_group"]
    assert [c["column"] for c in suggestion["columns"]] == SALESFORCE_HEADER
    how = {c["column"]: c["how"] for c in suggestion["columns"]}
    assert (how["Account Name"], how["Account Number"], how["Phone"]) == ("synonym", "name", "none")
    assert report["synonyms"] == {"Account Name": "name", "Account Description": "description"}


def test_inspect_marks_synonym_matches_in_its_column_table(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sf.csv", SALESFORCE_HEADER, SALESFORCE_ROWS)
    run = cli("inspect", path, "--model", "Account")
    line = next(line for line in run.stdout.splitlines() if "│ Account Name " in line)
    assert "│ name (synonym) " in line
    plain = next(line for line in run.stdout.splitlines() if "│ Industry " in line)
    assert "synonym" not in plain


@pytest.mark.parametrize("existing", ["file", "input"])
def test_suggest_mapping_refuses_an_existing_file_before_reading(
    tmp_path: Path, existing: str
) -> None:
    path = write_csv(tmp_path / "crm.csv", ABBREVIATED_HEADER, ABBREVIATED_ROWS)
    out = tmp_path / "mapping.json"
    out.write_text("keep me", encoding="utf-8")
    target = out if existing == "file" else path
    before = target.read_bytes()
    run = cli("inspect", path, "-m", "Account", "--suggest-mapping", target)
    assert run.exit_code == 2
    assert run.stderr == f"Error: {target} already exists; name a new file\n"
    assert run.stdout == ""
    assert target.read_bytes() == before


def test_suggest_mapping_refuses_a_missing_folder_and_an_empty_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ABBREVIATED_HEADER, ABBREVIATED_ROWS)
    missing = tmp_path / "nowhere" / "mapping.json"
    run = cli("inspect", path, "--suggest-mapping", missing)
    assert (run.exit_code, run.stdout) == (2, "")
    assert "does not exist" in run.stderr
    empty = cli("inspect", path, "--suggest-mapping", "")
    assert (empty.exit_code, empty.stderr) == (2, "Error: --suggest-mapping needs a file name\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.csv"]


def test_the_suggestion_is_written_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ABBREVIATED_HEADER, ABBREVIATED_ROWS)
    run = cli("inspect", path, "-m", "Account", "--suggest-mapping", tmp_path / "m.json")
    assert run.exit_code == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.csv", "m.json"]
    assert (tmp_path / "m.json").stat().st_mode & 0o077 == 0  # private, as every output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_suggestion_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ABBREVIATED_HEADER, ABBREVIATED_ROWS)
    run = cli("inspect", path, "-m", "Account", "--suggest-mapping", "/dev/full", "--json")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == "Error: cannot write /dev/full: no space left on device\n"
