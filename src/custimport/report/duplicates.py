"""What `duplicates` found: a table for people, a JSON array, or a CSV file (SPEC §10)."""

import json
import sys
from itertools import islice
from pathlib import Path

from rich.table import Table
from rich.text import Text

from custimport.errors import visible
from custimport.io.export_output import write_csv
from custimport.report.console import line, stdout
from custimport.service.duplicates_job import DuplicatesResult

CSV_COLUMNS = ("key_a", "key_b", "score", "reason")


SHOWN = 50  # pairs in the table on screen; -o FILE or --json has them all


def print_json(result: DuplicatesResult) -> None:
    """The JSON array, written pair by pair (a large result is never one string)."""
    out = sys.stdout
    out.write("[")
    for n, pair in enumerate(result.pairs):
        item = {"keys": list(pair.keys), "score": pair.score, "reason": pair.reason}
        out.write((", " if n else "") + json.dumps(item, ensure_ascii=False))
    out.write("]\n")


def write_pairs_csv(result: DuplicatesResult, path: Path, force: bool) -> int:
    rows = ((p.keys[0], p.keys[1], f"{p.score:.3f}", p.reason) for p in result.pairs)
    return write_csv(path, CSV_COLUMNS, rows, force)


def print_pairs(result: DuplicatesResult, written_to: Path | None) -> None:
    """The best SHOWN pairs as a table (none when they went to a file), then the count."""
    model = result.request.spec.name
    noun = "accounts" if model == "Account" else "contacts"
    count = result.count
    if count and written_to is None:
        table = Table(header_style="bold")
        for column in ("score", "key A", "key B", "reason"):
            table.add_column(column, justify="right" if column == "score" else "left")
        for pair in islice(result.pairs, SHOWN):
            cells = (f"{pair.score:.3f}", visible(pair.keys[0]), visible(pair.keys[1]), pair.reason)
            table.add_row(*map(Text, cells))
        stdout.print(table)
        if count > SHOWN:
            line(f"… and {count - SHOWN:,} more: -o FILE or --json lists them all")
    found = f"{count:,} likely duplicate pair{'' if count == 1 else 's'}"
    line(
        f"{found} among {result.records:,} {noun} (names alike from "
        f"{result.request.threshold:g}); nothing was changed."
    )
    if written_to is not None:
        line(f"Pairs written to {visible(str(written_to))}")
