"""Parent links through the whole import: chains and cycles across batches, through the
database, and rows written one by one (SPEC §4: a cycle fails every row involved; a row
whose parent failed says which line did; §12.4: no shape makes an import quadratic).

Rows whose parent comes later in the file wait for the end; small batches make every
link cross batches, so these files take the paths a 100,000-row file takes.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from helpers import execute, fetch, run_import, seed_groups, write_csv

HEADER = ["account_number", "name", "customer_group", "parent_account"]
CYCLE = "would make a cycle of parent accounts"


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def accounts(tmp_path: Path, links: list[tuple[str, str]], name: str = "a.csv") -> Path:
    rows = [[number, f"Account {number}", "Enterprise", parent] for number, parent in links]
    return write_csv(tmp_path / name, HEADER, rows)


def import_links(
    tmp_path: Path, url: str, links: list[tuple[str, str]], *extra: str, name: str = "a.csv"
) -> Any:
    return run_import(accounts(tmp_path, links, name), "Account", url, *extra)


def stored_links(url: str) -> dict[str, str | None]:
    """{account number: its parent's number or None}, read with SQL."""
    rows = fetch(
        url,
        "SELECT a.account_number, p.account_number FROM account a "
        "LEFT JOIN account p ON p.id = a.parent_account_id",
    )
    return dict(rows)  # type: ignore[arg-type]


def logged(run: Any) -> dict[int, str]:
    """{line: message} of the run's error log (one error per row in these files)."""
    entries: dict[int, str] = {}
    line = 0
    for text in Path(run.report["error_log"]).read_text(encoding="utf-8").splitlines():
        if found := re.fullmatch(r"line (\d+)", text):
            line = int(found.group(1))
        elif found := re.fullmatch(r"\s+error: parent_account: (.*)", text):
            entries[line] = found.group(1)
    return entries


def forward_chain(prefix: str, length: int) -> list[tuple[str, str]]:
    """Each row's parent is the next row; the last has none."""
    return [(f"{prefix}{i}", f"{prefix}{i + 1}" if i < length - 1 else "") for i in range(length)]


def cycle(prefix: str, length: int) -> list[tuple[str, str]]:
    return [(f"{prefix}{i}", f"{prefix}{(i + 1) % length}") for i in range(length)]


def test_a_forward_chain_across_many_batches_is_imported_with_every_link(
    tmp_path: Path, groups: str
) -> None:
    run = import_links(tmp_path, groups, forward_chain("N", 60), "--batch-size", "4")
    assert run.exit_code == 0, run.stderr
    assert run.report["completed"] is True
    assert run.rows["created"] == run.rows["read"] == 60
    assert stored_links(groups) == dict(forward_chain("N", 60)) | {"N59": None}


def test_a_cycle_across_many_batches_fails_every_row_as_a_cycle(
    tmp_path: Path, groups: str
) -> None:
    run = import_links(tmp_path, groups, cycle("C", 60), "--batch-size", "4")
    assert run.exit_code == 1
    assert run.rows["failed"] == run.rows["read"] == 60 and run.report["completed"] is True
    assert logged(run) == {
        line: f"parent account 'C{(line - 1) % 60}' {CYCLE}" for line in range(2, 62)
    }
    assert stored_links(groups) == {}


@pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
def test_disjoint_cycles_and_chains_hanging_off_them_fail_naming_the_line_that_failed(
    tmp_path: Path, sqlite_url: str, batch_size: str
) -> None:
    seed_groups(tmp_path, sqlite_url)
    links = [
        ("H1", "C2"),  # line 2: hangs off the three-cycle
        ("C1", "C2"),  # 3
        ("H2", "H1"),  # 4: hangs off H1
        ("OK1", "OK2"),  # 5
        ("C2", "C3"),  # 6
        ("C3", "C1"),  # 7
        ("T1", "T2"),  # 8: a second cycle, of two
        ("OK2", ""),  # 9
        ("T2", "T1"),  # 10
        ("M1", "NOPE"),  # 11: a parent nowhere
        ("M2", "M1"),  # 12
    ]
    run = import_links(tmp_path, sqlite_url, links, "--batch-size", batch_size)
    assert run.exit_code == 1 and run.rows["created"] == 2 and run.rows["failed"] == 9
    assert logged(run) == {
        2: "parent account 'C2' was not imported (its row at line 6 failed)",
        3: f"parent account 'C2' {CYCLE}",
        4: "parent account 'H1' was not imported (its row at line 2 failed)",
        6: f"parent account 'C3' {CYCLE}",
        7: f"parent account 'C1' {CYCLE}",
        8: f"parent account 'T2' {CYCLE}",
        10: f"parent account 'T1' {CYCLE}",
        11: "parent account 'NOPE' not found",
        12: "parent account 'M1' was not imported (its row at line 11 failed)",
    }
    assert stored_links(sqlite_url) == {"OK1": "OK2", "OK2": None}


def test_a_waiting_row_that_closes_a_cycle_through_the_database_fails_alone(
    tmp_path: Path, groups: str
) -> None:
    """X → NEW waits for NEW; NEW → OLD is written; then X → NEW → OLD → X (OLD's link is
    in the database) would close a cycle: X fails, and its stored parent stays."""
    first = import_links(tmp_path, groups, [("X", ""), ("OLD", "X")], name="first.csv")
    assert first.exit_code == 0, first.stderr
    run = import_links(
        tmp_path, groups, [("X", "NEW"), ("NEW", "OLD")], "--batch-size", "1", name="b.csv"
    )
    assert run.exit_code == 1
    assert logged(run) == {2: f"parent account 'NEW' {CYCLE}"}
    assert stored_links(groups) == {"X": None, "OLD": "X", "NEW": "OLD"}


def test_a_chain_of_waiting_rows_under_an_updated_account_links_to_it(
    tmp_path: Path, groups: str
) -> None:
    first = import_links(tmp_path, groups, [("TOP", ""), ("OLD", "")], name="first.csv")
    assert first.exit_code == 0, first.stderr
    links = [("OLD", "W0"), *forward_chain("W", 10)[:-1], ("W9", "TOP")]
    run = import_links(tmp_path, groups, links, "--batch-size", "3", name="b.csv")
    assert run.exit_code == 0, run.stderr
    assert (run.rows["updated"], run.rows["created"]) == (1, 10)
    assert stored_links(groups) == dict(links) | {"TOP": None}


def refuse_name(url: str, name: str) -> None:
    """The database alone refuses accounts with this name (validation cannot know)."""
    if url.startswith("sqlite"):
        execute(
            url,
            f"CREATE TRIGGER refuse_name BEFORE INSERT ON account WHEN NEW.name = '{name}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
    else:
        execute(url, f"ALTER TABLE account ADD CONSTRAINT refused_name CHECK (name <> '{name}')")


def test_a_batch_written_row_by_row_still_links_children_to_parents_later_in_it(
    tmp_path: Path, groups: str
) -> None:
    """A refused row sends its batch row by row; a child that came before its parent in
    the batch used to be written first and fail with "parent not found"."""
    refuse_name(groups, "Account BAD")
    links = [("C1", "P"), ("C2", "C1"), ("BAD", ""), ("P", "G"), ("G", "")]
    run = import_links(tmp_path, groups, links)
    assert run.exit_code == 1
    assert run.rows["created"] == 4 and run.rows["failed"] == 1
    assert stored_links(groups) == {"C1": "P", "C2": "C1", "P": "G", "G": None}


def test_max_errors_counts_the_rows_of_a_cycle_found_at_the_end(
    tmp_path: Path, sqlite_url: str
) -> None:
    seed_groups(tmp_path, sqlite_url)
    links = [*cycle("C", 20), *forward_chain("N", 10)]
    run = import_links(tmp_path, sqlite_url, links, "--batch-size", "3", "--max-errors", "5")
    assert run.exit_code == 1
    assert run.rows["failed"] == 5 and len(logged(run)) == 5
    assert run.report["completed"] is False
    rows = run.rows
    assert rows["read"] == rows["created"] + rows["failed"]
    assert len(stored_links(sqlite_url)) == rows["created"]


def test_a_cycle_check_asks_the_database_once_per_level_not_once_per_account(
    tmp_path: Path, sqlite_url: str
) -> None:
    """300 stored children move to 300 stored roots in one batch: the roots' own parents
    are looked up together (one query per level), not one query per root."""
    seed_groups(tmp_path, sqlite_url)
    roots = [(f"R{i}", "") for i in range(300)]
    before = [*roots, *[(f"K{i}", "R0") for i in range(1, 301)]]
    assert import_links(tmp_path, sqlite_url, before, name="first.csv").exit_code == 0
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "parent_account_id FROM account WHERE id" in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        moved = [(f"K{i}", f"R{i}") for i in range(1, 300)] + [("K300", "R299")]
        run = import_links(tmp_path, sqlite_url, moved, "--mode", "update_only", name="b.csv")
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    assert run.exit_code == 0, run.stderr
    assert run.rows["updated"] == 300
    assert 1 <= len(statements) <= 2  # a level, in at most two chunks of keys
