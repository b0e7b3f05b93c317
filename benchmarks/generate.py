"""Deterministic benchmark data: customer groups, accounts and contacts as CSV.

    python benchmarks/generate.py groups --out groups.csv
    python benchmarks/generate.py accounts --rows 1000000 --out accounts.csv \
        [--seed 1] [--invalid-fraction 0.01] [--variant create|update]
    python benchmarks/generate.py contacts --accounts-file accounts.csv --rows 1000000 \
        --out contacts.csv [--seed 1]

Standard library only, so the data can be made where custimport is not installed.
Rows are written as they are produced (memory stays flat at any size) into a
temporary file that is renamed at the end, so an interrupted run never leaves a
truncated file behind for `run.py`'s cache to trust. Prints what it wrote as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from accounts_data import ACCOUNT_COLUMNS, GROUPS, AccountStats, Layout, account_rows, invalid_rows
from contacts_data import CONTACT_COLUMNS, ContactStats, contact_rows

DEFAULT_SEED = 20_240_601
MAX_ROWS = 10**8  # account numbers have eight digits


def generate_groups(out: Path) -> int:
    """The groups every accounts file refers to: one INDIVIDUAL, a few BUSINESS."""
    _write_csv(out, ("name", "group_type"), ([name, kind] for name, kind in GROUPS))
    return len(GROUPS)


def generate_accounts(
    out: Path,
    rows: int,
    seed: int = DEFAULT_SEED,
    invalid_fraction: float = 0.0,
    variant: str = "create",
) -> AccountStats:
    """Write `rows` accounts; the same (rows, seed) always gives the same keys and parents."""
    stats = AccountStats()
    broken = invalid_rows(rows, invalid_fraction)
    _write_csv(out, ACCOUNT_COLUMNS, account_rows(Layout(rows, seed), variant, broken, stats))
    return stats


def generate_contacts(
    out: Path, accounts_file: Path, rows: int, seed: int = DEFAULT_SEED
) -> ContactStats:
    """Write `rows` contacts attached to the BUSINESS accounts of `accounts_file`."""
    stats = ContactStats()
    _write_csv(out, CONTACT_COLUMNS, contact_rows(accounts_file, rows, seed, stats))
    return stats


def _write_csv(out: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    partial = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="kind", required=True)
    groups = commands.add_parser("groups", help="customer groups (fixed content)")
    groups.add_argument("--out", type=Path, required=True, help="CSV file to write")
    accounts = commands.add_parser("accounts", help="accounts, SPEC §1 columns")
    accounts.add_argument("--rows", type=_row_count, required=True, help="data rows to write")
    accounts.add_argument("--out", type=Path, required=True, help="CSV file to write")
    accounts.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same bytes")
    accounts.add_argument(
        "--invalid-fraction",
        type=_fraction,
        default=0.0,
        help="share of rows the validator must reject, evenly spread (0-0.5)",
    )
    accounts.add_argument(
        "--variant",
        choices=("create", "update"),
        default="create",
        help="update: same keys, changed values, to import after the create file",
    )
    contacts = commands.add_parser("contacts", help="contacts of an accounts file's accounts")
    contacts.add_argument(
        "--accounts-file", type=Path, required=True, help="a clean generated accounts file"
    )
    contacts.add_argument("--rows", type=_row_count, required=True, help="data rows to write")
    contacts.add_argument("--out", type=Path, required=True, help="CSV file to write")
    contacts.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same bytes")
    return parser


def _row_count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_ROWS}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError("must be between 0 and 0.5")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    summary: dict[str, object]
    if args.kind == "groups":
        summary = {"rows": generate_groups(args.out)}
    elif args.kind == "accounts":
        stats = generate_accounts(
            args.out, args.rows, args.seed, args.invalid_fraction, args.variant
        )
        summary = asdict(stats)
    else:
        if not args.accounts_file.is_file():
            print(f"error: no such accounts file: {args.accounts_file}", file=sys.stderr)
            return 2
        try:
            contacts = generate_contacts(args.out, args.accounts_file, args.rows, args.seed)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        summary = asdict(contacts)
    print(json.dumps({"file": str(args.out), **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
