"""A change file (--changes) whose disk fills up: the import stands, the report says so.

The rows are committed before the change file is written; a full disk then costs the
file, never the import or its report: one `Error:` line naming the file and the reason,
`"changes": null` in the JSON report, exit 1, and no part of the file left behind.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from helpers import ACCOUNTS_HEADER, COMMAND, account_row, fetch, seed_groups, write_csv

ACCOUNTS = 3_000  # about 700 KB of change file, for a 64 KiB disk


def test_a_full_disk_costs_the_change_file_not_the_import(
    tmpfs: Callable[..., Path], tmp_path: Path, sqlite_url: str
) -> None:
    seed_groups(tmp_path, sqlite_url)
    rows = [account_row(f"FD-{n:05d}", website=f"https://{n}.example") for n in range(ACCOUNTS)]
    path = write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    disk = tmpfs(64)
    output = disk / "changes.csv"
    command = [COMMAND, str(path), "--model", "Account", "--db", sqlite_url, "--json", "-q"]
    done = subprocess.run(
        [*command, "--changes", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"Error: cannot write {output}: no space left on device\n"
    report = json.loads(done.stdout)
    assert report["committed"] is True and report["rows"]["created"] == ACCOUNTS
    assert report["changes_file"] == {"path": str(output), "changes": None}
    assert fetch(sqlite_url, "SELECT count(*) FROM account") == [(ACCOUNTS,)]
    assert sorted(p.name for p in disk.iterdir()) == []
