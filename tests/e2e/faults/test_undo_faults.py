"""`custimport undo` under SIGKILL, SIGINT and SIGTERM, with real processes (SPEC §8).

An undo is one transaction: killed at any moment it leaves the database exactly as it found
it, and undo again completes it; SIGINT and SIGTERM roll it back and exit 130 and 143. An
import killed after its first commit leaves a run whose journal is exactly what it committed,
so undoing it gives back the database as it was before the import.

The moment is observed, never guessed. "In its second pass" is seen in the database: on
PostgreSQL a RowExclusiveLock on account or contact held by a custimport backend; on SQLite
(switched to a rollback journal, as a database someone else created may be) the `-journal`
file, which SQLite opens at the transaction's first changed page. A signal that must be
heeded is sent only while the undo is frozen (SIGSTOP) before it records itself: it has no
lock on import_run yet (PostgreSQL), or import_run's pages are not in the journal (SQLite).
The undo looks at its stop flag after that recording, just before it commits.
"""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fault_support import (
    COMMAND,
    OBSERVE_TIMEOUT_S,
    POLL_S,
    assert_no_traceback,
    dump,
    import_args,
    rows_in,
    run_command,
)

from helpers import ACCOUNTS_HEADER, Run, fetch
from hostile_support import seed

# A second pass of about 0.2 s on SQLite (0.5 s on PostgreSQL): 20 looks at LOOK_S and more;
# the journal fits SQLite's cache. (On PostgreSQL an undo's time grows faster than its rows:
# 1.6 s at 10,000, 23 s at 30,000.)
ROWS = 10_000
# An import whose first commit (about a second into its rows) comes a second or more before
# its end.
KILLED_ROWS = 60_000
LOOK_S = 0.01  # how often the undo is looked at: its second pass is short


def write_accounts(path: Path, rows: int, name: str = "Company") -> Path:
    """Accounts with a third INDIVIDUAL (with their primary contact) and every tenth the
    child of the one before it."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        for i in range(rows):
            number = f"K-{i:06d}"
            if i % 3 == 0:
                person = [f"F{i}", f"L{i}", f"p{i}@example.com", "555"]
                writer.writerow([number, f"{name} {i}", "Retail", "", "", *person])
            else:
                parent = f"K-{i - 1:06d}" if i % 10 == 1 else ""
                writer.writerow([number, f"{name} {i}", "Enterprise", parent, "", "", "", "", ""])
    return path


def sqlite_path(db_url: str) -> Path | None:
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else None


def use_rollback_journal(db_url: str) -> None:
    """SQLite only: a rollback journal, whose file shows an undo's writes before it commits."""
    path = sqlite_path(db_url)
    if path is not None:
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)


def imported_run(tmp_path: Path, db_url: str, rows: int = ROWS) -> int:
    path = write_accounts(tmp_path / "accounts.csv", rows)
    run = run_command(*import_args(path, "Account", db_url, "--quiet"))
    assert run.exit_code == 0, run.stderr
    number = run.report["run"]
    assert isinstance(number, int)
    return number


# --- what an undo is doing, seen from outside -------------------------------------------

LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE a.application_name = 'custimport' AND l.mode = 'RowExclusiveLock' "
    "AND l.relation = CAST(:table AS regclass)"
)


def pg_writing(db_url: str, table: str) -> bool:
    return bool(fetch(db_url, LOCKS, table=table)[0][0])


def in_second_pass(db_url: str) -> Callable[[], bool]:
    """The undo has changed rows (and not committed)."""
    path = sqlite_path(db_url)
    if path is None:
        return lambda: pg_writing(db_url, "account") or pg_writing(db_url, "contact")
    journal = path.with_name(path.name + "-journal")
    return lambda: journal.exists() and journal.stat().st_size > 0


def not_yet_recording(db_url: str) -> bool:
    """The undo has not started to record itself in import_run."""
    path = sqlite_path(db_url)
    if path is None:
        return not pg_writing(db_url, "import_run")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        roots = {
            row[0]
            for row in connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'import_run'"
            )
        }
    return not roots & journaled_pages(path.with_name(path.name + "-journal"))


def journaled_pages(journal: Path) -> set[int]:
    """The page numbers in a SQLite rollback journal (its original copies of changed pages).

    Format (sqlite.org/fileformat.html, 4.4): a header padded to a sector (its magic still
    zero until the journal is first synced), then records of a 4-byte page number, the
    page and a 4-byte checksum; after a sync a new header may start at a sector boundary.
    """
    data = journal.read_bytes()
    magic = bytes.fromhex("d9d505f920a163d7")
    sector = int.from_bytes(data[20:24], "big")
    page_size = int.from_bytes(data[24:28], "big")
    assert sector and page_size, data[:32].hex()
    pages: set[int] = set()
    offset = sector
    while offset + 8 + page_size <= len(data):
        if offset % sector == 0 and data[offset : offset + 8] == magic:
            offset += sector
            continue
        pages.add(int.from_bytes(data[offset : offset + 4], "big"))
        offset += 8 + page_size
    return pages


def freeze(process: subprocess.Popen[bytes]) -> None:
    """SIGSTOP, and wait until the kernel says the process is stopped."""
    process.send_signal(signal.SIGSTOP)
    while state(process.pid) not in ("T", "t"):
        assert process.poll() is None, "the undo ended before it could be frozen"
        time.sleep(0.001)


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def start_undo(db_url: str, run: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [COMMAND, "undo", str(run), "--db", db_url, "--json", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def frozen_in_second_pass(process: subprocess.Popen[bytes], db_url: str) -> None:
    """Return with the undo frozen in its second pass, before it records itself."""
    seen = in_second_pass(db_url)
    deadline = time.monotonic() + OBSERVE_TIMEOUT_S
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the undo was never seen in its second pass"
        if _looks(seen):
            freeze(process)
            if _looks(seen) and _looks(lambda: not_yet_recording(db_url)):
                return
            process.send_signal(signal.SIGCONT)  # a moment too early or too late: look again
        time.sleep(LOOK_S)


def _looks(seen: Callable[[], bool]) -> bool:
    try:
        return seen()
    except (OSError, sqlite3.Error):  # the journal went away as it was read: not now
        return False


def finished(process: subprocess.Popen[bytes]) -> Run:
    stdout, stderr = process.communicate(timeout=300)
    return Run(process.returncode, stdout.decode(), stderr.decode())


def status(db_url: str, run: int) -> tuple[object, ...]:
    return fetch(db_url, "SELECT status, undone_by_run_id FROM import_run WHERE id = :r", r=run)[0]


# --- the tests --------------------------------------------------------------------------


def test_undo_of_an_import_killed_after_its_first_commit_gives_back_the_database(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    before = dump(db_url)
    path = write_accounts(tmp_path / "accounts.csv", KILLED_ROWS)
    process = subprocess.Popen(
        [COMMAND, *map(str, import_args(path, "Account", db_url, "--batch-size", "1000"))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        committed = rows_in(db_url, "account")
        deadline = time.monotonic() + OBSERVE_TIMEOUT_S
        while not _looks(committed):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(POLL_S)
        freeze(process)
        assert fetch(db_url, "SELECT count(*) FROM account")[0][0] < KILLED_ROWS
        process.kill()
    finally:
        process.kill()
        process.wait()
    (run,) = fetch(db_url, "SELECT id FROM import_run WHERE model = 'Account'")[0]
    assert status(db_url, run) == ("running", None)  # shown as killed: its pid is gone
    undone = run_command("undo", str(run), "--db", db_url, "--json")
    assert undone.exit_code == 0, undone.stderr
    assert undone.report["deleted"] > 0
    assert dump(db_url) == before
    assert status(db_url, run) == ("undone", undone.report["run"])


def test_an_undo_killed_in_its_second_pass_changed_nothing_and_undo_again_completes(
    tmp_path: Path, db_url: str
) -> None:
    seed(tmp_path, db_url)
    before = dump(db_url)
    run = imported_run(tmp_path, db_url)
    use_rollback_journal(db_url)
    after_import = dump(db_url)
    process = start_undo(db_url, run)
    try:
        frozen_in_second_pass(process, db_url)
        process.kill()
    finally:
        process.kill()
        process.wait()
    assert dump(db_url) == after_import
    assert status(db_url, run) == ("completed", None)
    assert fetch(db_url, "SELECT count(*) FROM import_run WHERE mode = 'undo'") == [(0,)]
    again = run_command("undo", str(run), "--db", db_url, "--json")
    assert again.exit_code == 0, again.stderr
    assert dump(db_url) == before
    assert status(db_url, run) == ("undone", again.report["run"])


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_during_an_undo_rolls_it_back(
    tmp_path: Path, db_url: str, signum: int, code: int
) -> None:
    seed(tmp_path, db_url)
    run = imported_run(tmp_path, db_url)
    use_rollback_journal(db_url)
    after_import = dump(db_url)
    process = start_undo(db_url, run)
    try:
        frozen_in_second_pass(process, db_url)
        process.send_signal(signum)
        process.send_signal(signal.SIGCONT)
        result = finished(process)
    finally:
        process.kill()
        process.wait()
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert_no_traceback(result)
    assert result.stderr.strip() == "Error: interrupted: nothing was changed"
    assert result.stdout == ""
    assert dump(db_url) == after_import
    assert status(db_url, run) == ("completed", None)
    assert fetch(db_url, "SELECT count(*) FROM import_run WHERE mode = 'undo'") == [(0,)]


def moment(value: Any) -> datetime:
    """A stored timestamp, aware (SQLite gives back its UTC text, without a zone)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime), value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_the_undo_s_own_run_starts_when_the_undo_does(tmp_path: Path, db_url: str) -> None:
    """Its run is written at the end, but its started_at is when the undo started: before a
    moment it was seen in its second pass (`runs` shows how long it took, not 0.0 s)."""
    seed(tmp_path, db_url)
    run = imported_run(tmp_path, db_url)
    use_rollback_journal(db_url)
    process = start_undo(db_url, run)
    try:
        frozen_in_second_pass(process, db_url)
        seen = datetime.now(UTC)
        process.send_signal(signal.SIGCONT)
        result = finished(process)
    finally:
        process.kill()
        process.wait()
    assert result.exit_code == 0, result.stderr
    query = "SELECT started_at, finished_at FROM import_run WHERE id = :r"
    started, ended = map(moment, fetch(db_url, query, r=result.report["run"])[0])
    assert started < seen < ended
