"""What `duplicates` is asked and what it found (no SQLAlchemy: the report package reads it)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from custimport.rows.duplicate_pairs import Pair
from custimport.schemas import ModelSpec

DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True)
class DuplicatesRequest:
    spec: ModelSpec
    database_url: str
    threshold: float = DEFAULT_THRESHOLD
    output: Path | None = None  # -o: the pairs as CSV, checked already
    force: bool = False


@dataclass
class DuplicatesResult:
    request: DuplicatesRequest
    records: int = 0  # records compared
    count: int = 0  # pairs found
    pairs: Iterator[Pair] = field(default_factory=lambda: iter(()))  # read once, best first
