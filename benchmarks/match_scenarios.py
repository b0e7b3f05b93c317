"""The matching scenario (SPEC §10, issue 16): re-importing accounts matched on name.

match_name: the accounts file with every name made unique (the generator repeats
names: "Acme Holdings" twice would be an ambiguous match, not a benchmark of one),
created by account_number (side "create", not reported), then re-imported twice,
unchanged rows each time: matched on account_number (side "by_number"), and with
`--match-on name` (side "custimport": the first such import, which computes the
stored keys of every account first, since the create by number left them NULL),
and again (side "by_name_again": the keys are all there). Reported: the --match-on
rates against the by-number one (target >= 0.5x) and the peak RSS (<= 200 MiB).
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from typing import TYPE_CHECKING

from checks import expect_accounts
from datasets import DataSet

if TYPE_CHECKING:
    from scenarios import Repetition

MATCH = ("match_name",)


def unique_names(data: DataSet, repetition: Repetition) -> DataSet:
    """The file with each name followed by its account number (one pass, streamed)."""
    path = repetition.workdir / "accounts-unique-names.csv"
    with (
        data.path.open(newline="", encoding="utf-8") as source,
        path.open("w", newline="", encoding="utf-8") as target,
    ):
        reader, writer = csv.reader(source), csv.writer(target)
        header = next(reader)
        writer.writerow(header)
        number, name = header.index("account_number"), header.index("name")
        for row in reader:
            if row[name]:
                row[name] = f"{row[name]} {row[number]}"
            writer.writerow(row)
    return DataSet(path, data.stats)


def run_match(repetition: Repetition, scenarios: Collection[str]) -> None:
    if "match_name" not in scenarios:
        return
    data = unique_names(repetition.inputs.accounts, repetition)
    url = repetition.fresh_sqlite("match_name.db")
    created = expect_accounts(data.stats, "created")
    repetition.timed_import("match_name", "Account", data, url, created, side="create")
    unchanged = expect_accounts(data.stats, "unchanged")
    repetition.timed_import("match_name", "Account", data, url, unchanged, side="by_number")
    by_name = ("--match-on", "name")
    repetition.timed_import("match_name", "Account", data, url, unchanged, extra=by_name)
    repetition.timed_import(
        "match_name", "Account", data, url, unchanged, side="by_name_again", extra=by_name
    )
