"""Three imports into one SQLite file at once (issue: hardening, point 4): 20,000 rows each,
overlapping, small batches, so the processes take turns on the write lock hundreds of times.
Every one finishes, nothing is duplicated or dropped, and "database is locked" never shows.
"""

import csv
import json
import subprocess
from pathlib import Path

import pytest

from helpers import ACCOUNTS_HEADER, COMMAND, fetch
from hostile_support import consistency_problems, count, seed

ROWS_EACH = 20_000
STARTS = (
    0,
    7_000,
    14_000,
)  # each file overlaps the next by 13,000 rows, the first and last by 6,000
BATCH = "100"


def account_cells(i: int) -> list[str]:
    """The same number always has the same values, whichever file it is in."""
    number = f"Q-{i:06d}"
    if i % 3 == 0:
        return [number, f"Person {i}", "Retail", "", "", f"F{i}", f"L{i}", f"q{i}@example.com", ""]
    parent = f"Q-{i - 1:06d}" if i % 10 == 1 else ""
    return [number, f"Company {i}", "Enterprise", parent, "example.com", "", "", "", ""]


def write_range(path: Path, start: int, backwards: bool) -> Path:
    """Backwards, a file meets the others head-on, and its children come before their parents."""
    numbers = range(start, start + ROWS_EACH)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        writer.writerows(account_cells(i) for i in (reversed(numbers) if backwards else numbers))
    return path


@pytest.mark.slow
def test_three_overlapping_imports_into_one_sqlite_file_all_finish_without_duplicates(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed(tmp_path, sqlite_url)
    files = [
        write_range(tmp_path / f"part{n}.csv", start, backwards=n == 1)
        for n, start in enumerate(STARTS)
    ]
    processes = [
        subprocess.Popen(
            [
                COMMAND,
                path,
                "--model",
                "Account",
                "--db",
                sqlite_url,
                "--json",
                "-q",
                "--batch-size",
                BATCH,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            results.append((process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    reports = []
    for code, stdout, stderr in results:
        assert "Traceback" not in stderr and "locked" not in stderr, stderr
        assert code == 0, stderr
        report = json.loads(stdout)
        reports.append(report)
        rows = report["rows"]
        assert rows["read"] == ROWS_EACH and rows["failed"] == 0, rows
        assert rows["updated"] == 0, rows  # the overlap holds the same values everywhere
        assert rows["created"] + rows["unchanged"] == ROWS_EACH, rows
    distinct = STARTS[-1] + ROWS_EACH
    assert sum(report["rows"]["created"] for report in reports) == distinct
    assert fetch(sqlite_url, "SELECT count(*), count(DISTINCT account_number) FROM account") == [
        (distinct, distinct)
    ]
    individual = len([i for i in range(distinct) if i % 3 == 0])
    assert sum(report["contacts"]["created"] for report in reports) == individual
    assert count(sqlite_url, "contact") == individual
    assert fetch(
        sqlite_url,
        "SELECT count(*) FROM account a JOIN account p ON p.id = a.parent_account_id "
        "WHERE CAST(substr(a.account_number, 3) AS INTEGER) % 10 = 1 "
        "AND p.account_number = printf('Q-%06d', CAST(substr(a.account_number, 3) AS INTEGER) - 1)",
    ) == [(len([i for i in range(distinct) if i % 10 == 1 and i % 3 != 0]),)]
    assert consistency_problems(sqlite_url) == []
