"""`--changes FILE` (SPEC §9): the CSV of every change an import makes, or with --dry-run
would make, in the format `runs show RUN -o FILE` writes too (io/change_file.py).

On both engines: a dry run's change file is the real import's, line for line, and the
database is untouched by the dry run; --no-undo writes the same file without keeping a
journal; a run rolled back writes only the header; a bad --changes is exit 2 before
anything is read.
"""

import csv
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    account_row,
    cli,
    fetch,
    run_import,
    seed_groups,
    write_csv,
)
from hostile_support import full_dump

HEADER = ["line", "model", "key", "action", "field", "before", "after"]


def first_file(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "v1.csv",
        ACCOUNTS_HEADER,
        [
            account_row("K-1", website="https://one.example"),
            account_row("K-2", group="Retail", first="Ann", last="Lee", email="ann@x.org"),
            account_row("K-3"),
        ],
    )


def second_file(tmp_path: Path) -> Path:
    """K-1's website and name change; K-2's primary contact changes its last name; K-3 is
    unchanged; K-4 is new (INDIVIDUAL: with a primary contact); line 6 fails."""
    return write_csv(
        tmp_path / "v2.csv",
        ACCOUNTS_HEADER,
        [
            account_row("K-1", name="Renamed One", website="https://new.example"),
            account_row("K-2", group="Retail", first="Ann", last="Smith", email="ann@x.org"),
            account_row("K-3"),
            account_row("K-4", group="Retail", first="Bo", last="Ng", email="bo@x.org"),
            account_row("K-5", group="No such group"),
        ],
    )


def lines_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_a_dry_run_writes_the_change_file_of_the_import_that_follows(
    db_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, db_url)
    assert run_import(first_file(tmp_path), "Account", db_url).exit_code == 0
    before = full_dump(db_url)
    runs_before = fetch(db_url, "SELECT count(*) FROM import_run")
    second = second_file(tmp_path)

    preview = run_import(second, "Account", db_url, "--dry-run", "--changes", tmp_path / "p.csv")
    assert preview.exit_code == 1, preview.stderr  # the failed row
    assert preview.report["changes_file"] == {"path": str(tmp_path / "p.csv"), "changes": 5}
    assert full_dump(db_url) == before and fetch(db_url, "SELECT count(*) FROM import_run") == (
        runs_before
    )

    real = run_import(second, "Account", db_url, "--changes", tmp_path / "r.csv")
    assert real.report["changes_file"]["changes"] == 5
    assert (tmp_path / "p.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()

    rows = lines_of(tmp_path / "r.csv")
    assert rows[0] == HEADER
    by_field = {(r[2], r[4]): r for r in rows[1:] if r[3] == "updated"}
    assert by_field[("K-1", "name")][5:] == ["Account K-1", "Renamed One"]
    assert by_field[("K-1", "website")][5:] == ["https://one.example", "https://new.example"]
    assert by_field[("K-2 / ann@x.org", "last_name")][:2] == ["3", "Contact"]
    assert by_field[("K-2 / ann@x.org", "last_name")][5:] == ["Lee", "Smith"]
    created = [r for r in rows[1:] if r[3] == "created"]
    assert [(r[0], r[1], r[2], r[4]) for r in created] == [
        ("5", "Account", "K-4", ""),
        ("5", "Contact", "K-4 / bo@x.org", ""),
    ]
    assert len(rows) == 1 + len(by_field) + len(created)  # nothing for K-3 nor line 6

    shown = cli("runs", "show", str(real.report["run"]), "-o", tmp_path / "s.csv", "--db", db_url)
    assert shown.exit_code == 0, shown.stderr
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()


def test_no_undo_writes_the_same_change_file_without_a_journal(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    assert run_import(first_file(tmp_path), "Account", db_url).exit_code == 0
    second = second_file(tmp_path)
    journaled = run_import(second, "Account", db_url, "--changes", tmp_path / "j.csv")
    undone = cli("undo", str(journaled.report["run"]), "--db", db_url)
    assert undone.exit_code == 0, undone.stderr
    plain = run_import(second, "Account", db_url, "--no-undo", "--changes", tmp_path / "n.csv")
    assert plain.report["changes_file"]["changes"] == 5
    assert (tmp_path / "n.csv").read_bytes() == (tmp_path / "j.csv").read_bytes()
    run = plain.report["run"]
    assert fetch(db_url, "SELECT count(*) FROM import_change WHERE run_id = :r", r=run) == [(0,)]


def test_an_import_rolled_back_changed_nothing_and_says_so(db_url: str, tmp_path: Path) -> None:
    seed_groups(tmp_path, db_url)
    assert run_import(first_file(tmp_path), "Account", db_url).exit_code == 0
    for n, extra in enumerate(
        (("--atomic",), ("--atomic", "--no-undo"), ("--atomic", "--dry-run"))
    ):
        out = tmp_path / f"a{n}.csv"
        run = run_import(second_file(tmp_path), "Account", db_url, *extra, "--changes", out)
        assert run.exit_code == 1 and run.report["committed"] is False
        assert run.report["changes_file"]["changes"] == 0, run.stderr
        assert lines_of(out) == [HEADER]


def test_a_change_file_that_cannot_be_made_stops_the_import_before_it_reads(
    sqlite_url: str, tmp_path: Path
) -> None:
    seed_groups(tmp_path, sqlite_url)
    path = first_file(tmp_path)
    taken = tmp_path / "taken.csv"
    taken.write_text("mine\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(taken)
    cases = {
        str(taken): f"Error: {taken} already exists; name a new file\n",
        "": "Error: --changes needs a file name\n",
        str(tmp_path / "no" / "x.csv"): f"Error: {tmp_path / 'no' / 'x.csv'}: the folder "
        f"{tmp_path / 'no'} does not exist\n",
        str(tmp_path): f"Error: {tmp_path} is a directory; --changes needs a file name\n",
        str(tmp_path / "link.csv"): f"Error: {tmp_path / 'link.csv'} is a symbolic link; "
        "--changes neither follows nor replaces one: name the file it points to\n",
    }
    long_name = tmp_path / ("x" * 250)  # fine, but not its temporary `.NAME.….part`
    cases[str(long_name)] = f"Error: cannot write {long_name}: file name too long\n"
    cases[str(path)] = f"Error: --changes {path} is the file imported; name another file\n"
    for given, message in cases.items():
        run = cli(path, "--model", "Account", "--db", sqlite_url, "--changes", given)
        assert (run.exit_code, run.stderr) == (2, message), given
    log = tmp_path / "errors.log"
    for own in ("--error-log", "--rejects"):
        run = cli(path, "--model", "Account", "--db", sqlite_url, own, log, "--changes", log)
        assert run.exit_code == 2 and "name another file" in run.stderr, run.stderr
    database = sqlite_url.removeprefix("sqlite:///")
    run = cli(path, "--model", "Account", "--db", sqlite_url, "--changes", database)
    assert run.exit_code == 2 and "is the database" in run.stderr, run.stderr
    assert taken.read_text(encoding="utf-8") == "mine\n"
    assert fetch(sqlite_url, "SELECT count(*) FROM account") == [(0,)]


def test_a_pipe_as_change_file_waits_for_its_reader_and_heeds_ctrl_c(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A named pipe no one reads yet: the committed import waits for a reader, and Ctrl-C
    ends the wait (exit 130, the rows stay committed); a reader that stops early costs the
    file, not the import (exit 1, the reason in one line)."""
    seed_groups(tmp_path, sqlite_url)
    path = first_file(tmp_path)
    pipe = tmp_path / "changes.pipe"
    os.mkfifo(pipe)
    command = [COMMAND, str(path), "--model", "Account", "--db", sqlite_url, "--json", "-q"]
    waiting = subprocess.Popen(
        [*command, "--changes", str(pipe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while fetch(sqlite_url, "SELECT count(*) FROM account") != [(3,)]:
            assert waiting.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        waiting.send_signal(signal.SIGINT)
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 130, err
    assert f"interrupted: nothing was written to {pipe}".encode() in err
    assert json.loads(out)["committed"] is True

    many = [account_row(f"P-{n:05d}", website=f"https://{n}.example") for n in range(3000)]
    bigger = write_csv(tmp_path / "many.csv", ACCOUNTS_HEADER, many)  # changes: ~0.5 MB
    command = [COMMAND, str(bigger), "--model", "Account", "--db", sqlite_url, "--json", "-q"]
    with ThreadPoolExecutor(1) as pool:
        first_bytes = pool.submit(_read_a_little, pipe)
        done = subprocess.run(
            [*command, "--changes", str(pipe)], capture_output=True, text=True, timeout=120
        )
        assert first_bytes.result(timeout=60) == b"line,mode"
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"Error: cannot write {pipe}: its reader went away\n"
    report = json.loads(done.stdout)
    assert report["committed"] is True and report["aborted"] is None
    assert report["changes_file"]["changes"] is None


def _read_a_little(pipe: Path) -> bytes:
    with pipe.open("rb") as handle:
        return handle.read(9)
