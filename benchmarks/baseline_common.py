"""CSV → parameter tuples for the raw baselines, shared by the SQLite and PostgreSQL ones.

The baselines are the floor custimport is measured against: the same rows into
the same schema with no validation, no row isolation and one transaction. They
still trim cells, store empty as NULL and lower-case emails, so the database they
leave holds what custimport's would, and the work compared is the same work.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

INDIVIDUAL = "INDIVIDUAL"
_TRUE = frozenset({"true", "yes", "1"})
T = TypeVar("T")


@dataclass
class AccountSideWork:
    """What the accounts pass leaves for the second statements: parent links, primary contacts."""

    parents: list[tuple[str, str]] = field(default_factory=list)  # (parent number, child number)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)


def conninfo(url: str) -> str:
    """libpq URI from a SQLAlchemy URL: drop the `+psycopg` driver part of the scheme."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


def cell(value: str) -> str | None:
    """Trimmed text, empty meaning NULL (SPEC §1)."""
    return value.strip() or None


def lower(value: str) -> str | None:
    return value.strip().lower() or None


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows as {column: text}, streamed."""
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def account_params(
    path: Path, groups: dict[str, tuple[int, str]], now: object, side: AccountSideWork
) -> Iterator[tuple[Any, ...]]:
    """Account inserts (parent left NULL); parents and individual contacts go to `side`.

    `groups` maps a lower-cased group name to (id, group_type).
    """
    for row in read_rows(path):
        number = row["account_number"].strip()
        group_id, group_type = groups[row["customer_group"].strip().lower()]
        parent = cell(row["parent_account"])
        if parent is not None:
            side.parents.append((parent, number))
        if group_type == INDIVIDUAL:
            side.contacts.append(_primary_contact(row, number, now))
        yield (
            number,
            cell(row["name"]),
            cell(row["legal_name"]),
            group_id,
            cell(row["website"]),
            cell(row["industry"]),
            cell(row["description"]),
            now,
            now,
        )


def _primary_contact(row: dict[str, str], number: str, now: object) -> tuple[Any, ...]:
    return (
        cell(row["primary_contact_first_name"]),
        cell(row["primary_contact_last_name"]),
        lower(row["primary_contact_email"]),
        cell(row["primary_contact_phone"]),
        now,
        now,
        number,
    )


def contact_params(
    path: Path, account_ids: dict[str, int], now: object
) -> Iterator[tuple[Any, ...]]:
    """Contact inserts, the account number replaced by its id from `account_ids`."""
    for row in read_rows(path):
        yield (
            account_ids[row["account"].strip()],
            cell(row["first_name"]),
            cell(row["last_name"]),
            lower(row["email"]),
            cell(row["phone"]),
            cell(row["job_title"]),
            cell(row["department"]),
            row["is_primary"].strip().lower() in _TRUE,
            now,
            now,
        )


class Counted(Generic[T]):
    """An iterable that counts what it hands out, for drivers that do not report a rowcount."""

    def __init__(self, items: Iterable[T]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[T]:
        for item in self._items:
            self.count += 1
            yield item


def timed(mode: str, work: Callable[[], int]) -> int:
    """Run `work` (returns the rows it wrote), print rows/s as one JSON line for run.py."""
    started = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - started
    rate = rows / seconds if seconds > 0 else 0.0
    result = {"mode": mode, "rows": rows, "seconds": round(seconds, 4), "rows_per_s": round(rate)}
    print(json.dumps(result))
    sys.stdout.flush()
    return 0
