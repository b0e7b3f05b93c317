"""The import-history scenarios (SPEC §8) of one repetition: `--no-undo` imports and undo.

They get databases of their own, so they cannot change what the other scenarios
measure. `--no-undo` repeats the create and the update into no-undo.db: set beside
the journaled create and update, they show what the journal costs. The undo chain
runs in undo.db: create, update, undo the update, undo the create, each undo
timed against the import it reverses; then the same at N/10 rows in undo-small.db,
so the table can show that the undo's memory does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING

from checks import Expected, ExpectedUndo, check_undo, expect_accounts
from databases import Counts
from measure import run_measured

if TYPE_CHECKING:
    from datasets import DataSet
    from scenarios import Repetition

NO_UNDO = ("create_no_undo", "update_no_undo")
UNDO = ("undo_create", "undo_update")
EMPTY = Counts(0, 0, 0)


class HistoryScenarios:
    """Runs the selected history scenarios through a repetition's tools and results."""

    def __init__(self, repetition: Repetition) -> None:
        self.repetition = repetition

    def run_no_undo(self, scenarios: Collection[str]) -> None:
        """The create and update imports again, with `--no-undo`, into a database of their own.

        The create runs even when only update_no_undo was asked for: the update needs it.
        """
        if not set(NO_UNDO) & set(scenarios):
            return
        inputs = self.repetition.inputs
        url = self.repetition.fresh_sqlite("no-undo.db")
        self._import("create_no_undo", inputs.accounts, url, "created", no_undo=True)
        if "update_no_undo" in scenarios and inputs.update is not None:
            self._import("update_no_undo", inputs.update, url, "updated", no_undo=True)

    def run_undo(self, scenarios: Collection[str]) -> None:
        """The undo chain at N rows, then at N/10 (for the undo's memory)."""
        if not set(UNDO) & set(scenarios):
            return
        inputs, with_update = self.repetition.inputs, "undo_update" in scenarios
        update = inputs.update if with_update else None
        self._undo_chain(scenarios, inputs.accounts, update, "undo.db", "")
        if inputs.small is not None:
            small_update = inputs.small_update if with_update else None
            self._undo_chain(scenarios, inputs.small, small_update, "undo-small.db", "/10")

    def _undo_chain(
        self,
        scenarios: Collection[str],
        accounts: DataSet,
        update: DataSet | None,
        db_name: str,
        size: str,
    ) -> None:
        """Create, then (with `update`) update and undo the update, then undo the create.

        Undoing the update first leaves every row as the create wrote it, so undoing
        the create has no conflict to report and must delete every row it made.
        `size` ("" or "/10") goes into the sides the measurements are recorded under.
        """
        url = self.repetition.fresh_sqlite(db_name)
        created, create_run = self._import("undo_create", accounts, url, "created", size)
        if update is not None:
            updated, update_run = self._import("undo_update", update, url, "updated", size)
            undo = ExpectedUndo(update_run, 0, updated.changes, created.database)
            self._undo("undo_update", size, undo, updated.rows["updated"], url)
        if "undo_create" in scenarios:
            undo = ExpectedUndo(create_run, created.changes, 0, EMPTY)
            self._undo("undo_create", size, undo, created.rows["created"], url)

    def _import(
        self,
        scenario: str,
        data: DataSet,
        url: str,
        outcome: str,
        size: str = "",
        no_undo: bool = False,
    ) -> tuple[Expected, int]:
        """A timed, checked account import; what it was expected to do, and its run number.

        After an update the update variant's values must be in the database (counted
        with SQL), or an undo would have nothing to restore.
        """
        expected = expect_accounts(data.stats, outcome)
        if outcome == "updated":
            marks = (expected.rows["updated"], expected.contacts["updated"])
            expected = replace(expected, update_marks=marks)
        side = "custimport" if no_undo else f"import{size}"
        report = self.repetition.timed_import(
            scenario, "Account", data, url, expected, no_undo=no_undo, side=side
        )
        return expected, int(report["run"])

    def _undo(self, scenario: str, size: str, expected: ExpectedUndo, rows: int, url: str) -> None:
        """`custimport undo RUN --json`, timed; `rows` is what the run created or updated."""
        repetition = self.repetition
        command = repetition.tools.undo_command(expected.undoes, url)
        run = run_measured(f"{scenario} (undo{size})", command, repetition.workdir, rows)
        check_undo(run, expected, url)
        repetition.results.add(scenario, f"undo{size}", run)
