"""`custimport export` and `custimport inspect` as a user runs them: output, refusals, exit codes."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    EXAMPLES,
    GROUPS_HEADER,
    account_row,
    cli,
    execute,
    run_import,
    write_csv,
)

INSPECT_KEYS = {
    "file",
    "format",
    "encoding",
    "delimiter",
    "size_bytes",
    "rows",
    "rows_with_errors",
    "stopped_reading",
    "model",
    "model_guessed",
    "models_tied",
    "columns",
    "missing_required",
    "missing_required_message",
    "unknown_columns",
    "synonyms",
    "unused_mapping_keys",
    "models",
    "sample",
    "read_errors",
    "rules",
}


@pytest.fixture
def groups_db(tmp_path: Path, sqlite_url: str) -> str:
    run = run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", sqlite_url)
    assert run.exit_code == 0
    return sqlite_url


@pytest.mark.parametrize("command", [["export"], ["inspect"]])
def test_export_and_inspect_have_help_with_an_example(command: list[str]) -> None:
    run = cli(*command, "--help")
    assert run.exit_code == 0
    assert "Usage:" in run.stdout
    assert "Example:" in run.stdout


# --- export ------------------------------------------------------------------------------


def test_export_to_stdout_prints_only_the_data_and_counts_on_stderr(groups_db: str) -> None:
    run = cli("export", "--model", "customergroup", "--db", groups_db)
    assert run.exit_code == 0
    assert run.stdout == (
        "name,group_type\nRetail Customers,INDIVIDUAL\nEnterprise,BUSINESS\n"
        "Small Business,BUSINESS\nPartners,BUSINESS\n"
    )
    assert run.stderr == "Exported 4 CustomerGroup records as csv to stdout\n"
    quiet = cli("export", "--model", "CustomerGroup", "--db", groups_db, "--quiet")
    assert (quiet.stdout, quiet.stderr) == (run.stdout, "")


def test_the_format_follows_the_output_extension_unless_given(
    tmp_path: Path, groups_db: str
) -> None:
    assert (
        cli("export", "-m", "CustomerGroup", "--db", groups_db, "-o", tmp_path / "g.json").exit_code
        == 0
    )
    assert json.loads((tmp_path / "g.json").read_text())[0] == {
        "name": "Retail Customers",
        "group_type": "INDIVIDUAL",
    }
    run = cli("export", "-m", "CustomerGroup", "--db", groups_db, "--format", "tsv")
    assert run.stdout.startswith("name\tgroup_type\nRetail Customers\tINDIVIDUAL\n")
    odd = cli(
        "export",
        "-m",
        "CustomerGroup",
        "--db",
        groups_db,
        "-o",
        tmp_path / "g.csv",
        "--format",
        "jsonl",
    )
    assert odd.exit_code == 0
    assert "Warning: g.csv will hold jsonl: import it with --format jsonl" in odd.stderr


def test_an_existing_output_file_is_kept_unless_forced(tmp_path: Path, groups_db: str) -> None:
    target = tmp_path / "groups.csv"
    target.write_text("precious\n")
    run = cli("export", "-m", "CustomerGroup", "--db", groups_db, "-o", target)
    assert run.exit_code == 2
    assert run.stderr == f"Error: {target} already exists; use --force to replace it\n"
    assert target.read_text() == "precious\n"
    forced = cli("export", "-m", "CustomerGroup", "--db", groups_db, "-o", target, "--force")
    assert forced.exit_code == 0
    assert target.read_text().startswith("name,group_type\n")
    assert oct(target.stat().st_mode & 0o777) == "0o600"  # customer data, like the error log
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "Invoice"], "Error: unknown model 'Invoice'; use one of"),
        (["--model", "Account", "--format", "xls"], "Error: unknown format 'xls'"),
        (["--model", "Account", "--format", "xlsx"], "Error: xlsx needs an output file"),
        (["--model", "Account", "-o", "missing/folder/a.csv"], "the folder missing/folder does"),
        (["--model", "Account", "--db", "nonsense://"], "Error: unsupported database URL"),
    ],
)
def test_export_usage_problems_exit_2_with_one_line(
    groups_db: str, args: list[str], message: str
) -> None:
    run = cli("export", *(args if "--db" in args else [*args, "--db", groups_db]))
    assert run.exit_code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""


def test_export_migrates_a_new_database_and_refuses_one_behind(
    tmp_path: Path, sqlite_url: str
) -> None:
    first = cli("export", "-m", "Account", "--db", sqlite_url)
    assert first.exit_code == 0
    assert first.stdout.startswith("account_number,name,legal_name,customer_group,")
    execute(sqlite_url, "UPDATE alembic_version SET version_num = '0000'")
    behind = cli("export", "-m", "Account", "--db", sqlite_url, "-o", tmp_path / "a.csv")
    assert behind.exit_code == 2
    assert "run `custimport db upgrade`" in behind.stderr
    assert not (tmp_path / "a.csv").exists()


def test_a_reader_that_stops_early_ends_export_quietly(tmp_path: Path, groups_db: str) -> None:
    rows = [account_row(f"A-{n:05}", f"Name {n} " + "x" * 100, "Partners") for n in range(2000)]
    assert (
        run_import(
            write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows), "Account", groups_db
        ).exit_code
        == 0
    )
    with subprocess.Popen(
        [COMMAND, "export", "-m", "Account", "--db", groups_db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"account_number,")
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
    assert stderr == ""


# --- inspect -----------------------------------------------------------------------------


def inspect_json(*args: str | Path) -> dict[str, object]:
    run = cli("inspect", *args, "--json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_inspect_shows_format_rows_mapping_and_first_rows_for_a_mapped_csv() -> None:
    run = cli(
        "inspect",
        EXAMPLES / "accounts_crm_export.csv",
        "--model",
        "Account",
        "--mapping",
        EXAMPLES / "mapping.json",
    )
    assert run.exit_code == 0
    out = run.stdout
    assert "Read as: csv, encoding utf-8, delimiter ',' (comma)" in out
    assert "Rows:    2 (0 cannot be read)" in out
    assert "Model:   Account" in out
    for column, field in [("Company", "name"), ("Segment", "customer_group"), ("Web", "website")]:
        line = next(line for line in out.splitlines() if f"│ {column} " in line)
        assert f"│ {field} " in line
    notes = next(line for line in out.splitlines() if "│ Internal Notes " in line)
    assert "│ ignored " in notes
    assert "CRM-5001" in out


def test_inspect_lists_missing_required_columns_with_suggestions_and_exits_0(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "a.csv", ["Account Number", "Nam", "Colour"], [["A-1", "x", "red"]])
    run = cli("inspect", path, "--model", "account")
    assert run.exit_code == 0
    assert (
        "Cannot import as Account: required columns missing: name, customer_group "
        "(did you mean 'Nam' for name?)" in run.stdout
    )
    assert "Unknown columns (ignored on import): Nam, Colour" in run.stdout
    report = inspect_json(path, "--model", "Account")
    assert report["missing_required"] == ["name", "customer_group"]
    assert report["unknown_columns"] == ["Nam", "Colour"]
    assert report["columns"] == [
        {"column": "Account Number", "field": "account_number"},
        {"column": "Nam", "field": "unknown"},
        {"column": "Colour", "field": "unknown"},
    ]


def test_inspect_json_has_every_key_and_counts_unreadable_rows(tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    path.write_bytes(b"name;group_type\nRetail;INDIVIDUAL\nbroken\xff;x;y\nB2B;BUSINESS\n")
    report = inspect_json(path)
    assert set(report) == INSPECT_KEYS
    assert report["file"] == str(path)
    assert report["delimiter"] == ";"
    assert report["size_bytes"] == path.stat().st_size
    assert (report["rows"], report["rows_with_errors"]) == (3, 1)
    assert report["model"] == "CustomerGroup"
    assert report["model_guessed"] is True
    assert report["read_errors"] == [{"line": 3, "error": "expected 2 fields, found 3"}]
    assert report["sample"][0] == {"name": "Retail", "group_type": "INDIVIDUAL"}
    assert len(report["sample"]) == 3


def test_inspect_without_a_model_says_which_models_fit() -> None:
    report = inspect_json(EXAMPLES / "contacts.csv")
    assert report["model"] == "Contact"
    models = report["models"]
    assert isinstance(models, dict)
    assert models["Contact"] == {"fits": True, "missing_required": [], "problem": None}
    assert models["Account"]["fits"] is False
    assert models["Account"]["missing_required"] == ["name", "customer_group"]
    run = cli("inspect", EXAMPLES / "contacts.csv")
    assert "Model:   Contact (best fit; choose with --model)" in run.stdout
    assert "  Contact: required columns present" in run.stdout


def test_inspect_reads_workbooks_and_json_as_import_would(tmp_path: Path, sqlite_url: str) -> None:
    run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", sqlite_url)
    for fmt in ("xlsx", "jsonl"):
        out = tmp_path / f"groups.{fmt}"
        assert cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", out).exit_code == 0
        report = inspect_json(out)
        assert (report["format"], report["rows"], report["model"]) == (fmt, 4, "CustomerGroup")
        assert report["sample"][1] == {"name": "Enterprise", "group_type": "BUSINESS"}


def test_inspect_never_creates_or_opens_a_database(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    path = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    done = subprocess.run(
        [COMMAND, "inspect", str(path), "--model", "CustomerGroup"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "CUSTIMPORT_DATABASE_URL": f"sqlite:///{database}"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Rows:    1 (0 cannot be read)" in done.stdout
    assert not database.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv"]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"\x00\x01\x02\x03binary\x00\x00\x00" * 20, [], "is not a text file"),
        (b"", [], "file is empty"),
        (b"name\nx\n", ["--model", "Invoice"], "unknown model 'Invoice'"),
        (b"name\nx\n", ["--encoding", "klingon"], "unknown encoding 'klingon'"),
        (b"name\nx\n", ["--mapping", "absent.json"], "mapping file not found"),
    ],
)
def test_inspect_exits_2_for_unreadable_files_and_bad_options(
    tmp_path: Path, content: bytes, args: list[str], message: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    run = cli("inspect", path, *args)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: ")
    assert message in run.stderr
    assert run.stdout == ""


def test_inspect_without_a_model_refuses_a_mapping_no_model_can_take(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["Company"], [["Acme"]])
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"Company": "company_name"}')
    run = cli("inspect", path, "--mapping", mapping)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: the mapping sends 'Company' to 'company_name', which is not a field of any "
        "model (--model shows a model's fields)\n"
    )
