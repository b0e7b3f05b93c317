"""Synthetic account rows (SPEC §1 columns) for the benchmarks, deterministic per seed.

The structure of row `i` (its group, its parent, whether the invalid variant breaks
it) is a pure function of `i`, the seed and the row count, so the update and invalid
variants agree with the create file row for row and nothing but the current row is
held in memory. Cell values come from one seeded `random.Random` stream that every
variant consumes identically; variants only transform the finished clean row.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import words

ACCOUNT_COLUMNS = (
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
)
INDIVIDUAL_GROUP = "Retail Customers"
BUSINESS_GROUPS = ("Enterprise", "Small Business", "Partners", "Public Sector")
GROUPS = ((INDIVIDUAL_GROUP, "INDIVIDUAL"), *((name, "BUSINESS") for name in BUSINESS_GROUPS))
# Only "anchor" rows (every tenth) can be parents. Anchors never have a parent, so
# no chain can loop back, and never turn invalid, so no valid row loses its parent.
ANCHOR_EVERY = 10
CHILD_ONE_IN = 18  # 9 of 10 rows are not anchors: 0.9 / 18 = 5% of all rows have a parent
FORWARD_ONE_IN = 5  # a fifth of the parent references point further down the file
INVALID_KINDS = ("bad email", "website with spaces", "name too long", "empty name")
_NUMBER_SPACE = 10**8  # account numbers are an affine permutation of 0..10**8-1
_MASK64 = (1 << 64) - 1


@dataclass
class AccountStats:
    """What a generated accounts file contains, so a run can check an import's counts."""

    rows: int = 0
    individual: int = 0
    children: int = 0
    forward: int = 0
    invalid: int = 0
    invalid_individual: int = 0
    invalid_children: int = 0
    invalid_kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Row-index arithmetic shared by every variant of one (seed, rows) file."""

    rows: int
    seed: int

    def is_individual(self, i: int) -> bool:
        return i % 3 == 0

    def account_number(self, i: int) -> str:
        """Unique (a bijection of the index), but not in file order, like real key spaces."""
        multiplier = 48_271 + 10 * (self.seed % 1000)  # ends in 1: coprime with 10**8
        return f"AC{(multiplier * i + self.seed) % _NUMBER_SPACE:08d}"

    def parent_index(self, i: int) -> int | None:
        """The anchor row this row hangs under, or None (about 95% of rows)."""
        if i % ANCHOR_EVERY == 0:
            return None
        mixed = _mix(self.seed, i)
        if mixed % CHILD_ONE_IN:
            return None
        block = i // ANCHOR_EVERY  # anchors 0..block are at or before i (never i itself)
        later = (self.rows - 1) // ANCHOR_EVERY - block
        if later > 0 and (mixed >> 8) % FORWARD_ONE_IN == 0:
            return ANCHOR_EVERY * (block + 1 + (mixed >> 16) % later)
        return ANCHOR_EVERY * ((mixed >> 16) % (block + 1))


def invalid_rows(rows: int, fraction: float) -> dict[int, str]:
    """Row index → how it is broken: round(rows * fraction) non-anchor rows, evenly spaced."""
    candidates = rows - (rows + ANCHOR_EVERY - 1) // ANCHOR_EVERY
    count = min(round(rows * fraction), candidates)
    chosen: dict[int, str] = {}
    for m in range(count):
        rank = int((m + 0.5) * candidates / count)  # rank among the non-anchor rows
        per_block = ANCHOR_EVERY - 1
        index = ANCHOR_EVERY * (rank // per_block) + rank % per_block + 1
        chosen[index] = INVALID_KINDS[m % len(INVALID_KINDS)]
    return chosen


def account_rows(
    layout: Layout, variant: str, invalid: dict[int, str], stats: AccountStats
) -> Iterator[list[str]]:
    """Yield the file's rows in order, counting what they contain into `stats`."""
    rng = random.Random(layout.seed)
    for i in range(layout.rows):
        parent = layout.parent_index(i)
        row = _clean_row(layout, rng, i, parent)
        if variant == "update":
            row = _updated(row)
        _count(layout, i, parent, stats)
        kind = invalid.get(i)
        if kind is not None:
            row = _broken(row, kind, i)
            _count_invalid(layout, i, parent, kind, stats)
        yield row


def _clean_row(layout: Layout, rng: random.Random, i: int, parent: int | None) -> list[str]:
    parent_number = "" if parent is None else layout.account_number(parent)
    industry = rng.choice(words.INDUSTRIES)
    description = words.sentence(rng)
    if layout.is_individual(i):
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        email = f"{first}.{last}.{i}@example.com".lower()
        phone = f"+1 555 {rng.randrange(10**7):07d}"
        name = f"{first} {last}"
        return [layout.account_number(i), name, "", INDIVIDUAL_GROUP, parent_number, "",
                industry, description, first, last, email, phone]  # fmt: skip
    name = words.company(rng)
    group = BUSINESS_GROUPS[rng.randrange(len(BUSINESS_GROUPS))]
    legal_name = f"{name} {rng.choice(words.LEGAL_FORMS)}"
    website = f"www.company-{i}.example.com"
    return [layout.account_number(i), name, legal_name, group, parent_number, website,
            industry, description, "", "", "", ""]  # fmt: skip


def _updated(row: list[str]) -> list[str]:
    """Same key, group and parent; a new name, industry, description and contact phone."""
    changed = list(row)
    changed[1] = f"{row[1]} (renamed)"
    changed[6] = words.next_industry(row[6])
    changed[7] = f"Updated: {row[7]}"
    if row[11]:
        changed[11] = "+44 20" + row[11][6:]
    return changed


def _broken(row: list[str], kind: str, i: int) -> list[str]:
    """A row the validator must reject, keeping its account number."""
    broken = list(row)
    if kind == "bad email":
        broken[10] = f"not-an-email-{i}"
    elif kind == "website with spaces":
        broken[5] = f"www company {i} example com"
    elif kind == "name too long":
        broken[1] = "N" * 256
    else:
        broken[1] = ""
    return broken


def _count(layout: Layout, i: int, parent: int | None, stats: AccountStats) -> None:
    stats.rows += 1
    stats.individual += layout.is_individual(i)
    if parent is not None:
        stats.children += 1
        stats.forward += parent > i


def _count_invalid(
    layout: Layout, i: int, parent: int | None, kind: str, stats: AccountStats
) -> None:
    stats.invalid += 1
    stats.invalid_individual += layout.is_individual(i)
    stats.invalid_children += parent is not None
    stats.invalid_kinds[kind] = stats.invalid_kinds.get(kind, 0) + 1


def _mix(seed: int, i: int) -> int:
    """splitmix64 of (seed, i): a fast, well-spread hash that needs no RNG state."""
    z = (seed * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)
