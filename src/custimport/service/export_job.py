"""What an export is asked to do and what it did: plain values, shared by the export service
and the reporting of it (which must not import the database layer to print a line)."""

from dataclasses import dataclass, field
from pathlib import Path

from custimport.schemas import ModelSpec


@dataclass(frozen=True)
class ExportRequest:
    spec: ModelSpec
    database_url: str
    output: Path | None = None  # None: stdout
    format: str | None = None  # None or "auto": from the output's extension, else csv
    force: bool = False


@dataclass(frozen=True)
class ExportResult:
    request: ExportRequest
    format: str
    rows: int
    warnings: list[str] = field(default_factory=list)
