"""The installed `custimport` command as a user runs it: a subprocess in a directory of its own."""

import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from helpers import ACCOUNTS_HEADER, COMMAND, EXAMPLES, account_row, fetch, write_csv


def custimport(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_examples_import_in_order_and_read_back_with_sql(tmp_path: Path, db_url: str) -> None:
    reports = {}
    for name, model in [
        ("customer_groups", "CustomerGroup"),
        ("accounts", "Account"),
        ("contacts", "Contact"),
    ]:
        done = custimport(
            EXAMPLES / f"{name}.csv", "--model", model, "--db", db_url, "--json", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        reports[model] = json.loads(done.stdout)
    assert reports["Account"]["rows"]["created"] == 7
    assert reports["Account"]["contacts"] == {"created": 3, "updated": 0}
    assert reports["Contact"]["rows"]["created"] == 6
    assert fetch(db_url, "SELECT count(*) FROM contact WHERE is_primary") == [(6,)]
    assert fetch(
        db_url,
        "SELECT p.account_number FROM account a JOIN account p ON p.id = a.parent_account_id "
        "WHERE a.account_number = 'ACME-002'",
    ) == [("ACME-001",)]
    mapped = custimport(
        EXAMPLES / "accounts_crm_export.csv",
        "--model",
        "Account",
        "--mapping",
        EXAMPLES / "mapping.json",
        "--db",
        db_url,
        "--json",
        cwd=tmp_path,
    )
    assert json.loads(mapped.stdout)["rows"]["created"] == 2
    assert fetch(db_url, "SELECT description FROM account WHERE account_number = 'CRM-5001'") == [
        (None,)
    ]


def test_human_summary_names_the_counts_and_hides_the_password(
    tmp_path: Path, postgres_url: str
) -> None:
    done = custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        postgres_url,
        cwd=tmp_path,
    )
    assert done.returncode == 0
    assert re.search(r"created\s+│\s+4", done.stdout)
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "custimport:***@" in done.stdout


def test_error_log_is_named_private_and_never_overwritten(tmp_path: Path, sqlite_url: str) -> None:
    custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        cwd=tmp_path,
    )
    bad = write_csv(
        tmp_path / "bad.csv", ACCOUNTS_HEADER, [account_row("A", website="x y"), account_row("B")]
    )
    first = custimport(bad, "--model", "Account", "--db", sqlite_url, "--json", cwd=tmp_path)
    second = custimport(bad, "--model", "Account", "--db", sqlite_url, "--json", cwd=tmp_path)
    assert first.returncode == second.returncode == 1
    log1 = Path(json.loads(first.stdout)["error_log"])
    log2 = Path(json.loads(second.stdout)["error_log"])
    assert re.fullmatch(r"import_errors_Account_\d{8}-\d{6}(-\d+)?\.log", log1.name)
    assert log1.parent == tmp_path
    assert log1 != log2 and log1.exists() and log2.exists()
    assert stat.S_IMODE(log1.stat().st_mode) == 0o600
    text = log1.read_text(encoding="utf-8")
    assert "line 2" in text
    assert '"account_number": "A"' in text
    assert "website: is not a valid website" in text


def test_error_log_option_takes_a_folder_or_a_file(tmp_path: Path, sqlite_url: str) -> None:
    custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        cwd=tmp_path,
    )
    bad = write_csv(tmp_path / "bad.csv", ACCOUNTS_HEADER, [account_row("A", website="x y")])
    logs = tmp_path / "logs"
    logs.mkdir()
    in_folder = custimport(
        bad, "--model", "Account", "--db", sqlite_url, "--json", "--error-log", logs, cwd=tmp_path
    )
    assert Path(json.loads(in_folder.stdout)["error_log"]).parent == logs
    named = tmp_path / "mine.log"
    named.write_text("keep me", encoding="utf-8")
    as_file = custimport(
        bad, "--model", "Account", "--db", sqlite_url, "--json", "--error-log", named, cwd=tmp_path
    )
    assert json.loads(as_file.stdout)["error_log"] == str(tmp_path / "mine-2.log")
    assert named.read_text(encoding="utf-8") == "keep me"


def test_quiet_prints_nothing_on_success_and_json_still_prints(
    tmp_path: Path, sqlite_url: str
) -> None:
    quiet = custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        "--quiet",
        cwd=tmp_path,
    )
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    both = custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        "--quiet",
        "--json",
        cwd=tmp_path,
    )
    assert json.loads(both.stdout)["rows"]["unchanged"] == 4


def test_environment_variable_chooses_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    done = custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--json",
        cwd=tmp_path,
        env={"CUSTIMPORT_DATABASE_URL": url},
    )
    assert done.returncode == 0
    assert fetch(url, "SELECT count(*) FROM customer_group") == [(4,)]


def test_default_database_lives_in_the_user_data_directory(tmp_path: Path) -> None:
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "HOME": str(tmp_path),
        "CUSTIMPORT_DATABASE_URL": "",
    }
    done = custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "custimport" / "custimport.db").is_file()


def big_accounts_file(tmp_path: Path, rows: int) -> Path:
    return write_csv(
        tmp_path / "big.csv", ACCOUNTS_HEADER, [account_row(f"N-{i:07d}") for i in range(rows)]
    )


def wait_for_committed_rows(url: str, process: subprocess.Popen[str]) -> None:
    """Signal only once the import is under way: some batches are committed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if fetch(url, "SELECT count(*) FROM account")[0][0] > 0:
                return
        except Exception:  # the table may not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError("the import never committed a batch")


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_batch_in_flight_and_reports(
    tmp_path: Path, sqlite_url: str, signum: int, exit_code: int
) -> None:
    custimport(
        EXAMPLES / "customer_groups.csv",
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        cwd=tmp_path,
    )
    total = 150_000
    path = big_accounts_file(tmp_path, total)
    process = subprocess.Popen(
        [
            COMMAND,
            str(path),
            "--model",
            "Account",
            "--db",
            sqlite_url,
            "--json",
            "--batch-size",
            "500",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_committed_rows(sqlite_url, process)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    assert report["completed"] is False and report["committed"] is True
    created = report["rows"]["created"]
    assert 0 < created < total
    assert fetch(sqlite_url, "SELECT count(*) FROM account") == [(created,)]
    rerun = custimport(
        path, "--model", "Account", "--db", sqlite_url, "--json", "--quiet", cwd=tmp_path
    )
    rows = json.loads(rerun.stdout)["rows"]
    assert rows["unchanged"] == created and rows["created"] == total - created


def test_summary_says_why_rows_were_skipped(tmp_path: Path, sqlite_url: str) -> None:
    groups = EXAMPLES / "customer_groups.csv"
    custimport(groups, "--model", "CustomerGroup", "--db", sqlite_url, cwd=tmp_path)
    again = custimport(
        groups,
        "--model",
        "CustomerGroup",
        "--db",
        sqlite_url,
        "--mode",
        "create_only",
        cwd=tmp_path,
    )
    assert again.returncode == 0
    assert "Skipped: 4 already exists" in again.stdout
    assert f"Database: {sqlite_url}" in again.stdout
