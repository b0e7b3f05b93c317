"""The observer an import reports to: failed rows to the files, progress to a bar on a terminal."""

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from custimport.io.source import SourceInfo
from custimport.report.console import stderr
from custimport.report.files import FileSinks
from custimport.rows.outcomes import FailedRow


class Reporter:
    """The observer the importer talks to: files, plus a progress bar on a terminal."""

    def __init__(self, sinks: FileSinks, show_progress: bool) -> None:
        self.sinks = sinks
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._show_progress = show_progress

    def started(self, source: SourceInfo) -> None:
        self.sinks.source = source
        if self._show_progress and stderr.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[rows]} rows"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            self._task = self._progress.add_task(
                "import", total=max(source.size_bytes, 1), rows=0, rate=""
            )
            self._progress.start()

    def warned(self, message: str) -> None:
        """At once, on stderr (the summary repeats it; --quiet still shows it: it may
        change what the user does next)."""
        stderr.print(f"Warning: {message}", markup=False, highlight=False, soft_wrap=True)

    def row_failed(self, result: FailedRow) -> None:
        self.sinks.write_failure(result)

    def progress(self, bytes_read: int, rows_read: int) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = f"{rows_read / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=bytes_read, rows=f"{rows_read:,}", rate=rate)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self.sinks.close()
