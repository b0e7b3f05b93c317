"""Bundles on disks that refuse them: one `Error:` line that names the user's path and what
is wrong, never an internal temporary name and never "damaged" (SPEC §11, §12.6)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from fault_support import assert_one_error_line, environment, remount_read_only

from helpers import COMMAND, EXAMPLES, Run, cli, execute, run_import

ACCOUNTS = 3_000  # about 300 KB of CSV: more than the 64 KiB temporary folder takes
FILL_ACCOUNTS = (
    "INSERT INTO account (account_number, name, customer_group_id, description, created_at, "
    "updated_at) SELECT 'FB-' || n, 'Full disk account ' || n, (SELECT id FROM customer_group "
    "WHERE name = 'Partners'), 'A description that makes each row longer, number ' || n, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL "
    f"SELECT n + 1 FROM s WHERE n < {ACCOUNTS}) SELECT n FROM s) AS numbers"
)


def test_a_full_temporary_folder_while_a_zip_bundle_is_unpacked_says_so_and_where(
    tmpfs: Callable[..., Path], tmp_path: Path, sqlite_url: str
) -> None:
    assert run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", sqlite_url).exit_code == 0
    execute(sqlite_url, FILL_ACCOUNTS)
    bundle = tmp_path / "b.zip"
    assert cli("export", "--all", "-o", bundle, "--db", sqlite_url).exit_code == 0
    temp = tmpfs(64)
    target = tmp_path / "target.db"
    done = subprocess.run(
        [COMMAND, str(bundle), "--db", f"sqlite:///{target}"],
        capture_output=True,
        text=True,
        env=environment(TMPDIR=str(temp)),
        timeout=300,
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    assert run.exit_code == 2, run.stderr
    line = assert_one_error_line(run, f"no space to unpack accounts.csv in {temp}", "TMPDIR")
    assert "damaged" not in line
    assert not target.exists()
    assert list(temp.iterdir()) == []  # the unpacked files are gone


def test_export_all_into_a_read_only_folder_names_the_output_not_a_temporary_name(
    tmpfs: Callable[..., Path], sqlite_url: str
) -> None:
    assert run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", sqlite_url).exit_code == 0
    disk = tmpfs(64)
    remount_read_only(disk)
    for output in (disk / "d", disk / "b.zip"):
        run = cli("export", "--all", "-o", output, "--db", sqlite_url)
        assert run.exit_code == 2
        line = assert_one_error_line(run, f"cannot write {output}: read-only file system")
        assert ".part" not in line
