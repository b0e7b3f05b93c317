"""One repetition of the benchmark: fresh databases, untimed setup, timed and checked imports.

Every database starts the same way for the baseline and for custimport: schema
from `custimport db upgrade`, then the customer groups imported by custimport,
neither timed. Only the import of the measured file is timed, each in its own
process, so both sides pay interpreter start-up and CSV parsing alike.
The import-history scenarios (--no-undo, undo) are in history_scenarios.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks import Expected, check_baseline, check_import, expect_accounts, expect_contacts
from databases import is_sqlite, settle_postgres, sqlite_url, wipe_postgres
from datasets import DataSet
from history_scenarios import HistoryScenarios
from match_scenarios import run_match
from measure import Measurement, run_measured, run_setup
from rules_scenarios import run_rules

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Tools:
    """How to start the programs under test."""

    python: str
    custimport: tuple[str, ...]

    def import_command(self, file: Path, model: str, url: str, *extra: str) -> list[str]:
        return [*self.custimport, str(file), "--model", model, "--db", url, *extra]

    def undo_command(self, run: int, url: str) -> list[str]:
        return [*self.custimport, "undo", str(run), "--json", "--db", url]

    def baseline_command(self, mode: str, file: Path, url: str) -> list[str]:
        script = "baseline_sqlite.py" if is_sqlite(url) else "baseline_postgres.py"
        return [self.python, str(BENCH / script), mode, str(file), "--db", url]


@dataclass(frozen=True)
class Inputs:
    """The generated files; None where the scenario needing it was not selected."""

    groups: Path
    accounts: DataSet
    update: DataSet | None = None
    invalid: DataSet | None = None
    contacts: DataSet | None = None
    small: DataSet | None = None  # N/10 accounts, for the memory and undo scenarios
    small_update: DataSet | None = None  # their update variant, for undo_update at N/10


class Results:
    """Every measurement, by scenario and side.

    Sides: "baseline" and "custimport" (the import timed); for the undo scenarios
    "import" (the run undone), "undo" (the undo timed), and "import/10", "undo/10"
    for the same at N/10 rows.
    """

    def __init__(self) -> None:
        self.runs: defaultdict[tuple[str, str], list[Measurement]] = defaultdict(list)

    def add(self, scenario: str, side: str, run: Measurement) -> None:
        self.runs[scenario, side].append(run)
        print(
            f"  {scenario:<14} {side:<10} {run.seconds:8.2f} s {run.rows_per_s:>12,.0f} rows/s"
            f" {run.peak_rss_mb:8.1f} MiB",
            flush=True,
        )

    def get(self, scenario: str, side: str) -> list[Measurement]:
        return self.runs.get((scenario, side), [])


class Repetition:
    """Runs the selected scenarios once, in `workdir` (databases, error logs)."""

    def __init__(self, tools: Tools, inputs: Inputs, workdir: Path, results: Results) -> None:
        self.tools = tools
        self.inputs = inputs
        self.workdir = workdir
        self.results = results

    def run_sqlite(self, scenarios: Collection[str]) -> None:
        """Create (always: the other scenarios build on it), then what was asked for."""
        accounts = self.inputs.accounts
        baseline_url = self.fresh_sqlite("baseline.db")
        self._baseline("create", "accounts", accounts, baseline_url)
        url = self.fresh_sqlite("custimport.db")
        self.timed_import(
            "create", "Account", accounts, url, expect_accounts(accounts.stats, "created")
        )
        if "unchanged" in scenarios:
            expected = expect_accounts(accounts.stats, "unchanged")
            self.timed_import("unchanged", "Account", accounts, url, expected)
        if "update" in scenarios and self.inputs.update is not None:
            expected = expect_accounts(self.inputs.update.stats, "updated")
            self.timed_import("update", "Account", self.inputs.update, url, expected)
        history = HistoryScenarios(self)
        history.run_no_undo(scenarios)
        run_rules(self, scenarios)
        run_match(self, scenarios)
        if "contacts" in scenarios and self.inputs.contacts is not None:
            self._contacts(self.inputs.contacts, baseline_url, url)
        if "invalid" in scenarios and self.inputs.invalid is not None:
            self._fresh_import("invalid", self.inputs.invalid, "invalid.db")
        if "memory" in scenarios and self.inputs.small is not None:
            self._fresh_import("memory", self.inputs.small, "small.db")
        history.run_undo(scenarios)

    def run_postgres(self, url: str) -> None:
        """Create into an emptied PostgreSQL database, baseline first, then custimport."""
        accounts = self.inputs.accounts
        self._empty_postgres(url)
        self._baseline("postgres", "accounts", accounts, url)
        self._empty_postgres(url)
        self.timed_import(
            "postgres", "Account", accounts, url, expect_accounts(accounts.stats, "created")
        )

    def _contacts(self, contacts: DataSet, baseline_url: str, url: str) -> None:
        """Contacts into the databases the create scenario filled, one per side."""
        self._baseline("contacts", "contacts", contacts, baseline_url)
        expected = expect_contacts(contacts.stats, self.inputs.accounts.stats)
        self.timed_import("contacts", "Contact", contacts, url, expected)

    def _fresh_import(self, scenario: str, accounts: DataSet, db_name: str) -> None:
        url = self.fresh_sqlite(db_name)
        self.timed_import(
            scenario, "Account", accounts, url, expect_accounts(accounts.stats, "created")
        )

    def _baseline(self, scenario: str, mode: str, data: DataSet, url: str) -> None:
        """The raw baseline into a prepared database; its rows are counted like custimport's."""
        command = self.tools.baseline_command(mode, data.path, url)
        run = run_measured(f"{scenario} (baseline)", command, self.workdir, data.rows)
        if mode == "accounts":
            expected = expect_accounts(data.stats, "created")
        else:
            expected = expect_contacts(data.stats, self.inputs.accounts.stats)
        check_baseline(run, data.rows, expected.database, url)
        self.results.add(scenario, "baseline", run)

    def timed_import(
        self,
        scenario: str,
        model: str,
        data: DataSet,
        url: str,
        expected: Expected,
        no_undo: bool = False,
        side: str = "custimport",
        extra: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """The timed import, checked (report, database, history); returns its JSON report."""
        extra = ("--no-undo", *extra) if no_undo else extra
        command = self.tools.import_command(data.path, model, url, "--quiet", "--json", *extra)
        run = run_measured(f"{scenario} ({side})", command, self.workdir, data.rows)
        report = check_import(run, expected, url, "off" if no_undo else "full")
        self.results.add(scenario, side, run)
        return report

    def fresh_sqlite(self, name: str) -> str:
        """A new SQLite database in the work directory, prepared; its URL."""
        path = self.workdir / name
        path.unlink(missing_ok=True)
        url = sqlite_url(path)
        self._prepare(url)
        return url

    def _empty_postgres(self, url: str) -> None:
        wipe_postgres(url)
        self._prepare(url)
        if not settle_postgres(url):
            print("  note: no CHECKPOINT before the run (the role lacks pg_checkpoint)", flush=True)

    def _prepare(self, url: str) -> None:
        """Schema and customer groups, untimed; idempotent, so preparing twice is harmless."""
        run_setup([*self.tools.custimport, "db", "upgrade", "--db", url], self.workdir)
        groups = self.tools.import_command(self.inputs.groups, "CustomerGroup", url, "--quiet")
        run_setup(groups, self.workdir)
