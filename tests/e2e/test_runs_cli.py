"""The installed command's history commands (SPEC §8): how `runs` is told from a file to
import, how its output behaves in a pipe and under Ctrl-C, run as a user runs them."""

import json
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_interruption import freeze_mid_import

from helpers import (
    ACCOUNTS_HEADER,
    COMMAND,
    GROUPS_HEADER,
    account_row,
    execute,
    fetch,
    write_csv,
)

PRUNED_RECORDS = 400_000  # twenty of prune's chunks: it is always caught between two


def custimport(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_runs_is_a_command_and_a_file_is_still_imported(tmp_path: Path, db_url: str) -> None:
    nothing = custimport("runs", "--db", db_url, cwd=tmp_path)
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout.startswith("No imports recorded yet in ")

    groups = write_csv(tmp_path / "some_file.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    done = custimport(
        groups.name, "--model", "CustomerGroup", "--db", db_url, "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)["run"]

    listed = custimport("runs", "--db", db_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "some_file.csv" in listed.stdout and "completed" in listed.stdout

    one = custimport("runs", "show", str(run), "--changes", "--db", db_url, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "customer_group Enterprise (line 2): created" in one.stdout

    # the group's --db and --json hold for its commands too
    inherited = custimport("runs", "--db", db_url, "--json", "show", str(run), cwd=tmp_path)
    assert inherited.returncode == 0, inherited.stderr
    assert json.loads(inherited.stdout)["file"] == "some_file.csv"


def test_a_file_named_runs_is_imported_by_its_path_or_with_import(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_csv(tmp_path / "runs", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    taken = custimport("runs", "--model", "CustomerGroup", "--db", sqlite_url, cwd=tmp_path)
    assert taken.returncode == 2
    assert taken.stderr.startswith("Error: No such option: --model")
    for spelled in (["./runs"], ["import", "runs"]):
        done = custimport(*spelled, "--model", "CustomerGroup", "--db", sqlite_url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr


def test_command_errors_are_one_line_with_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    for args in (
        ["runs", "show", "12", "--db", sqlite_url],
        ["runs", "show", "twelve", "--db", sqlite_url],
        ["runs", "prune", "--db", sqlite_url],
        ["runs", "prune", "--older-than", "-1", "--db", sqlite_url],
        ["runs", "--limit", "0", "--db", sqlite_url],
    ):
        done = custimport(*args, cwd=tmp_path)
        assert done.returncode == 2, args
        assert done.stderr.startswith("Error: "), args
        assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "custimport.db").exists()  # looking never makes a database


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path: Path, db_url: str) -> None:
    """`custimport runs show N --changes --json | head -1`: exit 141 as export does, no traceback."""
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    assert (
        custimport("g.csv", "--model", "CustomerGroup", "--db", db_url, cwd=tmp_path).returncode
        == 0
    )
    rows = [account_row(f"A-{n:05d}") for n in range(3000)]  # far more than a pipe holds
    write_csv(tmp_path / "a.csv", ACCOUNTS_HEADER, rows)
    done = custimport("a.csv", "--model", "Account", "--db", db_url, "--json", cwd=tmp_path)
    run = json.loads(done.stdout)["run"]
    command = [COMMAND, "runs", "show", str(run), "--changes", "--json", "--db", db_url]
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        assert (
            json.loads(reader.stdout.readline().removesuffix(', "changes": [\n') + "}")["run"]
            == run
        )
        reader.stdout.close()  # the reader goes away with the writer blocked on a full pipe
        status = reader.wait(timeout=120)
        errors = reader.stderr.read()
    assert status == 141, errors
    assert "Traceback" not in errors


def test_prune_and_help_name_what_is_kept(tmp_path: Path) -> None:
    shown = custimport("runs", "--help", cwd=tmp_path)
    assert shown.returncode == 0
    for command in ("show", "prune"):
        assert command in shown.stdout
    assert "runs" in custimport("--help", cwd=tmp_path).stdout
    pruning = custimport("runs", "prune", "--help", cwd=tmp_path)
    assert "summaries stay" in pruning.stdout


def test_ctrl_c_while_writing_changes_leaves_no_file(tmp_path: Path, db_url: str) -> None:
    """The CSV of a run's changes goes to a private temporary file renamed when complete:
    SIGINT part-way ends with exit 130 and one line, and leaves neither."""
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    assert (
        custimport("g.csv", "--model", "CustomerGroup", "--db", db_url, cwd=tmp_path).returncode
        == 0
    )
    write_csv(
        tmp_path / "a.csv", ACCOUNTS_HEADER, [account_row(f"A-{n:06d}") for n in range(40_000)]
    )
    done = custimport("a.csv", "--model", "Account", "--db", db_url, "--json", cwd=tmp_path)
    run = json.loads(done.stdout)["run"]
    command = [COMMAND, "runs", "show", str(run), "-o", "changes.csv", "--db", db_url]
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as writer:

        def part_written() -> bool:
            return any(part.stat().st_size > 0 for part in tmp_path.glob(".changes.csv.*.part"))

        freeze_mid_import(writer, part_written)  # stopped with a part of the file written
        writer.send_signal(signal.SIGINT)
        writer.send_signal(signal.SIGCONT)
        _, errors = writer.communicate(timeout=120)
    assert writer.returncode == 130, errors
    assert errors == "Error: interrupted: nothing was written to changes.csv\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "changes" in p.name) == []


def test_o_dev_stdout_writes_into_stdout_wherever_it_goes(tmp_path: Path, sqlite_url: str) -> None:
    """/dev/stdout is a link to /proc/self/fd/1: written through (a pipe, or the file the
    shell redirected stdout to, the CSV first), never refused as an existing file."""
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    done = custimport(
        "g.csv", "--model", "CustomerGroup", "--db", sqlite_url, "--json", cwd=tmp_path
    )
    run = str(json.loads(done.stdout)["run"])

    piped = custimport("runs", "show", run, "-o", "/dev/stdout", "--db", sqlite_url, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert lines[0] == "line,model,key,action,field,before,after"
    assert lines[1].startswith("2,CustomerGroup,Enterprise,created,")
    assert lines[2].startswith("Run ")  # the run, printed after the CSV
    assert piped.stderr == "Wrote 1 change to /dev/stdout\n"

    into = tmp_path / "out.txt"
    with into.open("wb") as handle:
        redirected = subprocess.run(
            [COMMAND, "runs", "show", run, "-o", "/dev/stdout", "--db", sqlite_url],
            cwd=tmp_path,
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert redirected.returncode == 0, redirected.stderr
    written = into.read_text(encoding="utf-8").splitlines()
    assert written[0] == "line,model,key,action,field,before,after"
    assert written[2].startswith("Run ")
    assert os.path.islink("/dev/stdout")


def test_export_o_dev_stdout_writes_into_stdout_too(tmp_path: Path, sqlite_url: str) -> None:
    """Every `-o` follows the same rules (io/export_output): export writes through
    /dev/stdout as `runs show -o` does, and leaves the link alone."""
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    assert (
        custimport("g.csv", "--model", "CustomerGroup", "--db", sqlite_url, cwd=tmp_path).returncode
        == 0
    )
    piped = custimport(
        "export", "-m", "CustomerGroup", "-o", "/dev/stdout", "--db", sqlite_url, cwd=tmp_path
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.splitlines()[:2] == ["name,group_type", "Enterprise,BUSINESS"]
    assert os.path.islink("/dev/stdout")


def add_old_changes(db_url: str, run: int, count: int) -> None:
    """`count` change records for `run`, made by the database itself, and the run dated
    forty days back."""
    moment = datetime.now(UTC) - timedelta(days=40)
    if db_url.startswith("sqlite"):
        started: datetime | str = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        numbers = (
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :count) "
        )
        source = "FROM n"
    else:
        started, numbers, source = moment, "", "FROM generate_series(1, :count) AS n(x)"
    execute(db_url, "UPDATE import_run SET started_at = :t WHERE id = :run", t=started, run=run)
    execute(
        db_url,
        f"{numbers}INSERT INTO import_change (run_id, table_name, row_id, row_key, line, action, "
        f"after) SELECT :run, 'account', x, 'A', x, 'created', '[\"A\"]' {source}",
        run=run,
        count=count,
    )


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_prune_between_chunks_and_the_next_prune_finishes(
    tmp_path: Path, db_url: str, signum: int, status: int
) -> None:
    """SPEC §12.5: prune heeds Ctrl-C (and SIGTERM) within a second: the chunk in flight
    commits, the rest is left, the runs stay marked pruned, and the next prune finishes."""
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    done = custimport("g.csv", "--model", "CustomerGroup", "--db", db_url, "--json", cwd=tmp_path)
    run = json.loads(done.stdout)["run"]
    add_old_changes(db_url, run, PRUNED_RECORDS)
    total = PRUNED_RECORDS + 1  # and the group's own
    counted = "SELECT count(*) FROM import_change WHERE run_id = :run"
    first_of_them = (
        "SELECT count(*) FROM import_change WHERE run_id = :run AND table_name = 'account' "
        "AND row_id = 1"
    )

    def first_chunk_deleted() -> bool:
        assert fetch(db_url, counted, run=run) != [(0,)], "the prune ended before it was seen"
        return fetch(db_url, first_of_them, run=run) == [(0,)]

    command = [COMMAND, "runs", "prune", "--older-than", "30", "--db", db_url]
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as pruning:
        freeze_mid_import(pruning, first_chunk_deleted)
        pruning.send_signal(signum)
        pruning.send_signal(signal.SIGCONT)
        out, errors = pruning.communicate(timeout=120)
    left = fetch(db_url, counted, run=run)[0][0]
    assert pruning.returncode == status, errors
    assert 0 < left < total - 1
    assert errors == (
        f"Error: interrupted: {total - left:,} change records of 1 run deleted; "
        "run `custimport runs prune` again to finish\n"
    )
    assert out == ""
    assert fetch(db_url, "SELECT journal FROM import_run WHERE id = :run", run=run) == [("pruned",)]

    again = custimport("runs", "prune", "--older-than", "30", "--db", db_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"Deleted {left:,} change records left by an earlier prune." in again.stdout
    assert fetch(db_url, counted, run=run) == [(0,)]


def test_changes_to_dev_stdout_goes_before_the_summary_but_never_into_the_json(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Enterprise", "BUSINESS"]])
    base = ("g.csv", "--model", "CustomerGroup", "--db", sqlite_url, "--changes", "/dev/stdout")
    mixed = custimport(*base, "--json", cwd=tmp_path)
    assert mixed.returncode == 2
    assert mixed.stderr == (
        "Error: --changes /dev/stdout is the standard output, where --json prints the "
        "report; name another file\n"
    )
    plain = custimport(*base, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[:2] == [
        "line,model,key,action,field,before,after",
        '2,CustomerGroup,Enterprise,created,,,"{""name"": ""Enterprise"", ""group_type"": ""BUSINESS""}"',
    ]
    assert any("1 change written to /dev/stdout" in line for line in lines)
