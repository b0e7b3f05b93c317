"""Synthetic contact rows for the BUSINESS accounts of a generated accounts file.

The accounts file is streamed twice (count, then emit) rather than loaded, so a
million accounts cost no memory. Contacts go only to BUSINESS accounts: on an
INDIVIDUAL account the account row owns the one primary contact (SPEC §4), and
this file measures plain contact imports, not that rule.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import words
from accounts_data import INDIVIDUAL_GROUP

CONTACT_COLUMNS = (
    "account",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "department",
    "is_primary",
)
_JOB_TITLES = ("Buyer", "CFO", "Office Manager", "Engineer", "Sales Lead", "Head of IT")
_DEPARTMENTS = ("Procurement", "Finance", "Operations", "R&D", "Sales", "IT")


@dataclass
class ContactStats:
    """What a generated contacts file contains, so a run can check an import's counts."""

    rows: int = 0
    business_accounts: int = 0
    primary: int = 0


def business_accounts(accounts_file: Path) -> Iterator[str]:
    """Account numbers of the file's BUSINESS rows, in file order."""
    with accounts_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        number_at, group_at = header.index("account_number"), header.index("customer_group")
        for row in reader:
            number = row[number_at].strip()
            if number and row[group_at].strip().lower() != INDIVIDUAL_GROUP.lower():
                yield number


def contact_rows(
    accounts_file: Path, rows: int, seed: int, stats: ContactStats
) -> Iterator[list[str]]:
    """`rows` contacts spread evenly over the business accounts (each account's together).

    Every other account gets a primary contact (its first one), so at most one
    contact per account says "yes"; the rest say "no" or leave the cell empty.
    """
    total = sum(1 for _ in business_accounts(accounts_file))
    if total == 0:
        raise ValueError(f"{accounts_file} has no BUSINESS accounts to attach contacts to")
    stats.business_accounts = total
    rng = random.Random(seed)
    for rank, number in enumerate(business_accounts(accounts_file)):
        share = (rank + 1) * rows // total - rank * rows // total
        for position in range(share):
            primary = position == 0 and rank % 2 == 0
            stats.primary += primary
            yield _contact(rng, number, stats.rows, primary)
            stats.rows += 1


def _contact(rng: random.Random, account: str, k: int, primary: bool) -> list[str]:
    """One contact; the running number `k` makes every email, hence every key, unique."""
    first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
    email = f"{first}.{last}.{k}@example.com".lower()
    phone = f"+1 555 {rng.randrange(10**7):07d}" if rng.random() < 0.8 else ""
    flag = "yes" if primary else ("no" if k % 2 else "")
    return [
        account,
        first,
        last,
        email,
        phone,
        rng.choice(_JOB_TITLES),
        rng.choice(_DEPARTMENTS),
        flag,
    ]
