"""SIGTERM while rows that waited for a later parent are being settled (SPEC §12.5).

That stage ran as one uninterruptible step: a 100,000-account cycle ignored SIGTERM for
over 17 minutes and then reported `completed: true`. The moment is observed, not timed:
the file's only failing rows are a cycle whose two rows are settled first in that stage,
so their lines in the error log say it has begun, with a long forward chain still to write.
"""

import csv
import json
import signal
import subprocess
import time
from pathlib import Path

from helpers import COMMAND, fetch, seed_groups

CHAIN = 30_000
BATCH = "100"


def write_file(path: Path) -> Path:
    """C1 → C2 first and C2 → C1 last (a cycle that waits for the end), and between them a
    forward chain: each row's parent is the next row, so all but the last row wait."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_number", "name", "customer_group", "parent_account"])
        writer.writerow(["C1", "Cycle 1", "Enterprise", "C2"])
        for i in range(CHAIN):
            parent = f"N{i + 1:06d}" if i < CHAIN - 1 else ""
            writer.writerow([f"N{i:06d}", f"Chain {i}", "Enterprise", parent])
        writer.writerow(["C2", "Cycle 2", "Enterprise", "C1"])
    return path


def wait_for_cycle_in_log(process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 120
    while not (log.exists() and "would make a cycle" in log.read_text(encoding="utf-8")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the waiting rows were never settled"
        time.sleep(0.005)


def test_sigterm_while_waiting_rows_are_settled_stops_within_seconds_and_reports(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    seed_groups(tmp_path, url)
    log = tmp_path / "errors.log"
    command = [COMMAND, str(write_file(tmp_path / "chain.csv")), "--model", "Account"]
    command += ["--db", url, "--batch-size", BATCH, "--json", "--quiet", "--error-log", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_cycle_in_log(process, log)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr
    assert took < 5, f"{took:.1f} s from SIGTERM to exit"
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    rows = report["rows"]
    assert report["completed"] is False and report["committed"] is True
    assert rows["failed"] == 2 and rows["created"] < CHAIN
    assert rows["read"] == rows["created"] + rows["failed"]
    assert fetch(url, "SELECT count(*) FROM account") == [(rows["created"],)]
