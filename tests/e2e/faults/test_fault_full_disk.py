"""A disk that fills up under the import, on both engines and for every file it writes (§12.1).

The disk is a real tmpfs (see conftest.py). Whatever fills (the SQLite file, a PostgreSQL
tablespace, the error log, the rejects file), the import ends with exit 1, one `Error:` line
that says the disk is full, no traceback, and a JSON report whose counts are what the
database holds: a report that claims rows the database does not have is the failure this
file exists for. Where the disk must fill after rows were committed, the test waits until it
sees committed rows, holds the import still with SIGSTOP, fills the disk and lets it go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_support import (
    Dump,
    assert_failed_rows_logged,
    assert_no_traceback,
    assert_one_error_line,
    assert_report_matches_db,
    dump,
    environment,
    file_size_limit,
    fill,
    import_args,
    parsed_report,
    paused,
    rows_in,
    run_command,
)

from helpers import ACCOUNTS_HEADER, GROUPS_HEADER, Run, account_row, cli, write_csv
from hostile_support import seed

FULL = ("full", "no space")  # what a person must read in the one line
# accounts: seconds of work after the first commit (about 1 s in), so that what is written
# after the disk is filled needs more room than the SQLite WAL it reuses, or than the
# import's own files freed at that commit; 150,000 took 1.7 s on an idle machine, and
# the import then finished in the space it already had
BIG_IMPORT = 400_000


def migrated(db_url: str) -> str:
    assert cli("db", "upgrade", "--db", db_url).exit_code == 0
    return db_url


def groups_file(path: Path, count: int, failing_every: int = 0) -> Path:
    """`count` groups; with `failing_every`, every such row has a group_type that fails."""

    def row(i: int) -> list[str]:
        bad = failing_every and i % failing_every == 0
        return [f"Disk group {i:07d}", "NOPE" if bad else "BUSINESS"]

    return write_csv(path, GROUPS_HEADER, [row(i) for i in range(count)])


def accounts_file(path: Path, count: int, failing_every: int = 0) -> Path:
    """`count` BUSINESS accounts; with `failing_every`, such rows name an unknown group."""
    return write_csv(path, ACCOUNTS_HEADER, _account_rows(count, failing_every))


def _account_rows(count: int, failing_every: int) -> Iterator[list[str]]:
    for i in range(count):
        bad = failing_every and i % failing_every == 0
        yield account_row(f"FD-{i:07d}", group="No such group" if bad else "Enterprise")


@pytest.fixture(scope="module")
def valid_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BIG_IMPORT valid accounts, shared by the tests that only need rows to commit."""
    return accounts_file(tmp_path_factory.mktemp("full-disk") / "accounts.csv", BIG_IMPORT)


@pytest.fixture(scope="module")
def mixed_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BIG_IMPORT accounts, every fourth failing, so the error log grows all along."""
    folder = tmp_path_factory.mktemp("full-disk-mixed")
    return accounts_file(folder / "accounts.csv", BIG_IMPORT, failing_every=4)


def says_disk_full(run: Run) -> None:
    line = assert_one_error_line(run)
    assert any(word in line.lower() for word in FULL), line


def check_full_disk(run: Run, before: Dump, db_url: str) -> dict[str, Any]:
    """Exit 1, one line saying the disk is full, and a report that matches the database."""
    assert_no_traceback(run)
    assert run.exit_code == 1, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    says_disk_full(run)
    report = parsed_report(run)
    assert_report_matches_db(report, before, dump(db_url))
    assert report is not None
    assert "nothing was imported" not in (run.stdout + run.stderr).lower()
    return report


def test_a_sqlite_database_on_a_full_disk_reports_only_what_it_holds(
    tmp_path: Path, tmpfs: Callable[..., Path]
) -> None:
    """The reported case: 40,000 groups into a 2 MB tmpfs said created 40,000, held none."""
    disk = tmpfs(2048)
    db_url = migrated(f"sqlite:///{disk / 'full.db'}")
    path = groups_file(tmp_path / "groups.csv", 40_000)
    before = dump(db_url)
    run = run_command(*import_args(path, "CustomerGroup", db_url))
    check_full_disk(run, before, db_url)


def test_a_sqlite_disk_that_fills_after_a_commit_keeps_and_reports_the_committed_rows(
    tmp_path: Path, tmpfs: Callable[..., Path], valid_accounts: Path
) -> None:
    disk = tmpfs(64 * 1024)
    db_url = migrated(f"sqlite:///{disk / 'full.db'}")
    seed(tmp_path, db_url)
    before = dump(db_url)
    run = run_command(
        *import_args(valid_accounts, "Account", db_url),
        when=(rows_in(db_url, "account"), paused(fill(disk))),
    )
    report = check_full_disk(run, before, db_url)
    assert report["committed"] is True and report["rows"]["created"] > 0
    assert report["completed"] is False


@pytest.mark.postgres
def test_a_postgresql_tablespace_that_fills_mid_import_keeps_and_reports_the_committed_rows(
    tmp_path: Path, postgres_on_tmpfs: Callable[[int], tuple[str, Path]], valid_accounts: Path
) -> None:
    db_url, disk = postgres_on_tmpfs(32 * 1024)
    migrated(db_url)
    seed(tmp_path, db_url)
    before = dump(db_url)
    run = run_command(
        *import_args(valid_accounts, "Account", db_url),
        when=(rows_in(db_url, "account"), paused(fill(disk))),
    )
    (disk / "filler").unlink()  # room again for the server's own sort files while we dump
    report = check_full_disk(run, before, db_url)
    assert report["committed"] is True and report["rows"]["created"] > 0
    assert report["completed"] is False


def fill_after_a_commit(
    db_url: str, path: Path, disk: Path, *extra: str | Path, env: dict[str, str] | None = None
) -> tuple[Run, Dump]:
    """Import `path`; once committed rows are seen, hold the import, fill `disk`, go on."""
    before = dump(db_url)
    run = run_command(
        *import_args(path, "Account", db_url, *extra),
        env=env,
        when=(rows_in(db_url, "account"), paused(fill(disk))),
    )
    return run, before


def test_an_error_log_that_fills_up_ends_the_import_with_a_true_report(
    tmp_path: Path, db_url: str, tmpfs: Callable[..., Path], mixed_accounts: Path
) -> None:
    """Rows fail all along; once rows are committed the disk holding the log fills up."""
    disk = tmpfs(16 * 1024)  # room for what fails before the first commit; then it is filled
    seed(tmp_path, db_url)
    run, before = fill_after_a_commit(db_url, mixed_accounts, disk, "--error-log", disk)
    report = check_full_disk(run, before, db_url)
    assert report["committed"] is True and report["rows"]["created"] > 0
    assert report["rows"]["failed"] > 0


def test_a_rejects_file_that_fills_up_ends_the_import_with_a_true_report(
    tmp_path: Path, sqlite_url: str, tmpfs: Callable[..., Path], mixed_accounts: Path
) -> None:
    """As for the error log (the engine plays no part in writing either file)."""
    disk = tmpfs(16 * 1024)
    seed(tmp_path, sqlite_url)
    extra = ("--rejects", disk / "rejects.csv", "--error-log", tmp_path)
    run, before = fill_after_a_commit(sqlite_url, mixed_accounts, disk, *extra)
    report = check_full_disk(run, before, sqlite_url)
    assert report["committed"] is True and report["rows"]["created"] > 0
    assert report["rows"]["failed"] > 0
    # the row whose rejects line did not fit is in the error log: it is counted failed
    assert_failed_rows_logged(report)


def test_a_full_temporary_folder_ends_the_import_with_a_true_report(
    tmp_path: Path, db_url: str, tmpfs: Callable[..., Path], valid_accounts: Path
) -> None:
    """The import keeps files of its own in $TMPDIR (batches since the last commit, rows set
    aside): that disk filling up is a full disk like any other, not an internal error.

    The folder is too small for one batch from the start. Filled after a commit instead,
    the import could go on in the space its next commit freed (the batches kept until a
    commit are dropped then), whenever the fill came late: the test then depended on
    timing."""
    disk = tmpfs(128)
    seed(tmp_path, db_url)
    before = dump(db_url)
    run = run_command(
        *import_args(valid_accounts, "Account", db_url), env=environment(TMPDIR=str(disk))
    )
    report = check_full_disk(run, before, db_url)
    assert report["completed"] is False
    assert_failed_rows_logged(report)  # every row is valid: none may be counted failed


@pytest.mark.postgres
def test_files_that_cannot_grow_past_a_size_limit_end_the_import_with_a_true_report(
    tmp_path: Path, postgres_url: str
) -> None:
    """No root needed: a file-size limit makes every write past 256 KiB fail (EFBIG), in the
    error log and in the import's temporary files alike; the database is on the server."""
    seed(tmp_path, postgres_url)
    path = accounts_file(tmp_path / "accounts.csv", 20_000, failing_every=2)
    before = dump(postgres_url)
    run = run_command(
        *import_args(path, "Account", postgres_url, "--error-log", tmp_path),
        preexec=file_size_limit(256 * 1024),
    )
    assert_no_traceback(run)
    assert run.exit_code == 1, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    line = assert_one_error_line(run)
    assert any(word in line.lower() for word in ("too large", "full", "space")), line
    assert_report_matches_db(parsed_report(run), before, dump(postgres_url))
