"""The benchmark data generator (benchmarks/generate.py) makes the files the issue describes.

A benchmark is only as good as its input: these tests pin the generator's promises
(determinism, exact columns and counts, parent references without cycles, the
invalid fraction) and prove with the real CLI that the clean files import without
a failed row and that the invalid variant fails exactly its broken rows.

The last tests cover the import-history scenarios (SPEC §8): benchmarks/run.py runs
them end to end on a small file, and the checks behind them (the run's journal,
the undo's report) reject a run that did less than it should, on both engines.
"""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
ACCOUNT_COLUMNS = [
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
CONTACT_COLUMNS = [
    "account",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "department",
    "is_primary",
]
PRIMARY_CONTACT_COLUMNS = ACCOUNT_COLUMNS[8:]
INDIVIDUAL_GROUP = "Retail Customers"


@dataclass(frozen=True)
class FileSet:
    groups: Path
    accounts: Path
    update: Path
    invalid: Path
    contacts: Path


def generate(*args: object) -> dict[str, Any]:
    """Run the generator as a user would; returns its JSON summary."""
    command = [sys.executable, str(BENCHMARKS / "generate.py"), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def custimport(cwd: Path, *args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "custimport", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def import_json(cwd: Path, db: Path, file: Path, model: str) -> dict[str, Any]:
    result = custimport(cwd, file, "--model", model, "--db", f"sqlite:///{db}", "--quiet", "--json")
    assert result.stdout, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["exit_status"] = result.returncode
    return report


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> FileSet:
    """A 300-row set: groups, accounts, their update and 5%-invalid variants, contacts."""
    root = tmp_path_factory.mktemp("benchmark-data")
    fileset = FileSet(*(root / f"{name}.csv" for name in FileSet.__dataclass_fields__))
    generate("groups", "--out", fileset.groups)
    generate("accounts", "--rows", 300, "--out", fileset.accounts)
    generate("accounts", "--rows", 300, "--variant", "update", "--out", fileset.update)
    generate("accounts", "--rows", 300, "--invalid-fraction", 0.05, "--out", fileset.invalid)
    generate(
        "contacts", "--accounts-file", fileset.accounts, "--rows", 300, "--out", fileset.contacts
    )
    return fileset


@pytest.fixture(scope="module")
def big_accounts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """2,000 rows: enough for the percentages to mean something, still instant."""
    path = tmp_path_factory.mktemp("benchmark-big") / "accounts.csv"
    generate("accounts", "--rows", 2000, "--out", path)
    return read_csv(path)[1]


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path, files: FileSet) -> None:
    again = tmp_path / "again.csv"
    for variant, original in (("create", files.accounts), ("update", files.update)):
        generate("accounts", "--rows", 300, "--variant", variant, "--out", again)
        assert again.read_bytes() == original.read_bytes()
    generate("accounts", "--rows", 300, "--invalid-fraction", 0.05, "--out", again)
    assert again.read_bytes() == files.invalid.read_bytes()
    generate("contacts", "--accounts-file", files.accounts, "--rows", 300, "--out", again)
    assert again.read_bytes() == files.contacts.read_bytes()


def test_another_seed_gives_other_rows(tmp_path: Path, files: FileSet) -> None:
    other = tmp_path / "other.csv"
    generate("accounts", "--rows", 300, "--seed", 7, "--out", other)
    assert other.read_bytes() != files.accounts.read_bytes()


def test_accounts_have_exactly_the_spec_columns_and_the_requested_rows(files: FileSet) -> None:
    for path in (files.accounts, files.update, files.invalid):
        header, rows = read_csv(path)
        assert header == ACCOUNT_COLUMNS
        assert len(rows) == 300
        assert all(None not in row for row in rows)  # no row has extra cells


def test_contacts_have_exactly_their_columns_and_the_requested_rows(files: FileSet) -> None:
    header, rows = read_csv(files.contacts)
    assert header == CONTACT_COLUMNS
    assert len(rows) == 300


def test_groups_are_one_individual_group_and_a_few_business_ones(files: FileSet) -> None:
    header, rows = read_csv(files.groups)
    assert header == ["name", "group_type"]
    kinds = Counter(row["group_type"] for row in rows)
    assert kinds["INDIVIDUAL"] == 1 and kinds["BUSINESS"] >= 2
    assert {"name": INDIVIDUAL_GROUP, "group_type": "INDIVIDUAL"} in rows


def test_a_third_of_accounts_are_individual_and_only_they_have_a_primary_contact(
    big_accounts: list[dict[str, str]],
) -> None:
    individual = [row for row in big_accounts if row["customer_group"] == INDIVIDUAL_GROUP]
    business = [row for row in big_accounts if row["customer_group"] != INDIVIDUAL_GROUP]
    assert len(individual) == pytest.approx(len(big_accounts) / 3, abs=1)
    assert all(all(row[column] for column in PRIMARY_CONTACT_COLUMNS) for row in individual)
    assert not any(row[column] for row in business for column in PRIMARY_CONTACT_COLUMNS)


def test_account_numbers_are_unique(big_accounts: list[dict[str, str]]) -> None:
    numbers = [row["account_number"] for row in big_accounts]
    assert len(set(numbers)) == len(numbers)


def test_about_five_percent_of_accounts_have_a_parent(big_accounts: list[dict[str, str]]) -> None:
    children = sum(1 for row in big_accounts if row["parent_account"])
    assert 0.035 <= children / len(big_accounts) <= 0.065


def test_parent_references_never_cycle_nor_self_refer_and_some_point_forward(
    big_accounts: list[dict[str, str]],
) -> None:
    position = {row["account_number"]: line for line, row in enumerate(big_accounts)}
    parent_of = {row["account_number"]: row["parent_account"] for row in big_accounts}
    forward = 0
    for number, parent in parent_of.items():
        if not parent:
            continue
        assert parent in position and parent != number
        forward += position[parent] > position[number]
        seen = {number}
        while parent:
            assert parent not in seen, f"cycle through {number}"
            seen.add(parent)
            parent = parent_of[parent]
    assert forward > 0


def test_the_invalid_fraction_is_respected_within_a_tolerance(
    tmp_path: Path, big_accounts: list[dict[str, str]]
) -> None:
    path = tmp_path / "invalid.csv"
    summary = generate("accounts", "--rows", 2000, "--invalid-fraction", 0.01, "--out", path)
    broken = [a for a, b in zip(big_accounts, read_csv(path)[1], strict=True) if a != b]
    assert summary["invalid"] == len(broken)
    assert 18 <= len(broken) <= 22


def test_invalid_rows_keep_their_numbers_and_valid_rows_are_untouched(files: FileSet) -> None:
    clean, invalid = read_csv(files.accounts)[1], read_csv(files.invalid)[1]
    assert [row["account_number"] for row in clean] == [row["account_number"] for row in invalid]
    broken_lines = [line for line, (a, b) in enumerate(zip(clean, invalid, strict=True)) if a != b]
    gaps = [later - earlier for earlier, later in itertools.pairwise(broken_lines)]
    assert len(broken_lines) == 15
    assert min(gaps) >= 10  # spread through the file, not bunched


def test_the_update_variant_changes_every_row_but_keeps_key_group_and_parent(
    files: FileSet,
) -> None:
    clean, update = read_csv(files.accounts)[1], read_csv(files.update)[1]
    for before, after in zip(clean, update, strict=True):
        for column in ("account_number", "customer_group", "parent_account"):
            assert before[column] == after[column]
        assert before["name"] != after["name"] and before["industry"] != after["industry"]
        if before["customer_group"] == INDIVIDUAL_GROUP:
            assert before["primary_contact_phone"] != after["primary_contact_phone"]


def test_contacts_belong_to_business_accounts_with_unique_emails_and_one_primary_at_most(
    files: FileSet,
) -> None:
    accounts = {row["account_number"]: row for row in read_csv(files.accounts)[1]}
    contacts = read_csv(files.contacts)[1]
    assert all(accounts[c["account"]]["customer_group"] != INDIVIDUAL_GROUP for c in contacts)
    keys = [(c["account"], c["email"].lower()) for c in contacts]
    assert len(set(keys)) == len(keys)
    primaries = Counter(c["account"] for c in contacts if c["is_primary"] == "yes")
    assert primaries and max(primaries.values()) == 1
    assert {c["is_primary"] for c in contacts} <= {"yes", "no", ""}


def test_the_generated_file_set_imports_without_a_failed_row_and_its_update_updates_all(
    tmp_path: Path, files: FileSet
) -> None:
    db = tmp_path / "db"
    assert import_json(tmp_path, db, files.groups, "CustomerGroup")["rows"]["failed"] == 0
    created = import_json(tmp_path, db, files.accounts, "Account")
    assert (created["exit_status"], created["rows"]["created"]) == (0, 300)
    assert created["contacts"]["created"] == 100
    contacts = import_json(tmp_path, db, files.contacts, "Contact")
    assert (contacts["exit_status"], contacts["rows"]["created"]) == (0, 300)
    updated = import_json(tmp_path, db, files.update, "Account")
    assert (updated["exit_status"], updated["rows"]["updated"]) == (0, 300)
    assert updated["contacts"]["updated"] == 100


def test_the_invalid_variant_fails_exactly_its_invalid_rows(tmp_path: Path, files: FileSet) -> None:
    db = tmp_path / "db"
    import_json(tmp_path, db, files.groups, "CustomerGroup")
    report = import_json(tmp_path, db, files.invalid, "Account")
    clean, invalid = read_csv(files.accounts)[1], read_csv(files.invalid)[1]
    broken = {b["account_number"] for a, b in zip(clean, invalid, strict=True) if a != b}
    assert report["exit_status"] == 1
    assert report["rows"]["failed"] == len(broken) == 15
    with closing(sqlite3.connect(db)) as connection:
        stored = {number for (number,) in connection.execute("SELECT account_number FROM account")}
    assert stored == {row["account_number"] for row in clean} - broken


HISTORY_SCENARIOS = "create,update,create_no_undo,update_no_undo,undo_create,undo_update"


@pytest.fixture
def on_bench_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/ on sys.path, so a test can call the benchmark's own checks."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "custimport", *map(str, args)]


def prepared(cwd: Path, url: str, files: FileSet) -> None:
    """Schema and groups, as the benchmark prepares every database."""
    for command in (
        cli("db", "upgrade", "--db", url),
        cli(files.groups, "--model", "CustomerGroup", "--db", url),
    ):
        subprocess.run(command, cwd=cwd, capture_output=True, check=True, timeout=120)


@pytest.mark.slow
def test_the_benchmark_runs_the_history_scenarios_and_checks_every_run(
    tmp_path: Path,
) -> None:
    """Exit 2 would mean a run failed or miscounted (an undo with conflicts included). The
    data folder is given relative to the folder it runs in (a relative one used to stop it:
    "data/groups.csv: no such file")."""
    out = tmp_path / "results.json"
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--rows", 300, "--repeat", 1,
               "--scenarios", HISTORY_SCENARIOS, "--data-dir", "data", "--json-out", out]  # fmt: skip
    result = subprocess.run(
        list(map(str, command)), capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["scenario"]: row for row in document["table"]}
    assert list(rows) == [*HISTORY_SCENARIOS.split(","), "undo memory"]
    assert rows["create_no_undo"]["passed"] is None and rows["update_no_undo"]["passed"] is None
    assert isinstance(rows["undo_create"]["passed"], bool)
    assert "N/10" in rows["undo_update"]["peak_note"]
    sides = {key for key in document["runs"] if key.startswith("undo_")}
    assert sides == {f"undo_{kind}/{side}" for kind in ("create", "update")
                     for side in ("import", "undo", "import/10", "undo/10")}  # fmt: skip
    assert any(note.startswith("journal cost") for note in document["notes"])
    assert "| undo_update |" in result.stdout


@pytest.mark.usefixtures("on_bench_path")
def test_an_import_whose_journal_disagrees_with_the_expectation_is_refused(
    tmp_path: Path, files: FileSet, db_url: str
) -> None:
    """The history check reads import_run and import_change with raw SQL, on both engines."""
    from checks import check_import, expect_accounts
    from databases import RunRecord, run_record
    from measure import BenchmarkError, run_measured

    prepared(tmp_path, db_url, files)
    stats = generate("accounts", "--rows", 300, "--out", tmp_path / "a.csv")
    command = cli(files.accounts, "--model", "Account", "--db", db_url, "--quiet", "--json")
    run = run_measured("create", command, tmp_path, 300)
    expected = expect_accounts(stats, "created")
    assert check_import(run, expected, db_url)["run"] == 2  # groups were run 1
    assert run_record(db_url, 2) == RunRecord("completed", "full", 400)
    with pytest.raises(BenchmarkError, match=r"\('completed', 'off', 0\)"):
        check_import(run, expected, db_url, "off")


@pytest.mark.usefixtures("on_bench_path")
def test_an_undo_that_did_less_than_the_import_or_met_a_conflict_aborts(
    tmp_path: Path, files: FileSet
) -> None:
    from checks import ExpectedUndo, check_undo, expect_accounts
    from databases import Counts
    from measure import BenchmarkError, run_measured

    url = f"sqlite:///{tmp_path / 'undo.db'}"
    prepared(tmp_path, url, files)
    stats = generate("accounts", "--rows", 300, "--out", tmp_path / "a.csv")
    for file in (files.accounts, files.update):
        command = cli(file, "--model", "Account", "--db", url, "--quiet")
        subprocess.run(command, cwd=tmp_path, capture_output=True, check=True, timeout=120)
    created = expect_accounts(stats, "created")
    conflicting = run_measured("undo", cli("undo", 2, "--json", "--db", url), tmp_path, 300)
    assert conflicting.returncode == 1  # the update changed every row the create wrote
    undo_create = ExpectedUndo(2, created.changes, 0, Counts(0, 0, 0))
    with pytest.raises(BenchmarkError, match="exit status 1"):
        check_undo(conflicting, undo_create, url)
    undo = run_measured("undo", cli("undo", 3, "--json", "--db", url), tmp_path, 300)
    accounts_only = ExpectedUndo(3, 0, 300, created.database)  # not its 100 contacts
    with pytest.raises(BenchmarkError, match="restored=400 \\(expected 300\\)"):
        check_undo(undo, accounts_only, url)
    check_undo(undo, ExpectedUndo(3, 0, 400, created.database), url)
