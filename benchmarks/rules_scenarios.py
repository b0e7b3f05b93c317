"""The change-control scenarios (SPEC §9): the update under rules, and with --changes.

Each gets a database of its own: the create (checked, timed as side "create", not
reported), then the same every-row-changed update as the `update` scenario with

- update_rules: `--empty-cells keep` and policies on every field the update file does
  not change (so every row goes through the rules, and the outcome is the plain
  update's): its rate against the plain update's (the issue: at most 10% slower);
- update_changes: `--changes FILE`: its rate against the raw create baseline (the
  issue: still >= 0.5x) and against the plain update's.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from checks import expect_accounts

if TYPE_CHECKING:
    from scenarios import Repetition

RULE_OPTIONS = (
    "--empty-cells", "keep",
    "--policy", "legal_name=if_empty",
    "--policy", "website=on_create",
    "--policy", "customer_group=on_create",
    "--policy", "primary_contact_email=if_empty",
)  # fmt: skip
RULES = ("update_rules", "update_changes")


def run_rules(repetition: Repetition, scenarios: Collection[str]) -> None:
    inputs = repetition.inputs
    for scenario in RULES:
        if scenario not in scenarios or inputs.update is None:
            continue
        url = repetition.fresh_sqlite(f"{scenario}.db")
        created = expect_accounts(inputs.accounts.stats, "created")
        repetition.timed_import(scenario, "Account", inputs.accounts, url, created, side="create")
        changes = repetition.workdir / f"{scenario}-changes.csv"
        changes.unlink(missing_ok=True)
        extra = RULE_OPTIONS if scenario == "update_rules" else ("--changes", str(changes))
        updated = expect_accounts(inputs.update.stats, "updated")
        repetition.timed_import(scenario, "Account", inputs.update, url, updated, extra=extra)
        changes.unlink(missing_ok=True)
