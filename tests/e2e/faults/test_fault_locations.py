"""An error-log or rejects location that cannot be created stops the import before it writes
(SPEC §12.3): exit 2, one `Error:` line naming the location, the database as it was.

The locations are made so that they hold as root too (root ignores permission bits): a path
under a regular file (no folder can be created there), and a folder on a tmpfs mounted
read-only. The file holds valid rows and failing ones, so an import that started anyway
would both write rows and need the log: "nothing written" is then a real check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fault_support import (
    Dump,
    assert_one_error_line,
    dump,
    import_args,
    parsed_report,
    remount_read_only,
    run_command,
)

from helpers import ACCOUNTS_HEADER, Run, account_row, write_csv
from hostile_support import seed

NAMES = {"--error-log": "error log", "--rejects": "rejects"}


def mixed_accounts(path: Path) -> Path:
    """Twenty accounts, every fourth one in a group that does not exist (it fails)."""
    rows = [
        account_row(f"LOC-{i:03d}", group="No such group" if i % 4 == 0 else "Enterprise")
        for i in range(20)
    ]
    return write_csv(path, ACCOUNTS_HEADER, rows)


def under_a_regular_file(tmp_path: Path, option: str) -> Path:
    blocker = tmp_path / "a-regular-file.txt"
    blocker.write_text("not a folder\n")
    return blocker / "sub" / ("rejects.csv" if option == "--rejects" else "errors.log")


def assert_refused_before_writing(run: Run, option: str, before: Dump, db_url: str) -> None:
    assert run.exit_code == 2, (run.exit_code, run.stdout[-2000:], run.stderr[-2000:])
    line = assert_one_error_line(run)
    assert NAMES[option] in line.lower() or option in line, (
        f"the line does not say which location is wrong: {line}"
    )
    report = parsed_report(run)
    assert report is None or report["rows"]["read"] == 0, "it read rows before refusing"
    assert dump(db_url) == before, "rows were written although the location was unusable"


@pytest.mark.parametrize("option", list(NAMES))
def test_a_location_under_a_regular_file_is_refused_before_anything_is_written(
    tmp_path: Path, db_url: str, option: str
) -> None:
    seed(tmp_path, db_url)
    path = mixed_accounts(tmp_path / "accounts.csv")
    before = dump(db_url)
    target = under_a_regular_file(tmp_path, option)
    run = run_command(*import_args(path, "Account", db_url, option, target))
    assert_refused_before_writing(run, option, before, db_url)


@pytest.mark.parametrize("option", list(NAMES))
def test_a_location_on_a_read_only_disk_is_refused_before_anything_is_written(
    tmp_path: Path, sqlite_url: str, tmpfs: Callable[..., Path], option: str
) -> None:
    disk = tmpfs(256)
    remount_read_only(disk)
    seed(tmp_path, sqlite_url)
    path = mixed_accounts(tmp_path / "accounts.csv")
    before = dump(sqlite_url)
    target = disk / "rejects.csv" if option == "--rejects" else disk
    run = run_command(*import_args(path, "Account", sqlite_url, option, target))
    assert_refused_before_writing(run, option, before, sqlite_url)


def test_the_default_error_log_location_on_a_read_only_disk_is_refused_before_writing(
    tmp_path: Path, sqlite_url: str, tmpfs: Callable[..., Path]
) -> None:
    """Without --error-log the log goes to the current folder: that one is checked too."""
    disk = tmpfs(256)
    remount_read_only(disk)
    seed(tmp_path, sqlite_url)
    path = mixed_accounts(tmp_path / "accounts.csv")
    before = dump(sqlite_url)
    run = run_command(*import_args(path, "Account", sqlite_url), cwd=disk)
    assert_refused_before_writing(run, "--error-log", before, sqlite_url)
