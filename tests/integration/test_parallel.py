"""Preparing batches in a worker process gives exactly what preparing in-process gives."""

from pathlib import Path

import pytest

from custimport.rows.outcomes import FailedRow
from custimport.schemas import ACCOUNT
from custimport.service.importing import ImportReport, ImportRequest, run_import
from helpers import ACCOUNTS_HEADER, account_row, execute, fetch, seed_groups, write_csv


class Collector:
    """An observer that keeps the failed rows (the reporting module is not under test)."""

    def __init__(self) -> None:
        self.failures: list[FailedRow] = []

    def started(self, source: object) -> None:
        pass

    def warned(self, message: str) -> None:
        pass

    def row_failed(self, failure: FailedRow) -> None:
        self.failures.append(failure)

    def progress(self, bytes_read: int, rows_read: int) -> None:
        pass


def mixed_accounts(tmp_path: Path) -> Path:
    rows = []
    for i in range(700):
        number = f"P-{i:04d}"
        if i % 50 == 7:
            rows.append(account_row(number, website="not a site"))  # invalid
        elif i % 90 == 3:
            rows.append(account_row("P-0001"))  # duplicate key
        elif i % 3 == 0:
            rows.append(account_row(number, group="Retail", first="F", last=f"L{i}"))
        else:
            rows.append(account_row(number, parent=f"P-{i + 5:04d}" if i % 20 == 1 else ""))
    return write_csv(tmp_path / "mixed.csv", ACCOUNTS_HEADER, rows)


def run(path: Path, url: str, parallel: bool, **options: object) -> tuple[ImportReport, Collector]:
    collector = Collector()
    request = ImportRequest(
        path=path, spec=ACCOUNT, database_url=url, batch_size=64, parallel=parallel, **options
    )  # type: ignore[arg-type]
    return run_import(request, collector), collector


def dump(url: str) -> list[tuple[object, ...]]:
    return fetch(
        url,
        "SELECT a.account_number, a.name, p.account_number, c.last_name FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id LEFT JOIN contact c ON c.account_id = a.id "
        "ORDER BY a.account_number",
    )


@pytest.mark.parametrize(
    "options", [{}, {"max_errors": 5}, {"atomic": True}, {"refused": True}], ids=str
)
def test_worker_and_in_process_preparation_agree(
    tmp_path: Path, options: dict[str, object]
) -> None:
    """`refused`: the database alone refuses one row, so the batches since the last commit
    are written again, in the worker's case from the bytes they crossed the pipe in."""
    results = {}
    refused = bool(options.pop("refused", False))
    for parallel in (False, True):
        url = f"sqlite:///{tmp_path / f'{parallel}.db'}"
        seed_groups(tmp_path, url)
        if refused:
            execute(
                url,
                "CREATE TRIGGER refuse BEFORE INSERT ON account WHEN NEW.name = 'Account P-0400' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
        report, collector = run(mixed_accounts(tmp_path), url, parallel, **options)
        results[parallel] = (
            report.counts.rows(),
            report.completed,
            report.committed,
            [(f.line_no, f.errors) for f in collector.failures],
            dump(url),
        )
    assert results[True] == results[False]
    rows, completed, _, failures, _ = results[True]
    assert rows["failed"] == len(failures) > 0
    if "max_errors" in options:
        assert not completed and rows["failed"] == 5
    if refused:
        assert 400 + 2 in [line for line, _ in failures]
