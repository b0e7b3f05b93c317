"""Interrupted imports, with real processes (issue: hardening, point 3).

SIGKILL mid-import leaves a consistent database (whole batches only, no account without its
individual contact), and running the same file again ends where an uninterrupted run ends.
SIGINT and SIGTERM finish (or, under --atomic, roll back) the batch in flight, print the
summary so far and exit 130 and 143.

The moment is an observed one, never a delay: the import is frozen (SIGSTOP) and looked at,
and signalled only if it is frozen mid-import (some batches committed, not all; or inside its
one transaction), so it cannot end between the look and the signal on any machine. Where it
was frozen inside a batch (reading, planning, writing, committing) depends on the polling.
"""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from custimport.rows.accounts import AccountHandler
from custimport.run.job import ImportReport, ImportRequest
from custimport.schemas import MODELS
from custimport.service import recording
from custimport.store import db
from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    cli,
    fetch,
    run_import,
    write_csv,
)
from hostile_support import GROUPS, consistency_problems, count, dump, seed
from pg_server import PostgresServer

KILL_ROWS = 100_000
KILL_BATCH = 1000
SIGNAL_BATCH = 500


def write_accounts(path: Path, rows: int) -> Path:
    """Valid accounts only (so committed rows come in whole batches): a third INDIVIDUAL with
    their contact, and every tenth one the child of the account just before it."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        for i in range(rows):
            number = f"K-{i:06d}"
            if i % 3 == 0:
                writer.writerow(
                    [
                        number,
                        f"Person {i}",
                        "Retail",
                        "",
                        "",
                        f"F{i}",
                        f"L{i}",
                        f"p{i}@example.com",
                        "555",
                    ]
                )
            else:
                parent = f"K-{i - 1:06d}" if i % 10 == 1 else ""
                writer.writerow(
                    [number, f"Company {i}", "Enterprise", parent, "example.com", "", "", "", ""]
                )
    return path


@pytest.fixture(scope="module")
def kill_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_accounts(tmp_path_factory.mktemp("kill") / "accounts.csv", KILL_ROWS)


def start_import(path: Path, db_url: str, batch_size: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            COMMAND,
            str(path),
            "--model",
            "Account",
            "--db",
            db_url,
            "--batch-size",
            str(batch_size),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def committed_accounts(db_url: str) -> int:
    try:
        return count(db_url, "account")
    except Exception:  # the schema may not exist yet, or the file is being created
        return 0


def freeze(process: subprocess.Popen[str]) -> None:
    """Stop the import (SIGSTOP) and wait until the kernel says it is stopped."""
    process.send_signal(signal.SIGSTOP)
    while state(process.pid) != "T":
        assert process.poll() is None, process.communicate()  # it ended before the stop
        time.sleep(0.001)


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def freeze_mid_import(process: subprocess.Popen[str], seen_mid_import: Callable[[], bool]) -> None:
    """Return with the import frozen at a moment `seen_mid_import()`, asked while it was
    frozen, says it is in the middle of its work: it cannot end before what comes next."""
    deadline = time.monotonic() + 60
    while True:
        freeze(process)
        try:
            seen = seen_mid_import()
        except BaseException:
            process.kill()  # never left frozen: `with Popen` would wait on it for ever
            raise
        if seen:
            return
        process.send_signal(signal.SIGCONT)
        assert time.monotonic() < deadline, "the import was never seen in the middle"
        time.sleep(0.02)


def some_committed(db_url: str) -> Callable[[], bool]:
    """Mid-import: some batches committed, not all."""

    def seen() -> bool:
        committed = committed_accounts(db_url)
        assert committed < KILL_ROWS, "the whole file went in before its first periodic commit"
        return committed > 0

    return seen


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (a background reader, multiprocessing's helpers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    return state(pid) not in {"Z", "gone"}


def assert_gone(pids: list[int]) -> None:
    """Helper processes of a killed import end by themselves within a few seconds."""
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "processes of the killed import kept running"


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stdout, stderr


def check_killed_then_rerun(
    tmp_path: Path, path: Path, killed_url: str, reference_url: str
) -> None:
    seed(tmp_path, killed_url)
    seed(tmp_path, reference_url)
    reference = start_import(path, reference_url, KILL_BATCH, "--json", "--quiet")
    try:
        check_killed(path, killed_url)
        code, stdout, stderr = finish(reference)
    finally:
        if reference.poll() is None:
            reference.kill()
    assert code == 0, stderr
    assert json.loads(stdout)["rows"]["created"] == KILL_ROWS
    assert dump(killed_url) == dump(reference_url)


def check_killed(path: Path, killed_url: str) -> None:
    """Kill an import frozen mid-import, check, and run the file again."""
    victim = start_import(path, killed_url, KILL_BATCH, "--json", "--quiet")
    try:
        freeze_mid_import(victim, some_committed(killed_url))
        started = children_of(victim.pid)
        print(f"processes started by the import: {started}")
        victim.kill()
        assert victim.wait(timeout=30) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
    assert_gone(started)
    accounts = count(killed_url, "account")
    print(f"killed with {accounts} accounts committed")
    assert 0 < accounts < KILL_ROWS
    assert accounts % KILL_BATCH == 0, "a batch was committed in part"
    assert consistency_problems(killed_url) == []
    individual = fetch(
        killed_url,
        "SELECT count(*) FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "WHERE g.group_type = 'INDIVIDUAL'",
    )[0][0]
    assert count(killed_url, "contact") == individual

    rerun = start_import(
        path, killed_url, KILL_BATCH, "--json", "--quiet", "--mode", "create_update"
    )
    code, stdout, stderr = finish(rerun)
    assert code == 0, stderr
    rows = json.loads(stdout)["rows"]
    assert rows["unchanged"] == accounts and rows["created"] == KILL_ROWS - accounts


@pytest.mark.slow
def test_sigkill_mid_import_leaves_whole_batches_and_a_rerun_completes_it_on_sqlite(
    tmp_path: Path, kill_file: Path
) -> None:
    check_killed_then_rerun(
        tmp_path,
        kill_file,
        f"sqlite:///{tmp_path / 'killed.db'}",
        f"sqlite:///{tmp_path / 'reference.db'}",
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_mid_import_leaves_whole_batches_and_a_rerun_completes_it_on_postgresql(
    tmp_path: Path, kill_file: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    reference_name = f"reference_{uuid.uuid4().hex[:12]}"
    reference_url = pg_server.create_database(reference_name)
    try:
        check_killed_then_rerun(tmp_path, kill_file, postgres_url, reference_url)
    finally:
        pg_server.drop_database(reference_name)


# --- SIGINT and SIGTERM -----------------------------------------------------------------------------


def write_locked(path: Path) -> bool:
    """Whether another connection holds the SQLite write lock (probed without waiting)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        probe.close()


def inside_one_transaction(path: Path) -> Callable[[], bool]:
    """--atomic and --dry-run never commit: inside its one transaction, the import has held
    the write lock for 0.3 s on end, which the short schema check before it never does (the
    lock is looked at while the import is frozen, between 20 ms of work each time)."""
    since: list[float] = []

    def seen() -> bool:
        if not write_locked(path):
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= 0.3

    return seen


def interrupt(
    path: Path, db_url: str, signum: int, *extra: str, twice: bool = False
) -> tuple[int, str, str]:
    """Signal an import once it is writing; return its exit status (as a shell shows it:
    death by a signal is 128 + the signal), stdout and stderr."""
    process = start_import(path, db_url, SIGNAL_BATCH, *extra)
    try:
        if "--atomic" in extra or "--dry-run" in extra:
            database = Path(db_url.removeprefix("sqlite:///"))
            freeze_mid_import(process, inside_one_transaction(database))
        else:
            freeze_mid_import(process, some_committed(db_url))
        process.send_signal(signum)  # delivered as it goes on
        process.send_signal(signal.SIGCONT)
        if twice:
            time.sleep(0.01)
            process.send_signal(signum)
        code, stdout, stderr = finish(process)
        return (128 - code if code < 0 else code), stdout, stderr
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_sigint_sigterm_and_sighup_commit_the_batch_in_flight_report_and_exit(
    tmp_path: Path, db_url: str, kill_file: Path, signum: int, code: int
) -> None:
    seed(tmp_path, db_url)
    exit_code, stdout, stderr = interrupt(kill_file, db_url, signum, "--json")
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    assert report["completed"] is False and report["committed"] is True
    rows = report["rows"]
    assert rows["read"] == rows["created"] < KILL_ROWS
    assert count(db_url, "account") == rows["created"] > 0
    assert consistency_problems(db_url) == []


def test_the_human_summary_says_the_import_was_interrupted(
    tmp_path: Path, sqlite_url: str, kill_file: Path
) -> None:
    seed(tmp_path, sqlite_url)
    exit_code, stdout, stderr = interrupt(kill_file, sqlite_url, signal.SIGINT)
    assert exit_code == 130, stderr
    assert "Traceback" not in stderr
    assert "Interrupted: the batches before the interruption were committed." in stdout
    assert "created" in stdout


def test_a_second_ctrl_c_stops_at_once_and_leaves_a_consistent_database(
    tmp_path: Path, sqlite_url: str, kill_file: Path
) -> None:
    seed(tmp_path, sqlite_url)
    exit_code, _stdout, stderr = interrupt(
        kill_file, sqlite_url, signal.SIGINT, "--json", twice=True
    )
    assert exit_code == 130, stderr
    assert "Traceback" not in stderr
    assert 0 < count(sqlite_url, "account") < KILL_ROWS
    assert consistency_problems(sqlite_url) == []


@pytest.mark.parametrize("moment", ["a commit mid-import", "the last commit"])
def test_a_second_ctrl_c_as_a_commit_returns_still_reports_every_committed_row(
    tmp_path: Path,
    sqlite_url: str,
    kill_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    """The race made deterministic: the Ctrl-Cs are sent from inside Connection.commit."""
    seed(tmp_path, sqlite_url)
    commits_with_rows = []
    real_commit = Connection.commit

    def commit_and_ctrl_c(self: Connection) -> None:
        real_commit(self)
        if count(sqlite_url, "account") == 0:
            return
        commits_with_rows.append(True)
        if len(commits_with_rows) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: finish and stop
            if moment == "a commit mid-import":
                raise KeyboardInterrupt  # the second, pressed right after the first
        elif len(commits_with_rows) == 2:
            raise KeyboardInterrupt  # the second, as the last commit returns

    monkeypatch.setattr(Connection, "commit", commit_and_ctrl_c)
    run = run_import(kill_file, "Account", sqlite_url, "--batch-size", str(SIGNAL_BATCH))
    monkeypatch.undo()
    assert run.exit_code == 130
    assert count(sqlite_url, "account") == run.rows["created"] > 0


def test_ctrl_c_as_a_finished_import_closes_its_connection_changes_nothing(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two Ctrl-Cs sent from inside the close of the import's connection, once its rows
    are committed: it closes with Ctrl-C ignored, so the import ends as it would have (a
    Ctrl-C inside SQLAlchemy's pool made it log a traceback)."""
    seed(tmp_path, sqlite_url)
    path = tmp_path / "small.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        writer.writerows([[f"C-{i}", f"Account {i}", "Enterprise"] + [""] * 6 for i in range(50)])
    database = sqlite_url.removeprefix("sqlite:///")
    sent = []
    real_close = Connection.close

    def close_with_ctrl_c(self: Connection) -> None:
        with sqlite3.connect(database) as raw:
            (accounts,) = raw.execute("SELECT count(*) FROM account").fetchone()
        if accounts and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        real_close(self)

    monkeypatch.setattr(Connection, "close", close_with_ctrl_c)
    run = run_import(path, "Account", sqlite_url)
    monkeypatch.undo()
    assert sent, "the Ctrl-Cs were never sent"
    assert (run.exit_code, run.rows["created"]) == (0, 50), run.stderr


def test_a_hard_stop_while_rows_wait_for_their_parents_says_the_import_is_incomplete(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows whose parent came later are written again at the end; a KeyboardInterrupt
    there (a second Ctrl-C) leaves them unwritten, and the report must say so."""
    seed(tmp_path, sqlite_url)
    path = tmp_path / "forward.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ACCOUNTS_HEADER)
        writer.writerow(["F-1", "Child", "Enterprise", "F-2"] + [""] * 5)
        writer.writerow(["F-2", "Parent", "Enterprise", ""] + [""] * 5)
    real_plan = AccountHandler.plan

    def plan_or_ctrl_c(self: AccountHandler, conn: Connection, rows: Any, final: bool) -> Any:
        if final:  # the waiting rows are planned as the file's last batches
            raise KeyboardInterrupt  # a second Ctrl-C, as they are written
        return real_plan(self, conn, rows, final)

    monkeypatch.setattr(AccountHandler, "plan", plan_or_ctrl_c)
    run = run_import(path, "Account", sqlite_url, "--batch-size", "1")
    monkeypatch.undo()
    assert run.exit_code == 130
    assert run.report["completed"] is False
    assert run.rows["read"] == run.rows["created"] == 1  # the parent; the child never went in
    assert count(sqlite_url, "account") == 1


@pytest.mark.parametrize(
    ("option", "signum", "code"),
    [("--atomic", signal.SIGINT, 130), ("--dry-run", signal.SIGTERM, 143)],
)
def test_an_interrupted_atomic_or_dry_run_import_writes_nothing(
    tmp_path: Path, sqlite_url: str, kill_file: Path, signum: int, code: int, option: str
) -> None:
    seed(tmp_path, sqlite_url)
    exit_code, stdout, stderr = interrupt(kill_file, sqlite_url, signum, "--json", option)
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    assert report["committed"] is False and report["completed"] is False
    assert count(sqlite_url, "account") == 0
    assert count(sqlite_url, "contact") == 0
    if option == "--atomic":  # recorded as interrupted, having committed nothing
        assert recorded_runs(sqlite_url, "Account") == [("interrupted", 0, 0, None)]
        assert resume_hints(kill_file, "Account", sqlite_url) == []


def recorded_runs(db_url: str, model: str | None = None) -> list[tuple[Any, ...]]:
    """(status, rows read, rows created, last line committed) of each run, oldest first."""
    where = "WHERE model = :model" if model else ""
    return fetch(
        db_url,
        f"SELECT status, rows_read, rows_created, last_line FROM import_run {where} ORDER BY id",
        model=model,
    )


def resume_hints(path: Path, model: str, db_url: str) -> list[str]:
    """What an import of `path` would warn before its rows (asked as a dry run does: it
    records no run), where the hint to --resume an earlier run of the file is printed."""
    spec = MODELS[model.lower()]
    request = ImportRequest(path=path, spec=spec, database_url=db_url, dry_run=True)
    warnings: list[str] = []
    engine = db.make_engine(db_url)
    try:
        recording.begin(engine, request, None, ImportReport(request), warnings.append)
    finally:
        engine.dispose()
    return warnings


def test_an_interrupted_atomic_import_of_several_files_records_nothing_committed(
    tmp_path: Path, sqlite_url: str, kill_file: Path
) -> None:
    """Ctrl-C inside the accounts of one --atomic transaction of three files: nothing is in;
    the groups' run (rolled back with it) and the contacts' (never reached) end
    `rolled_back` and cannot be undone, the accounts' `interrupted`; none records a
    committed row, so none is offered for --resume."""
    groups = write_csv(tmp_path / "groups.csv", GROUPS_HEADER, GROUPS)
    contacts = write_csv(
        tmp_path / "contacts.csv", CONTACTS_HEADER, [["K-000001", "Ann", "Lee", "", "", ""]]
    )
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    command = [COMMAND, str(contacts), str(kill_file), str(groups), "--atomic", "--json"]
    process = subprocess.Popen(
        [*command, "--db", sqlite_url, "--batch-size", str(SIGNAL_BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        freeze_mid_import(process, inside_one_transaction(database))
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGCONT)
        code, stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    assert [f["model"] for f in report["files"]] == ["CustomerGroup", "Account"]
    assert [f["file"] for f in report["not_imported"]] == [str(contacts)]
    for table in ("customer_group", "account", "contact", "import_change"):
        assert count(sqlite_url, table) == 0, table
    assert recorded_runs(sqlite_url) == [
        ("rolled_back", 0, 0, None),
        ("interrupted", 0, 0, None),
        ("rolled_back", 0, 0, None),
    ]
    numbers = [row[0] for row in fetch(sqlite_url, "SELECT id FROM import_run ORDER BY id")]
    for number in (numbers[0], numbers[2]):
        undo = cli("undo", str(number), "--db", sqlite_url)
        assert undo.exit_code == 2 and "rolled back" in undo.stderr, undo.stderr
    assert resume_hints(kill_file, "Account", sqlite_url) == []


def test_an_interrupted_import_writes_the_change_file_of_what_it_committed(
    tmp_path: Path, db_url: str, kill_file: Path
) -> None:
    """Ctrl-C: the batch in flight commits, and --changes lists exactly the committed
    changes (the run's own journal says the same)."""
    seed(tmp_path, db_url)
    out = tmp_path / "changes.csv"
    exit_code, stdout, stderr = interrupt(
        kill_file, db_url, signal.SIGINT, "--json", "--changes", str(out)
    )
    assert exit_code == 130, stderr
    report = json.loads(stdout)
    with out.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert report["changes_file"]["changes"] == len(lines) - 1
    created = [line for line in lines[1:] if line[1] == "Account" and line[3] == "created"]
    assert 0 < len(created) == report["rows"]["created"] == count(db_url, "account") < KILL_ROWS
    shown = cli("runs", "show", str(report["run"]), "-o", tmp_path / "s.csv", "--db", db_url)
    assert shown.exit_code == 0, shown.stderr
    assert (tmp_path / "s.csv").read_bytes() == out.read_bytes()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_change_file_is_written_drops_it_and_says_so(
    tmp_path: Path, sqlite_url: str, kill_file: Path, signum: int, code: int
) -> None:
    """The rows are committed; the change file being written is dropped (no part left),
    the report says why, and the exit status is the signal's."""
    seed(tmp_path, sqlite_url)
    out = tmp_path / "changes.csv"
    process = start_import(kill_file, sqlite_url, KILL_BATCH, "--json", "--changes", str(out))
    try:

        def writing() -> bool:
            return any(p.stat().st_size > 0 for p in tmp_path.glob(".changes.csv.*.part"))

        freeze_mid_import(process, writing)
        process.send_signal(signum)
        process.send_signal(signal.SIGCONT)
        status, stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert status == code, stderr
    assert f"interrupted: nothing was written to {out}" in stderr
    report = json.loads(stdout)
    assert report["committed"] is True and report["rows"]["created"] == KILL_ROWS
    assert report["changes_file"]["changes"] is None
    assert sorted(p.name for p in tmp_path.iterdir() if "changes" in p.name) == []
    # every row went in before the signal: the run is complete, nothing to resume
    status = "SELECT status FROM import_run WHERE id = :r"
    assert fetch(sqlite_url, status, r=report["run"]) == [("completed",)]
