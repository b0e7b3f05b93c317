"""Standard input's private copy is removed whatever ends the command (issue 17).

The copy lives in the command's temp directory (here a folder of the test's own, through
TMPDIR) from the first byte read until the command ends: a signal while the pipe is still
being copied, or mid-import, must not leave it behind. Moments are observed, never waited
for: the copy is seen to exist, the import is seen frozen with some batches committed.
"""

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_interruption import freeze_mid_import

from helpers import ACCOUNTS_HEADER, COMMAND
from hostile_support import count, seed

ROWS = 150_000  # over 4 MB: the background reader opens the copy too


def start(tmp_path: Path, db_url: str, stdin: object) -> tuple[subprocess.Popen[str], Path]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    process = subprocess.Popen(
        [COMMAND, "-", "--model", "Account", "--db", db_url, "--batch-size", "500", "--json"],
        stdin=stdin,  # type: ignore[arg-type]
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    return process, scratch


def wait_for_copy(process: subprocess.Popen[str], scratch: Path, size: int) -> None:
    """Until the copy of standard input holds the `size` bytes sent so far: the command is
    then waiting for more, in the copy (the pipe is still open)."""
    deadline = time.monotonic() + 60
    while [copy.stat().st_size for copy in scratch.glob("*.stdin")] != [size]:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the copy of standard input never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "signum, status",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_while_stdin_is_copied_removes_the_copy(
    tmp_path: Path, sqlite_url: str, signum: int, status: int
) -> None:
    process, scratch = start(tmp_path, sqlite_url, subprocess.PIPE)
    assert process.stdin is not None
    try:
        header = ",".join(ACCOUNTS_HEADER) + "\n"
        process.stdin.write(header)
        process.stdin.flush()
        wait_for_copy(process, scratch, len(header))
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_mid_import_from_stdin_removes_the_copy(
    tmp_path: Path, sqlite_url: str, signum: int, status: int
) -> None:
    seed(tmp_path, sqlite_url)
    path = tmp_path / "accounts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_number", "name", "customer_group"])
        writer.writerows([f"S-{n:06d}", f"Stdin {n}", "Enterprise"] for n in range(ROWS))

    def some_committed() -> bool:
        try:
            committed = count(sqlite_url, "account")
        except Exception:  # the schema may not exist yet
            return False
        assert committed < ROWS, "the whole file went in before the first look"
        return committed > 0

    with path.open("rb") as stdin:
        process, scratch = start(tmp_path, sqlite_url, stdin)
        try:
            freeze_mid_import(process, some_committed)
            assert len(list(scratch.iterdir())) == 1  # the copy, while the import runs
            process.send_signal(signum)
            process.send_signal(signal.SIGCONT)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == status, stderr
    assert '"file": "-"' in stdout
    assert list(scratch.iterdir()) == []
