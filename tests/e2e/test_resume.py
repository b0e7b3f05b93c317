"""--resume after a killed import (SPEC §8), with real processes on both engines.

The import is frozen mid-way at an observed moment (some accounts committed, not all)
and killed with SIGKILL; its run stays `running`. The next import of the same file says
how to go on; `--resume` reads only what the killed run had not committed, so in the end
every row of the file is in the database exactly once: accounts without an
account_number (which get a generated one) are not created twice, and rows that waited
for a parent later in the file are not lost.
"""

import csv
import json
import signal
import subprocess
from pathlib import Path

from test_interruption import freeze_mid_import

from helpers import ACCOUNTS_HEADER, COMMAND, fetch
from hostile_support import seed

ROWS = 80_000  # commits come about once a second, each of 35,000 to 45,000 rows on SQLite
BATCH = 500


def write_file(path: Path) -> Path:
    """Every 5th account has no number; every 7th names, as parent, an account 40 rows on
    (it waits for it); names are unique, so each row's account can be counted."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        for i in range(ROWS):
            number = "" if i % 5 == 0 else f"R-{i:06d}"
            later = i + 40
            parent = f"R-{later:06d}" if i % 7 == 0 and later < ROWS and later % 5 else ""
            writer.writerow([number, f"Company {i}", "Enterprise", parent, "", "", "", "", ""])
    return path


def import_process(path: Path, db_url: str, *extra: str) -> subprocess.Popen[str]:
    command = [COMMAND, str(path), "--model", "Account", "--db", db_url, "--json", "--quiet"]
    return subprocess.Popen(
        [*command, "--batch-size", str(BATCH), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def accounts(db_url: str) -> int:
    try:
        return int(fetch(db_url, "SELECT count(*) FROM account")[0][0])
    except Exception:  # the file or the schema may not be there yet
        return 0


def finished(process: subprocess.Popen[str]) -> tuple[int, dict[str, object]]:
    stdout, stderr = process.communicate(timeout=300)
    assert stdout, stderr
    return process.returncode, json.loads(stdout)


def test_a_killed_import_resumes_without_creating_anything_twice(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    path = write_file(tmp_path / "accounts.csv")
    victim = import_process(path, db_url)
    try:
        freeze_mid_import(victim, lambda: 0 < accounts(db_url) < ROWS * 0.9)
        victim.kill()
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    killed_run, status, last_line = fetch(
        db_url, "SELECT id, status, last_line FROM import_run WHERE model = 'Account'"
    )[0]
    assert status == "running" and last_line is not None
    committed = accounts(db_url)
    # every row up to the run's last line is in the database (lines are rows + 1)
    names = {name for (name,) in fetch(db_url, "SELECT name FROM account")}
    assert {f"Company {i}" for i in range(last_line - 1)} <= names

    hint_code, hint = finished(import_process(path, db_url, "--dry-run"))
    assert hint_code == 0
    assert any(f"run {killed_run} of this file ended killed" in w for w in hint["warnings"])  # type: ignore[union-attr]

    code, report = finished(import_process(path, db_url, "--resume"))
    assert code == 0, report
    assert report["resumed"] == {"run": killed_run, "after_line": last_line}
    rows = report["rows"]
    assert isinstance(rows, dict)
    assert rows["created"] == ROWS - committed and rows["failed"] == 0
    per_name = fetch(db_url, "SELECT name, count(*) FROM account GROUP BY name")
    assert len(per_name) == ROWS and {n for _, n in per_name} == {1}
    linked = fetch(db_url, "SELECT count(*) FROM account WHERE parent_account_id IS NOT NULL")
    expected = sum(1 for i in range(ROWS) if i % 7 == 0 and i + 40 < ROWS and (i + 40) % 5)
    assert linked == [(expected,)]


def test_resume_without_an_interrupted_run_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    path = tmp_path / "one.csv"
    path.write_text(",".join(ACCOUNTS_HEADER) + "\nO-1,One,Enterprise,,,,,,\n", encoding="utf-8")
    code, report = finished(import_process(path, db_url))
    assert code == 0, report
    again = import_process(path, db_url, "--resume")
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 2 and stdout == ""
    assert stderr.startswith("Error: nothing to resume: the last import of this file (run ")
    assert len(stderr.strip().splitlines()) == 1


def test_a_killed_no_undo_run_whose_rows_waited_is_not_resumed_inexactly(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Without its changes, which rows past its last line the run wrote is not known:
    --resume is refused (exit 2, nothing written) instead of creating them twice."""
    seed(tmp_path, sqlite_url)
    path = write_file(tmp_path / "accounts.csv")
    victim = import_process(path, sqlite_url, "--no-undo")
    try:
        freeze_mid_import(victim, lambda: 0 < accounts(sqlite_url) < ROWS * 0.9)
        victim.kill()
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    (last_line, last_read), = fetch(sqlite_url, "SELECT last_line, last_line_read FROM import_run WHERE model = 'Account'")  # fmt: skip
    assert last_read > last_line  # rows waited for parents later in the file
    committed = accounts(sqlite_url)
    again = import_process(path, sqlite_url, "--resume", "--no-undo")
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 2 and stdout == "", stderr
    assert stderr.startswith("Error: cannot resume run ") and "--no-undo" in stderr
    assert accounts(sqlite_url) == committed
