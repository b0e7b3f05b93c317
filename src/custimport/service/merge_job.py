"""What `merge` is asked and what it did (no SQLAlchemy: the report package reads it)."""

from dataclasses import dataclass, field

from custimport.rows.merge_rules import Conflict, Dropped
from custimport.schemas import ModelSpec


@dataclass(frozen=True)
class MergeRequest:
    spec: ModelSpec
    keep: str  # keys as `duplicates` prints them
    duplicate: str
    database_url: str
    dry_run: bool = False
    version: str | None = None  # custimport's, recorded with the run


@dataclass
class MergeReport:
    request: MergeRequest
    kept: str = ""  # the keys as stored (the arguments' spelling may differ in case)
    merged: str = ""
    run: int | None = None  # none for a dry run
    filled: list[str] = field(default_factory=list)
    moved_contacts: int = 0
    merged_contacts: int = 0
    moved_children: int = 0
    updated: int = 0  # rows written, in every table
    deleted: int = 0  # rows deleted, the duplicate among them
    conflicts: list[Conflict] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0: merged. Conflicts are settled by the import's rules and reported, not
        failures (SPEC §2: 1 means rows failed; no row of a merge fails)."""
        return 0
