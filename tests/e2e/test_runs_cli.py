"""The installed command's history commands (SPEC §8): how `runs` is told from a file to
import, how its output behaves in a pipe and under Ctrl-C, run as a user runs them."""

import json
import signal
import subprocess
from pathlib import Path

from test_interruption import freeze_mid_import

from helpers import ACCOUNTS_HEADER, COMMAND, GROUPS_HEADER, account_row, write_csv


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
