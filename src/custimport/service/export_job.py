"""What an export is asked to do and what it did: plain values, shared by the export service
and the reporting of it (which must not import the database layer to print a line)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custimport.schemas import ModelSpec


@dataclass(frozen=True)
class ExportRequest:
    spec: ModelSpec
    database_url: str
    output: Path | None = None  # None: stdout
    format: str | None = None  # None or "auto": from the output's extension, else csv
    force: bool = False
    # accounts by account_number, contacts by account then primary first: an order that
    # importing the file into an empty database and exporting it again gives back (a
    # bundle's round trip); by id (the default), parents may follow their children
    by_key: bool = False


@dataclass(frozen=True)
class ExportResult:
    request: ExportRequest
    format: str
    rows: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BundleResult:
    output: Path
    files: list[dict[str, Any]] = field(default_factory=list)  # the manifest's entries
