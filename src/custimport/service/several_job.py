"""Several files in one command (SPEC §11): what is asked and what came of it, as plain
values shared by the import services (service/several.py, service/one_transaction.py)
and the reporting of them (which must not load the database layer to print a line)."""

from dataclasses import dataclass
from pathlib import Path

from custimport.rows.outcomes import Counts
from custimport.run.job import ImportReport, ImportRequest
from custimport.schemas import ModelSpec

INTERRUPTED_FROM = 128  # exit statuses of a signal (130, 143) rank above every other


@dataclass(frozen=True)
class GivenFile:
    """A file to import: its model, or None to guess it from the header."""

    path: Path
    spec: ModelSpec | None = None
    shown_as: Path | None = None  # a bundle member's name (`backup.zip/accounts.csv`)
    in_bundle: bool = False  # its model is the one a bundle's manifest gives it


@dataclass
class FileOutcome:
    request: ImportRequest
    report: ImportReport | None = None  # None: not imported
    refused: str | None = None  # why it was refused with nothing written (exit 2)


@dataclass
class SeveralReport:
    """The files in the order imported: each one's report, or why it was not imported."""

    outcomes: list[FileOutcome]

    @property
    def reports(self) -> list[ImportReport]:
        return [o.report for o in self.outcomes if o.report is not None]

    @property
    def total(self) -> dict[str, int]:
        total = Counts().rows()
        for report in self.reports:
            for name, value in report.counts.rows().items():
                total[name] += value
        return total

    @property
    def exit_code(self) -> int:
        """The worst of the files': interrupted (130, 143) over 2 over 1 over 0."""
        codes = [r.exit_code for r in self.reports]
        codes += [2 for o in self.outcomes if o.refused is not None]
        return max(codes, key=_rank, default=0)


def _rank(code: int) -> tuple[bool, int]:
    return code >= INTERRUPTED_FROM, code
