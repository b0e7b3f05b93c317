"""Several files in one command, and bundles (SPEC §11): each file's error log, rejects
file and progress, and the report: each file's, then a total.

`--json` prints `{"files": [REPORT, …], "total": {…}, "not_imported": […]}`: a REPORT is
exactly a single file's (summary.report_json), in the order the files were imported;
`not_imported` names the files a failure of an earlier one stopped (with why), and the
file refused part-way, if any.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from custimport.errors import visible
from custimport.report import summary
from custimport.report.console import error, stderr, stdout
from custimport.report.files import FileSinks
from custimport.report.progress import Reporter
from custimport.run.job import ImportRequest
from custimport.service.export_job import BundleResult
from custimport.service.several_job import FileOutcome, SeveralReport


class SeveralSinks:
    """One error log and rejects file per file (default names carry its model; a second
    file of one model gets `-2`, as any existing name does)."""

    def __init__(
        self,
        requests: Sequence[ImportRequest],
        error_log: Path | None,
        rejects: Path | None,
        started: datetime,
    ) -> None:
        self._pairs = [
            (request, FileSinks(request.spec.name, error_log, rejects, started))
            for request in requests
        ]

    def check_locations(self) -> None:
        for _, sinks in self._pairs:
            sinks.check_locations()

    def of(self, request: ImportRequest) -> FileSinks:
        return next(sinks for known, sinks in self._pairs if known is request)

    @contextmanager
    def observer(self, request: ImportRequest, show_progress: bool) -> Iterator[Reporter]:
        reporter = Reporter(self.of(request), show_progress)
        try:
            yield reporter
        finally:
            reporter.close()


def print_several(
    result: SeveralReport, sinks: SeveralSinks, *, as_json: bool, quiet: bool
) -> None:
    """Each file's problems (stderr), then the JSON report or each file's summary and the
    total (stdout); with --quiet, only where failed rows went."""
    for report in result.reports:
        summary.print_problems(report)
    for outcome in result.outcomes:
        if outcome.refused is not None:
            error(outcome.refused)
    if as_json:
        summary.print_json(several_json(result, sinks))
    elif not quiet:
        for report in result.reports:
            summary.print_summary(report, sinks.of(report.request))
            stdout.print()
        for line in _total_lines(result):
            stdout.print(line, soft_wrap=True, markup=False)
    if quiet:
        for report in result.reports:
            log = sinks.of(report.request).error_log
            if report.counts.failed and log:
                error(f"{report.counts.failed} rows failed; see {log}")


def several_json(result: SeveralReport, sinks: SeveralSinks) -> dict[str, Any]:
    return {
        "files": [summary.report_json(r, sinks.of(r.request)) for r in result.reports],
        "total": result.total,
        "not_imported": [_not_imported(o) for o in result.outcomes if o.report is None],
    }


def _not_imported(outcome: FileOutcome) -> dict[str, Any]:
    request = outcome.request
    why = outcome.refused or "an earlier file stopped the import"
    return {"file": str(request.shown_path), "model": request.spec.name, "reason": why}


def _total_lines(result: SeveralReport) -> list[str]:
    total = result.total
    counts = ", ".join(f"{name} {value:,}" for name, value in total.items())
    imported = len(result.reports)
    lines = [f"Total of {imported} file{'s' if imported != 1 else ''}: {counts}"]
    for outcome in result.outcomes:
        if outcome.report is None:
            request = outcome.request
            why = "refused" if outcome.refused else "an earlier file stopped the import"
            shown = visible(str(request.shown_path))
            lines.append(f"Not imported: {shown} ({request.spec.name}): {why}")
    return lines


def print_bundle_done(result: BundleResult) -> None:
    """One line on stderr, as for any export."""
    counts = ", ".join(f"{f['rows']:,} {f['model']}" for f in result.files)
    stderr.print(
        f"Exported a bundle to {result.output}: {counts}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
