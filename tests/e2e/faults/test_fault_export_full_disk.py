"""An export whose disk fills up: one `Error:` line, no traceback, no file left (SPEC §12.6).

The output folder is a real tmpfs too small for the export; openpyxl's sheet file goes to
the export's own TMPDIR on a disk with room, so for XLSX the disk fills in the last stage,
while the sheet is zipped into the output. That stage is the one that left a traceback
behind: openpyxl abandons its half-written zip, whose finaliser later writes to a file that
is closed by then.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_support import assert_one_error_line, environment

from helpers import COMMAND, EXAMPLES, Run, execute, run_import

ACCOUNTS = 20_000  # about 3 MB of CSV and 0.7 MB of XLSX, for a 256 KiB disk
FILL_ACCOUNTS = (
    "INSERT INTO account (account_number, name, customer_group_id, description, created_at, "
    "updated_at) SELECT 'FD-' || n, 'Full disk account ' || n, (SELECT id FROM customer_group "
    "WHERE name = 'Partners'), 'A description that makes each row longer, number ' || n, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL "
    f"SELECT n + 1 FROM s WHERE n < {ACCOUNTS}) SELECT n FROM s) AS numbers"
)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_a_full_disk_ends_an_export_with_one_line_and_no_file(
    tmpfs: Callable[..., Path], tmp_path: Path, sqlite_url: str, fmt: str
) -> None:
    assert run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", sqlite_url).exit_code == 0
    execute(sqlite_url, FILL_ACCOUNTS)
    disk = tmpfs(256)
    temp = tmp_path / "tmp"
    temp.mkdir()
    output = disk / f"accounts.{fmt}"
    done = subprocess.run(
        [COMMAND, "export", "--model", "Account", "--db", sqlite_url, "-o", str(output)],
        capture_output=True,
        text=True,
        env=environment(TMPDIR=str(temp)),
        timeout=300,
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    assert run.exit_code == 2, (run.exit_code, run.stderr)
    assert_one_error_line(run, "No space left on device")
    assert sorted(p.name for p in disk.iterdir()) == []
    assert sorted(p.name for p in temp.iterdir()) == []
