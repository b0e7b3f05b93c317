"""`custimport undo` as installed, with processes at once (SPEC §8).

Two undos of one run at once apply it once: the second waits for the first (the run's row
locked on PostgreSQL, the write lock on SQLite), then finds it undone and exits 2. An undo
and an import writing the same rows never lose the import's values: whichever waits for
the other, the import's values are what stays (the undo reverses the rows first, or sees
the import's values and stops on conflicts).

The overlap is made, not hoped for: the first process is frozen (SIGSTOP) in the middle of
its transaction, the second is seen waiting for it (pg_stat_activity; on SQLite, the file
open in /proc), and only then is the first let go.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from helpers import ACCOUNTS_HEADER, COMMAND, Run, fetch, run_import
from hostile_support import full_dump, seed

Dump = dict[str, list[tuple[Any, ...]]]
# An undo of these rows writes for about 0.2 s on SQLite (0.5 s on PostgreSQL): 20 looks at
# POLL_S and more. Not a multiple of 3, so a third INDIVIDUAL is ROWS // 3 + 1 accounts.
ROWS = 10_000
# An import goes on after its first commit (a second into its rows) for 0.3 s at 10,000 rows
# on SQLite: the import an undo meets has twice as many, so that its end is never near.
IMPORT_ROWS = 20_000
POLL_S = 0.01
TIMEOUT_S = 120.0


def write_accounts(path: Path, name: str, rows: int = ROWS) -> Path:
    """Accounts named `name i`: a third INDIVIDUAL with their contact, the rest BUSINESS."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        for i in range(rows):
            if i % 3 == 0:
                person = [f"F{i}", f"L{i}", f"p{i}@example.com", ""]
                writer.writerow([f"K-{i:06d}", f"{name} {i}", "Retail", "", "", *person])
            else:
                writer.writerow([f"K-{i:06d}", f"{name} {i}", "Enterprise", "", "", "", "", "", ""])
    return path


def command(*args: str | Path) -> Run:
    result = subprocess.run(
        [COMMAND, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return Run(result.returncode, result.stdout, result.stderr)


# what each started command printed: files, not pipes, so that a command printing more
# than a pipe holds (an undo listing a thousand conflicts) never blocks on its output
# while the test waits for it to do something else
_OUTPUTS: dict[int, tuple[IO[bytes], IO[bytes]]] = {}


def start(*args: str | Path) -> subprocess.Popen[str]:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 (closed by finished)
    process = subprocess.Popen(
        [COMMAND, *map(str, args)], stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True
    )
    _OUTPUTS[process.pid] = (out, err)
    return process


def finished(process: subprocess.Popen[str]) -> Run:
    process.wait(timeout=300)
    out, err = _OUTPUTS.pop(process.pid)
    texts = []
    for handle in (out, err):
        handle.seek(0)
        texts.append(handle.read().decode("utf-8"))
        handle.close()
    return Run(process.returncode, texts[0], texts[1])


def created_run(tmp_path: Path, db_url: str, rows: int = ROWS) -> tuple[int, Dump]:
    """Groups, then `rows` accounts: the accounts' run, and the database before it. SQLite
    gets a rollback journal, whose file shows a transaction's first write."""
    seed(tmp_path, db_url)
    before = full_dump(db_url)
    run = run_import(write_accounts(tmp_path / "old.csv", "Old", rows), "Account", db_url)
    assert run.exit_code == 0, run.stderr
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
    number = run.report["run"]
    assert isinstance(number, int)
    return number, before


# --- observations -------------------------------------------------------------------------


def wait_until(seen: Callable[[], bool], *running: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not _looks(seen):
        for process in running:
            assert process.poll() is None, finished(process)
        assert time.monotonic() < deadline, "the awaited state was never observed"
        time.sleep(POLL_S)


def _looks(seen: Callable[[], bool]) -> bool:
    try:
        return seen()
    except Exception:  # a database in the middle of a write may refuse a look: not yet
        return False


def writing(db_url: str) -> Callable[[], bool]:
    """A custimport process has changed rows and not committed."""
    if db_url.startswith("sqlite"):
        journal = Path(db_url.removeprefix("sqlite:///") + "-journal")
        return lambda: journal.exists() and journal.stat().st_size > 0
    query = (
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.application_name = 'custimport' AND l.mode = 'RowExclusiveLock' "
        "AND l.relation IN (CAST('account' AS regclass), CAST('contact' AS regclass))"
    )
    return lambda: fetch(db_url, query)[0][0] > 0


def waiting(db_url: str, process: subprocess.Popen[str]) -> Callable[[], bool]:
    """`process` is held up by another's transaction: a lock wait on PostgreSQL; on SQLite,
    the database file open (whatever it does next needs the lock the other one holds)."""
    if db_url.startswith("sqlite"):
        database = Path(db_url.removeprefix("sqlite:///")).resolve()
        folder = Path(f"/proc/{process.pid}/fd")
        return lambda: any(Path(os.readlink(fd)) == database for fd in folder.iterdir())
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'custimport' AND wait_event_type = 'Lock'"
    )
    return lambda: fetch(db_url, query)[0][0] > 0


def frozen(process: subprocess.Popen[str], seen: Callable[[], bool]) -> None:
    """Wait for `seen`, then SIGSTOP the process; the state is looked at again while it is
    stopped, so the process is known to be frozen in it."""
    while True:
        wait_until(seen, process)
        process.send_signal(signal.SIGSTOP)
        while Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
            time.sleep(0.001)
        if _looks(seen):
            return
        process.send_signal(signal.SIGCONT)


def names(db_url: str) -> set[str]:
    return {row[0].split()[0] for row in fetch(db_url, "SELECT name FROM account")}


# --- the command ----------------------------------------------------------------------------


def test_undo_prints_a_short_summary_and_exits_0(tmp_path: Path, sqlite_url: str) -> None:
    seed(tmp_path, sqlite_url)
    run = run_import(write_accounts(tmp_path / "a.csv", "Old", 30), "Account", sqlite_url)
    number = run.report["run"]
    done = command("undo", number, "--db", sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        f"Undo of run {number} (Account import)",
        "  deleted 40 rows, restored 0",
        f"Recorded as run {number + 1}; run {number} is now undone.",
    ]
    again = command("undo", number, "--db", sqlite_url)
    assert again.exit_code == 2 and again.stdout == ""
    assert again.stderr == f"Error: run {number} is already undone (by run {number + 1})\n"


def test_a_dry_run_says_so_and_a_stopped_undo_says_how_to_go_on(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed(tmp_path, sqlite_url)
    imported = run_import(write_accounts(tmp_path / "a.csv", "Old", 3), "Account", sqlite_url)
    run = imported.report["run"]
    dry = command("undo", run, "--db", sqlite_url, "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout.splitlines()[1:] == [
        "  would delete 4 rows, would restore 0",
        "Dry run: nothing was changed.",
    ]
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE account SET website = 'w' WHERE account_number = 'K-000001'")
    stopped = command("undo", run, "--db", sqlite_url)
    assert stopped.exit_code == 1
    assert stopped.stdout.splitlines()[1:] == [
        "1 conflict:",
        "  account K-000001: changed since: field website",
        "Nothing was changed: an undo is all or nothing. --skip-conflicts reverses the rest "
        "and leaves these rows as they are.",
    ]
    skipped = command("undo", run, "--db", sqlite_url, "--skip-conflicts")
    assert skipped.exit_code == 1, skipped.stderr
    assert skipped.stdout.splitlines()[1:] == [
        "  deleted 3 rows, restored 0",
        "1 conflict:",
        "  account K-000001: changed since: field website",
        f"Recorded as run {run + 1}; run {run} is partly undone: the conflicts were left as "
        f"they are, `custimport undo {run}` reverses them once they are resolved.",
    ]


def test_a_run_number_no_run_can_have_is_no_run_and_creates_nothing(tmp_path: Path) -> None:
    database = tmp_path / "none.db"
    for number in ("99999999999999999999", "2147483648", "0", "1"):
        refused = command("undo", number, "--db", f"sqlite:///{database}")
        assert refused.exit_code == 2 and refused.stdout == ""
        assert refused.stderr == (
            f"Error: there is no run {number} in this database; `custimport runs` lists them\n"
        )
    assert not database.exists()


# --- at once --------------------------------------------------------------------------------


def test_two_undos_of_one_run_at_once_apply_it_once(tmp_path: Path, db_url: str) -> None:
    run, before = created_run(tmp_path, db_url)
    first = start("undo", run, "--db", db_url, "--json")
    second: subprocess.Popen[str] | None = None
    try:
        frozen(first, writing(db_url))
        second = start("undo", run, "--db", db_url, "--json")
        wait_until(waiting(db_url, second), second)
        first.send_signal(signal.SIGCONT)
        applied, refused = finished(first), finished(second)
    finally:
        for process in (first, second):
            if process is not None:
                process.kill()
                process.wait()
    assert applied.exit_code == 0, applied.stderr
    assert applied.report["deleted"] == ROWS + ROWS // 3 + 1
    assert refused.exit_code == 2, (refused.stdout, refused.stderr)
    assert refused.stderr == (
        f"Error: run {run} is already undone (by run {applied.report['run']})\n"
    )
    assert full_dump(db_url) == before
    assert fetch(db_url, "SELECT count(*) FROM import_run WHERE mode = 'undo'") == [(1,)]


def test_an_import_that_waits_for_an_undo_writes_its_values_after_it(
    tmp_path: Path, db_url: str
) -> None:
    run, _ = created_run(tmp_path, db_url)
    newer = write_accounts(tmp_path / "new.csv", "New")
    undo = start("undo", run, "--db", db_url, "--json")
    load: subprocess.Popen[str] | None = None
    try:
        frozen(undo, writing(db_url))
        load = start(newer, "--model", "Account", "--db", db_url, "--json", "--batch-size", "500")
        wait_until(waiting(db_url, load), load)
        undo.send_signal(signal.SIGCONT)
        undone, imported = finished(undo), finished(load)
    finally:
        for process in (undo, load):
            if process is not None:
                process.kill()
                process.wait()
    assert undone.exit_code == 0, undone.stderr
    assert imported.exit_code == 0, imported.stderr
    assert names(db_url) == {"New"}  # the undo overwrote none of the import's values
    assert fetch(db_url, "SELECT count(*) FROM account") == [(ROWS,)]


def test_an_undo_that_meets_an_import_s_values_changes_nothing(tmp_path: Path, db_url: str) -> None:
    run, _ = created_run(tmp_path, db_url, IMPORT_ROWS)
    newer = write_accounts(tmp_path / "new.csv", "New", IMPORT_ROWS)
    load = start(newer, "--model", "Account", "--db", db_url, "--json", "--batch-size", "500")
    undo: subprocess.Popen[str] | None = None
    try:
        committed = "SELECT count(*) FROM account WHERE name LIKE 'New %'"
        frozen(load, lambda: fetch(db_url, committed)[0][0] > 0)
        undo = start("undo", run, "--db", db_url, "--json")
        wait_until(lambda: undo.poll() is not None or waiting(db_url, undo)())
        load.send_signal(signal.SIGCONT)
        undone, imported = finished(undo), finished(load)
    finally:
        for process in (load, undo):
            if process is not None:
                process.kill()
                process.wait()
    assert imported.exit_code == 0, imported.stderr
    assert undone.exit_code == 1, (undone.stdout, undone.stderr)
    reasons = {conflict["reason"] for conflict in undone.report["conflicts"]}
    # the INDIVIDUAL accounts' contacts would stay with their accounts
    assert reasons == {"changed since: field name", "its account is left in place"}
    assert undone.report["run"] is None
    assert names(db_url) == {"New"}
    assert fetch(db_url, "SELECT count(*) FROM account") == [(IMPORT_ROWS,)]
    assert fetch(db_url, "SELECT status FROM import_run WHERE id = :r", r=run) == [("completed",)]
