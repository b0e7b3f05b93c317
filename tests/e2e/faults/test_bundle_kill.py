"""A bundle import killed (SIGKILL) in the middle of its accounts (SPEC §8, §11, §12.1).

A bundle is imported file by file, each file a run of its own. Killed while its accounts
are being written, it leaves the groups' run completed, the accounts' run `killed` with
whole batches committed, and no contact run. Imported again, the bundle gives the command
that resumes that file alone (--resume takes one file); following it, then importing the
contacts, completes it, and the database then exports exactly the bundle it was given.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fault_support import rows_in, run_command

from helpers import EXAMPLES, cli, execute, fetch, run_import
from hostile_support import consistency_problems

ACCOUNTS = 80_000  # over two seconds of writing: the kill lands after the first commit (1 s)
FILL_ACCOUNTS = (
    "INSERT INTO account (account_number, name, customer_group_id, website, created_at, "
    "updated_at) SELECT 'KB-' || n, 'Killed bundle account ' || n, (SELECT id FROM "
    "customer_group WHERE name = 'Enterprise'), 'kb' || n || '.example.com', "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL "
    f"SELECT n + 1 FROM s WHERE n < {ACCOUNTS}) SELECT n FROM s) AS numbers"
)
FILL_CONTACTS = (  # a contact for every fourth account
    "INSERT INTO contact (account_id, first_name, last_name, email, is_primary, created_at, "
    "updated_at) SELECT id, 'First', 'Last ' || id, 'c' || id || '@example.com', false, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM account WHERE id % 4 = 0"
)
FILES = ("customer_groups.csv", "accounts.csv", "contacts.csv")


def exported_bundle(tmp_path: Path, folder: Path) -> Path:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    assert run_import(EXAMPLES / "customer_groups.csv", "CustomerGroup", source).exit_code == 0
    execute(source, FILL_ACCOUNTS)
    execute(source, FILL_CONTACTS)
    assert cli("export", "--all", "-o", folder, "--db", source).exit_code == 0
    return folder


def kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()


def test_a_bundle_killed_mid_accounts_keeps_whole_runs_and_its_hint_completes_it(
    tmp_path: Path,
) -> None:
    bundle = exported_bundle(tmp_path, tmp_path / "bundle")
    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert cli("db", "upgrade", "--db", target).exit_code == 0

    killed = run_command(bundle, "--db", target, "--json", when=(rows_in(target, "account"), kill))
    assert killed.exit_code == -9
    runs = json.loads(cli("runs", "--db", target, "--json").stdout)
    assert [(r["model"], r["status"]) for r in reversed(runs)] == [
        ("CustomerGroup", "completed"),
        ("Account", "killed"),
    ]
    committed = fetch(target, "SELECT count(*) FROM account")[0][0]
    assert 0 < committed < ACCOUNTS
    assert committed % 2000 == 0  # whole batches only
    assert fetch(target, "SELECT count(*) FROM contact") == [(0,)]
    assert consistency_problems(target) == []

    # run again, the bundle says how to go on: --resume takes one file, so that one alone
    told = cli(bundle, "--db", target, "--dry-run")
    assert told.exit_code == 0, told.stderr
    accounts = bundle / "accounts.csv"
    assert (
        f"run 2 of this file ended killed after committing {committed:,} rows, every row up "
        f"to line {committed + 1}: to go on from there instead of importing it again, stop, "
        f"run `custimport {accounts} --model Account --resume` with the options you gave, "
        "then import the files after it"
    ) in " ".join(told.stderr.split())
    resumed = cli(accounts, "--model", "Account", "--db", target, "--resume", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.report["resumed"] == {"run": 2, "after_line": committed + 1}
    assert resumed.report["rows"]["read"] == resumed.report["rows"]["created"]
    assert resumed.report["rows"]["created"] == ACCOUNTS - committed
    contacts = cli(bundle / "contacts.csv", "--model", "Contact", "--db", target, "--json")
    assert contacts.report["rows"]["created"] == ACCOUNTS // 4, contacts.stderr

    exported = tmp_path / "again"
    assert cli("export", "--all", "-o", exported, "--db", target).exit_code == 0
    for name in FILES:
        assert (exported / name).read_bytes() == (bundle / name).read_bytes(), name
