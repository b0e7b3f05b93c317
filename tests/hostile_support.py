"""Shared checks for the hostile suite: one-line errors, error logs, consistency, SQL dumps.

Everything here reads results with plain SQL or by parsing the files the tool wrote;
nothing calls into custimport except through its command line.
"""

import csv
import re
import shutil
from pathlib import Path
from typing import Any

from helpers import GROUPS_HEADER, Run, cli, fetch, run_import, write_csv

GROUPS = [["Retail", "INDIVIDUAL"], ["Enterprise", "BUSINESS"], ["Partners", "BUSINESS"]]
_ENTRY = re.compile(r"^line (\d+)$")
_ERROR = re.compile(r"^  error: ([^:]+): (.*)$")


def assert_usage_error(run: Run, *fragments: str) -> None:
    """Exit 2, and stderr is exactly one line `Error: …` holding every fragment, no traceback."""
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("Error: "), run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def error_log_entries(path: str | Path) -> dict[int, list[tuple[str, str]]]:
    """{line number: [(field, message), …]} parsed from an error log."""
    entries: dict[int, list[tuple[str, str]]] = {}
    current: int | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if entry := _ENTRY.match(line):
            current = int(entry.group(1))
            assert current not in entries, f"line {current} logged twice"
            entries[current] = []
        elif (error := _ERROR.match(line)) and current is not None:
            entries[current].append((error.group(1), error.group(2)))
    return entries


def failed_lines(run: Run) -> dict[int, list[tuple[str, str]]]:
    """The error log of a --json run (empty when no row failed)."""
    log = run.report["error_log"]
    return error_log_entries(log) if log else {}


def read_rejects(path: str | Path) -> tuple[list[str], list[list[str]]]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def seed(tmp_path: Path, db_url: str) -> None:
    """Retail (INDIVIDUAL), Enterprise and Partners (BUSINESS)."""
    path = write_csv(tmp_path / "seed_groups.csv", GROUPS_HEADER, GROUPS)
    run = run_import(path, "CustomerGroup", db_url, "--error-log", tmp_path)
    assert run.exit_code == 0, run.stderr


def migrated_sqlite(folder: Path) -> Path:
    """A migrated SQLite file with the three groups, to copy for each generated example."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "template.db"
    if not path.exists():
        url = f"sqlite:///{path}"
        assert cli("db", "upgrade", "--db", url).exit_code == 0
        seed(folder, url)
    return path


def fresh_copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def count(db_url: str, table: str) -> int:
    return int(fetch(db_url, f"SELECT count(*) FROM {table}")[0][0])


def dump(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table by natural keys, without ids and timestamps, sorted: comparable across runs."""
    groups = fetch(db_url, "SELECT name, group_type FROM customer_group")
    accounts = fetch(
        db_url,
        "SELECT a.account_number, a.name, a.legal_name, g.name, p.account_number, a.website, "
        "a.industry, a.description FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN account p ON p.id = a.parent_account_id",
    )
    contacts = fetch(
        db_url,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.phone, c.job_title, "
        "c.department, c.is_primary FROM contact c JOIN account a ON a.id = c.account_id",
    )
    contacts = [(*row[:-1], bool(row[-1])) for row in contacts]
    return {
        "customer_group": sorted(groups, key=repr),
        "account": sorted(accounts, key=repr),
        "contact": sorted(contacts, key=repr),
    }


def full_dump(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every table, ids and timestamps included (for "nothing was written")."""
    return {
        table: sorted(fetch(db_url, f"SELECT * FROM {table}"), key=repr)
        for table in ("customer_group", "account", "contact")
    }


def consistency_problems(db_url: str, cycles: bool = True) -> list[str]:
    """What must never be true of a custimport database, whatever happened to the import."""
    problems = []
    (individual_without_one_primary,) = fetch(
        db_url,
        "SELECT count(*) FROM account a JOIN customer_group g ON g.id = a.customer_group_id "
        "WHERE g.group_type = 'INDIVIDUAL' AND 1 <> (SELECT count(*) FROM contact c "
        "WHERE c.account_id = a.id AND c.is_primary)",
    )[0]
    if individual_without_one_primary:
        problems.append(
            f"{individual_without_one_primary} INDIVIDUAL accounts without exactly one primary contact"
        )
    (several_primaries,) = fetch(
        db_url,
        "SELECT count(*) FROM (SELECT account_id FROM contact WHERE is_primary "
        "GROUP BY account_id HAVING count(*) > 1) AS t",
    )[0]
    if several_primaries:
        problems.append(f"{several_primaries} accounts with several primary contacts")
    (orphans,) = fetch(
        db_url,
        "SELECT count(*) FROM contact c LEFT JOIN account a ON a.id = c.account_id "
        "WHERE a.id IS NULL",
    )[0]
    if orphans:
        problems.append(f"{orphans} contacts without an account")
    found = parent_cycles(db_url) if cycles else []
    if found:
        problems.append(f"parent cycles: {found}")
    return problems


def parent_cycles(db_url: str) -> list[list[str]]:
    """Each cycle of parent links in the database, as account numbers."""
    rows = fetch(db_url, "SELECT id, parent_account_id, account_number FROM account")
    parent = {row[0]: row[1] for row in rows}
    number = {row[0]: row[2] for row in rows}
    cycles, cleared = [], set()
    for start in parent:
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in cleared and node not in path:
            path.append(node)
            node = parent.get(node)
        if node is not None and node in path:
            cycle = path[path.index(node) :]
            cycles.append(sorted(number[n] for n in cycle))
        cleared.update(path)
    return cycles
