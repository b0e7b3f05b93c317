"""Small helpers shared by the tests: write input files, run the CLI, read the database with SQL.

Results are always read back with plain SQL, never through the code under test.
"""

import csv
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from custimport.cli import app

# the installed console script of the environment running the tests
COMMAND = shutil.which("custimport") or str(Path(sys.executable).with_name("custimport"))
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GROUPS_HEADER = ["name", "group_type"]
# every column export writes, in its order (each model's whole import format)
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
ACCOUNTS_HEADER = [
    "account_number",
    "name",
    "customer_group",
    "parent_account",
    "website",
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
    "primary_contact_phone",
]
CONTACTS_HEADER = ["account", "first_name", "last_name", "email", "phone", "is_primary"]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    @property
    def rows(self) -> dict[str, int]:
        return self.report["rows"]  # type: ignore[no-any-return]


def cli(*args: str | Path) -> Run:
    """Run the real Typer app in-process; an unexpected exception fails the test loudly."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_import(path: Path, model: str, db_url: str, *extra: str | Path) -> Run:
    return cli(path, "--model", model, "--db", db_url, "--json", "--quiet", *extra)


def fetch(db_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def execute(db_url: str, sql: str, **params: Any) -> None:
    """Change the database behind the tool's back (to set up states a file cannot make)."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


def seed_groups(tmp_path: Path, db_url: str) -> None:
    """Retail (INDIVIDUAL) and Enterprise (BUSINESS), the groups most tests need."""
    path = write_csv(
        tmp_path / "groups.csv",
        GROUPS_HEADER,
        [["Retail", "INDIVIDUAL"], ["Enterprise", "BUSINESS"], ["Partners", "BUSINESS"]],
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert run.exit_code == 0, run.stderr


def account_row(
    number: str,
    name: str = "",
    group: str = "Enterprise",
    parent: str = "",
    website: str = "",
    first: str = "",
    last: str = "",
    email: str = "",
    phone: str = "",
) -> list[str]:
    return [number, name or f"Account {number}", group, parent, website, first, last, email, phone]
