"""Shared machinery of the fault-injection suite (SPEC §12): run, injure, compare.

Every test here runs the installed `custimport` as a subprocess, injures it for real (a
full tmpfs, a read-only mount, a killed connection, a broken file) and then checks what it
said against a full dump of the database taken with plain SQL. Nothing in this module calls
into custimport itself, so a fault cannot be caught by a shortcut the real command lacks.

Timing is never guessed: an injury that must land mid-import waits for an observed event
(rows counted in the table, say) and then acts, while the command may be held still with
SIGSTOP so that the injury lands between two of its steps rather than "about then".
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from helpers import COMMAND, Run, fetch
from hostile_support import error_log_entries

# Every column of SPEC §1, id first, timestamps included: an update must move updated_at
# and an unchanged row must not, so they are part of what "changed" means.
COLUMNS = {
    "customer_group": "id, name, group_type, created_at, updated_at",
    "account": (
        "id, account_number, name, legal_name, customer_group_id, parent_account_id, "
        "website, industry, description, created_at, updated_at"
    ),
    "contact": (
        "id, account_id, first_name, last_name, email, phone, job_title, department, "
        "is_primary, created_at, updated_at"
    ),
}
MODEL_TABLE = {"CustomerGroup": "customer_group", "Account": "account", "Contact": "contact"}
COUNTED = ("created", "updated", "unchanged", "skipped", "failed")
OBSERVE_TIMEOUT_S = 120.0
# How often an observed condition is looked at (each look is a new connection, so not much
# more often: the import needs the CPU). Not a guess at timing: the action waits for the event.
POLL_S = 0.05

Dump = dict[str, dict[Any, tuple[Any, ...]]]
Action = Callable[["subprocess.Popen[bytes]"], None]


def dump(db_url: str) -> Dump:
    """Every row of the three tables, keyed by id: what the database really holds."""
    tables: Dump = {}
    for table, columns in COLUMNS.items():
        rows = fetch(db_url, f"SELECT {columns} FROM {table} ORDER BY id")
        if table == "contact":  # SQLite gives 0/1, PostgreSQL a bool
            rows = [(*row[:8], bool(row[8]), *row[9:]) for row in rows]
        tables[table] = {row[0]: row[1:] for row in rows}
    return tables


def changes(before: Dump, after: Dump, table: str) -> tuple[int, int, int]:
    """(rows added, rows changed, rows removed) in one table between two dumps."""
    old, new = before[table], after[table]
    added = sum(1 for key in new if key not in old)
    changed = sum(1 for key in new if key in old and new[key] != old[key])
    removed = sum(1 for key in old if key not in new)
    return added, changed, removed


def assert_report_matches_db(report: dict[str, Any] | None, before: Dump, after: Dump) -> None:
    """The report of SPEC §6 says what the database shows, as §12.1 demands.

    Committed: the model's table gained exactly `created` rows and changed exactly `updated`
    (an Account import's primary contacts likewise under `contacts`); nothing was removed and
    no other table moved. Not committed: the database is exactly as before.
    """
    assert report is not None, "no JSON report was printed, though the import ran"
    rows = report["rows"]
    assert rows["read"] == sum(rows[name] for name in COUNTED), rows
    if not report["committed"]:
        assert after == before, f"committed is false, yet the database changed: {rows}"
        return
    model = report["model"]
    table = MODEL_TABLE[model]
    added, changed, removed = changes(before, after, table)
    assert removed == 0, f"{removed} {table} rows disappeared"
    assert (added, changed) == (rows["created"], rows["updated"]), (
        f"the report says created {rows['created']}, updated {rows['updated']}; "
        f"the {table} table gained {added} rows and changed {changed}"
    )
    for other in COLUMNS:
        if other == table:
            continue
        if table == "account" and other == "contact":
            contacts = report["contacts"]
            added, changed, removed = changes(before, after, "contact")
            assert (added, changed, removed) == (contacts["created"], contacts["updated"], 0), (
                f"contacts in the report {contacts}, in the database +{added} ~{changed} -{removed}"
            )
        else:
            assert after[other] == before[other], f"{other} changed during a {model} import"


def assert_no_traceback(run: Run) -> None:
    """No Python traceback, and no "internal error" (the last-resort catch of cli.main: a bug)."""
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "internal error" not in output, output[-3000:]


def assert_one_error_line(run: Run, *fragments: str) -> str:
    """stderr is exactly one `Error: …` line holding every fragment (case-insensitive)."""
    assert_no_traceback(run)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr[-3000:]
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), (fragment, lines[0])
    return lines[0]


def assert_failed_rows_logged(report: dict[str, Any]) -> None:
    """Every failed row has its own entry in the error log, and nothing else is in it."""
    failed = report["rows"]["failed"]
    if not failed:
        return
    assert report["error_log"], f"{failed} rows failed but no error log is named"
    entries = error_log_entries(report["error_log"])
    assert len(entries) == failed, f"{failed} failed rows, {len(entries)} error-log entries"


def parsed_report(run: Run) -> dict[str, Any] | None:
    """The JSON report on stdout, or None when stdout holds none."""
    text = run.stdout.strip()
    if not text.startswith("{"):
        return None
    return run.report


def run_command(
    *args: str | Path,
    preexec: Callable[[], None] | None = None,
    when: tuple[Callable[[], bool], Action] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> Run:
    """Run the installed command; with `when=(seen, act)`, call `act(process)` once `seen()`.

    `preexec` runs in the child before exec (resource limits). Output goes to files, not
    pipes, so a command that prints a lot cannot stall while the test is observing it.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [COMMAND, *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=preexec,
            env=env,
            cwd=cwd,
        )
        try:
            if when is not None:
                seen, act = when
                wait_for(process, seen, out, err)
                act(process)
            code = process.wait(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return Run(code, _text(out), _text(err))


def wait_for(process: subprocess.Popen[bytes], seen: Callable[[], bool], *outputs: Any) -> None:
    """Return once `seen()` is true while the process still runs; fail if it ends first."""
    deadline = time.monotonic() + OBSERVE_TIMEOUT_S
    while not _safely(seen):
        if process.poll() is not None:
            said = " | ".join(_text(output)[-2000:] for output in outputs)
            raise AssertionError(f"the command ended (exit {process.returncode}) first: {said}")
        assert time.monotonic() < deadline, "the awaited event was never observed"
        time.sleep(POLL_S)


def _safely(seen: Callable[[], bool]) -> bool:
    """A look at a database being created or written may fail; that is "not yet"."""
    try:
        return seen()
    except Exception:
        return False


def _text(handle: Any) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", errors="replace")  # type: ignore[no-any-return]


def rows_in(db_url: str, table: str, at_least: int = 1) -> Callable[[], bool]:
    """An observation: `table` holds at least `at_least` committed rows."""
    return lambda: fetch(db_url, f"SELECT count(*) FROM {table}")[0][0] >= at_least


def paused(*injuries: Callable[[], None]) -> Action:
    """An action: hold the process still (SIGSTOP), injure, let it go on (SIGCONT)."""

    def act(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGSTOP)
        try:
            for injure in injuries:
                injure()
        finally:
            process.send_signal(signal.SIGCONT)

    return act


def fill(folder: Path) -> Callable[[], None]:
    """An injury: fill the file system holding `folder` to the last byte."""

    def injure() -> None:
        block = b"\0" * 4096
        with (folder / "filler").open("ab", buffering=0) as handle:
            for size in (4096, 512, 1):
                try:
                    while True:
                        handle.write(block[:size])
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    return injure


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec: files the command writes cannot grow past `limit` bytes (EFBIG, as full).

    Python ignores SIGXFSZ, so the write fails with an error instead of killing the process.
    """

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


def import_args(path: Path, model: str, db_url: str, *extra: str | Path) -> list[str | Path]:
    """The arguments of an import with a JSON report (the form every test here checks)."""
    return [path, "--model", model, "--db", db_url, "--json", *extra]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, without a database URL that could leak into a run."""
    env = {k: v for k, v in os.environ.items() if k != "CUSTIMPORT_DATABASE_URL"}
    env.update(extra)
    return env


def unmount(point: Path) -> None:
    """Unmount a tmpfs; lazily if something still holds it, so teardown never leaves it."""
    result = subprocess.run(["umount", str(point)], capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, text=True)


def mount_tmpfs(size_kib: int, options: Sequence[str] = ()) -> Path:
    """Mount a tmpfs of `size_kib` KiB in a fresh folder any user can reach (the PostgreSQL
    server runs as `postgres` and must reach a tablespace there)."""
    point = Path(tempfile.mkdtemp(prefix="custimport-tmpfs-", dir="/tmp"))
    point.chmod(0o755)
    settings = ",".join([f"size={size_kib}k", "mode=0755", *options])
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", settings, "none", str(point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        point.rmdir()
        raise OSError(f"mount -t tmpfs failed: {result.stderr.strip()}")
    return point


def remount_read_only(point: Path) -> None:
    """Make a mounted tmpfs read-only: writes fail with EROFS, for root as for anyone."""
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)
