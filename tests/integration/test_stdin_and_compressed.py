"""Standard input and compressed files (SPEC §11, issue 17), on both engines.

`-` reads standard input (the real command, fed through a pipe): the report, the run
record and `inspect` name it `-`, its digest is of the bytes sent, and its private copy
is gone when the command ends. A `.gz` or single-file `.zip` imports as the file inside
would; a damaged one is refused with nothing written.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import openpyxl

from helpers import ACCOUNTS_HEADER, COMMAND, Run, account_row, cli, fetch, run_import, write_csv
from hostile_support import assert_usage_error, count, failed_lines, full_dump, seed


def piped(tmp_path: Path, data: bytes, *args: str) -> Run:
    """The installed command with `data` on its standard input, and a temp dir of its own
    (`scratch`), which must be empty again when it ends."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    done = subprocess.run(
        [COMMAND, *args],
        input=data,
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=300,
    )
    assert list(scratch.iterdir()) == [], "the copy of standard input was left behind"
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def accounts_file(path: Path) -> Path:
    """Business and individual accounts, a parent named after its child, one bad row."""
    return write_csv(
        path,
        ACCOUNTS_HEADER,
        [
            account_row("A-1", "Acme", parent="A-3", website="acme.example"),
            account_row("A-2", "Ann Person", "Retail", first="Ann", last="Lee", email="a@x.org"),
            account_row("A-3", "Acme Holding"),
            account_row("A-4", "Nowhere", "No Such Group"),
            account_row("A-5", "Zoë Ümlaut", "Retail", first="Zoë", last="Ümlaut", phone="555"),
        ],
    )


def runs_json(db_url: str) -> list[dict[str, object]]:
    runs = cli("runs", "--db", db_url, "--json")
    assert runs.exit_code == 0, runs.stderr
    return json.loads(runs.stdout)  # type: ignore[no-any-return]


# --- standard input -------------------------------------------------------------------------


def test_stdin_csv_imports_and_is_named_dash(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    data = accounts_file(tmp_path / "accounts.csv").read_bytes()
    run = piped(tmp_path, data, "-", "--model", "Account", "--db", db_url, "--json", "--quiet")
    assert run.exit_code == 1, run.stderr  # the row of an unknown group fails
    assert run.report["file"] == "-"
    assert run.rows == {
        "read": 5,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert list(failed_lines(run)) == [5]
    log_head = Path(run.report["error_log"]).read_text().splitlines()[0]
    assert "file -," in log_head
    assert count(db_url, "account") == 4
    latest = runs_json(db_url)[0]
    assert latest["file"] == "-"
    assert (latest["file_size"], latest["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


def test_stdin_given_as_file_option_reads_json_lines(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    data = b'{"name": "Wholesale", "group_type": "BUSINESS"}\n{"name": "Staff", "group_type": "individual"}\n'
    run = piped(tmp_path, data, "--file", "-", "--model", "CustomerGroup", "--db", db_url, "--json")
    assert run.exit_code == 0, run.stderr
    assert (run.report["file"], run.rows["created"]) == ("-", 2)
    assert fetch(db_url, "SELECT group_type FROM customer_group WHERE name = 'Staff'") == [
        ("INDIVIDUAL",)
    ]


def test_empty_stdin_is_one_line_and_exit_2(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    run = piped(tmp_path, b"", "-", "--model", "Account", "--db", db_url)
    assert_usage_error(run, "standard input is empty: no header row")
    assert count(db_url, "account") == 0


def test_stdin_with_format_given(tmp_path: Path, db_url: str) -> None:
    """A TSV sent as `--format tsv`; a gzip file piped in is read as what it holds."""
    seed(tmp_path, db_url)
    tsv = b"name\tgroup_type\nWholesale\tBUSINESS\n"
    run = piped(tmp_path, tsv, "-", "-m", "CustomerGroup", "--db", db_url, "--format", "tsv")
    assert run.exit_code == 0, run.stderr
    packed = gzip.compress(b"name,group_type\nStaff,INDIVIDUAL\n")
    run = piped(tmp_path, packed, "-", "-m", "CustomerGroup", "--db", db_url, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.rows["created"] == 1
    assert runs_json(db_url)[0]["sha256"] == hashlib.sha256(packed).hexdigest()


def test_inspect_reads_stdin(tmp_path: Path) -> None:
    data = b"sep=;\nname;group_type\nWholesale;BUSINESS\nStaff;INDIVIDUAL\n"
    run = piped(tmp_path, data, "inspect", "-", "--json")
    assert run.exit_code == 0, run.stderr
    found = run.report
    assert (found["file"], found["format"], found["delimiter"]) == ("-", "csv", ";")
    assert (found["rows"], found["model"]) == (2, "CustomerGroup")


# --- compressed files -------------------------------------------------------------------------


def test_a_gzip_file_imports_as_the_plain_file_would(tmp_path: Path, db_url: str) -> None:
    """Imported first, the .gz writes what the plain file then finds all unchanged."""
    seed(tmp_path, db_url)
    plain = accounts_file(tmp_path / "accounts.csv")
    packed = tmp_path / "accounts.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    first = run_import(packed, "Account", db_url)
    assert first.exit_code == 1, first.stderr
    assert (first.rows["created"], first.rows["failed"]) == (4, 1)
    assert list(failed_lines(first)) == [5]
    written = full_dump(db_url)
    again = run_import(plain, "Account", db_url)
    assert again.rows == {**first.rows, "created": 0, "unchanged": 4}
    assert full_dump(db_url) == written
    gz_run, plain_run = runs_json(db_url)[1], runs_json(db_url)[0]
    assert gz_run["file"] == str(packed)
    assert gz_run["sha256"] == hashlib.sha256(packed.read_bytes()).hexdigest()
    assert gz_run["file_size"] == packed.stat().st_size
    assert plain_run["sha256"] != gz_run["sha256"]


def test_a_gzip_json_lines_file(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    lines = [
        {"account_number": "J-1", "name": "Jay", "customer_group": "Enterprise"},
        {"account_number": "J-2", "name": "Kay", "customer_group": "Partners"},
    ]
    path = tmp_path / "accounts.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode()))
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0, run.stderr
    assert fetch(db_url, "SELECT account_number, name FROM account ORDER BY 1") == [
        ("J-1", "Jay"),
        ("J-2", "Kay"),
    ]


def test_a_workbook_in_a_zip(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    book = openpyxl.Workbook()
    book.active.append(["account_number", "name", "customer_group"])
    book.active.append(["X-1", "Excel One", "Enterprise"])
    book.active.append(["X-2", "", "Enterprise"])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("accounts.xlsx", buffer.getvalue())
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 1, run.stderr
    assert (run.rows["created"], run.rows["failed"]) == (1, 1)
    assert list(failed_lines(run)) == [3]  # the sheet row
    assert fetch(db_url, "SELECT account_number FROM account") == [("X-1",)]


def test_a_truncated_gzip_file_writes_nothing(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    rows = [account_row(f"T-{n:05d}") for n in range(20_000)]
    plain = write_csv(tmp_path / "accounts.csv", ACCOUNTS_HEADER, rows)
    whole = gzip.compress(plain.read_bytes())
    path = tmp_path / "accounts.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    run = run_import(path, "Account", db_url)
    assert_usage_error(run, f"{path} is a gzip archive that ends early: it was cut short")
    assert count(db_url, "account") == 0


def test_a_zip_of_two_files_is_refused(tmp_path: Path, db_url: str) -> None:
    seed(tmp_path, db_url)
    plain = accounts_file(tmp_path / "accounts.csv")
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(plain, "accounts.csv")
        archive.write(plain, "accounts copy.csv")
    run = run_import(path, "Account", db_url)
    assert_usage_error(run, "the zip archive holds 2 files", "it must hold exactly one")
    assert count(db_url, "account") == 0


def test_inspect_reads_a_gzip_file(tmp_path: Path) -> None:
    plain = accounts_file(tmp_path / "accounts.csv")
    path = tmp_path / "accounts.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    run = cli("inspect", path, "--json")
    assert run.exit_code == 0, run.stderr
    found = run.report
    assert (found["file"], found["format"], found["rows"]) == (str(path), "csv", 5)
    assert found["size_bytes"] == plain.stat().st_size  # the data read, expanded
    assert found["model"] == "Account"


def test_a_workbook_on_stdin_with_title_rows(tmp_path: Path, db_url: str) -> None:
    """Standard input is copied to a file first, so a workbook needs no file of its own."""
    seed(tmp_path, db_url)
    book = openpyxl.Workbook()
    for row in (
        ["Accounts"],
        ["account_number", "name", "customer_group"],
        ["P-1", "Pipe", "Partners"],
    ):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    run = piped(
        tmp_path, buffer.getvalue(), "-", "-m", "Account", "--db", db_url, "--header-row", "2"
    )
    assert run.exit_code == 0, run.stderr
    assert fetch(db_url, "SELECT account_number, name FROM account") == [("P-1", "Pipe")]


def test_a_named_pipe_or_dev_stdin_on_a_pipe_is_read_like_stdin(
    tmp_path: Path, db_url: str
) -> None:
    """A pipe can be read once: `/dev/stdin` on a pipe, `<(…)` and a FIFO are copied first
    (they were refused as "file is empty", having been read by the encoding check)."""
    seed(tmp_path, db_url)
    data = accounts_file(tmp_path / "a.csv").read_bytes()
    via_dev_stdin = piped(tmp_path, data, "/dev/stdin", "--model", "Account", "--db", db_url,
                          "--json")  # fmt: skip
    assert via_dev_stdin.exit_code == 1, via_dev_stdin.stderr  # the row with no such group
    assert json.loads(via_dev_stdin.stdout)["rows"]["created"] == 4

    fifo = tmp_path / "accounts.fifo"
    os.mkfifo(fifo)
    scratch = tmp_path / "scratch"
    with subprocess.Popen(
        [COMMAND, str(fifo), "--model", "Account", "--db", db_url, "--json"],
        stdout=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    ) as command:
        with fifo.open("wb") as writer:  # blocks until the command opens the pipe
            writer.write(data)
        out, _ = command.communicate(timeout=120)
    assert command.returncode == 1
    assert json.loads(out)["rows"]["unchanged"] == 4
    assert list(scratch.iterdir()) == []
