"""Failures on screen (SPEC §11): the most frequent reasons rows failed, with their counts
and first lines, in the summary and the JSON report, and the hints that say what to do
(no customer group yet; the file is another model's) — on both engines."""

from pathlib import Path

from helpers import cli, execute, fetch, run_import, seed_groups, write_csv

TIMES = "\N{MULTIPLICATION SIGN}"  # the summary's "40 TIMES reason"
UNKNOWN_GROUP = "customer_group: unknown customer group …"
NO_GROUPS = (
    "no customer group exists yet: import your groups first "
    "(custimport groups.csv --model CustomerGroup)"
)
SECTORS = ["Industrials", "Health Care", "Information Technology", "Utilities", "Financials"]
HEADER = ["account_number", "name", "customer_group", "website"]


def constituents(tmp_path: Path, count: int) -> Path:
    """Like the public S&P 500 constituents file: symbol, company, sector, website."""
    rows = [
        [f"SYM{n}", f"Company {n}", SECTORS[n % len(SECTORS)], f"company{n}.example.com"]
        for n in range(count)
    ]
    return write_csv(tmp_path / "constituents.csv", HEADER, rows)


def reasons_block(stdout: str) -> list[str]:
    """The summary's lines of reasons, after its "Top reasons" line."""
    lines = stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Top reasons"))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_accounts_before_any_group_show_the_reason_its_count_and_what_to_do_first(
    tmp_path: Path, db_url: str
) -> None:
    path = constituents(tmp_path, 40)
    shown = cli(path, "--model", "Account", "--db", db_url)
    assert shown.exit_code == 1
    assert reasons_block(shown.stdout) == [
        f"40 {TIMES} {UNKNOWN_GROUP} (first: line 2: unknown customer group 'Industrials')"
    ]
    assert f"Warning: {NO_GROUPS}" in shown.stdout.splitlines()

    run = run_import(path, "Account", db_url)
    assert run.rows["failed"] == 40
    assert run.report["top_errors"] == [{"reason": UNKNOWN_GROUP, "count": 40, "first_line": 2}]
    assert NO_GROUPS in run.report["warnings"]
    assert fetch(db_url, "SELECT count(*) FROM account") == [(0,)]


def test_an_unknown_group_among_existing_groups_gives_no_import_groups_first_hint(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    run = run_import(constituents(tmp_path, 5), "Account", db_url)
    assert run.report["top_errors"] == [{"reason": UNKNOWN_GROUP, "count": 5, "first_line": 2}]
    assert run.report["warnings"] == []


def test_mixed_reasons_are_counted_by_kind_most_frequent_first_with_first_lines(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    rows = [
        ["M-1", "Fine", "Enterprise", ""],  # line 2: created
        ["M-2", "Acme", "Tech", ""],  # 3: unknown group
        ["M-3", "", "Enterprise", ""],  # 4: empty name
        ["M-4", "Beta", "Retial", ""],  # 5: unknown group, with a close match
        ["M-5", "", "Enterprise", "not a site"],  # 6: empty name and a bad website
        ["M-1", "Again", "Enterprise", ""],  # 7: duplicate of line 2
        ["M-6", "Gamma", "Foo", ""],  # 8: unknown group
        ["M-7", "", "Enterprise", ""],  # 9: empty name
        ["M-8", "Delta", "Bar", ""],  # 10: unknown group
    ]
    run = run_import(write_csv(tmp_path / "mixed.csv", HEADER, rows), "Account", db_url)
    assert run.rows["failed"] == 8 and run.rows["created"] == 1
    assert run.report["top_errors"] == [
        {"reason": UNKNOWN_GROUP, "count": 4, "first_line": 3},
        {"reason": "name: must not be empty", "count": 3, "first_line": 4},
        {"reason": "website: is not a valid website", "count": 1, "first_line": 6},
        {"reason": "account_number: duplicate of line N", "count": 1, "first_line": 7},
    ]
    assert run.report["warnings"] == []  # groups exist, and a fifth of the rows went in

    shown = cli(tmp_path / "mixed.csv", "--model", "Account", "--db", db_url)
    assert reasons_block(shown.stdout)[1:] == [
        f"3 {TIMES} name: must not be empty (first: line 4)",
        f"1 {TIMES} website: is not a valid website "
        "(first: line 6: is not a valid website (a domain or URL without spaces))",
        f"1 {TIMES} account_number: duplicate of line N (first: line 7: duplicate of line 2)",
    ]


def test_a_contacts_file_imported_as_accounts_is_told_to_use_the_contact_model(
    tmp_path: Path, db_url: str
) -> None:
    path = write_csv(
        tmp_path / "contacts.csv",
        ["account", "first_name", "last_name", "email"],
        [["A-1", "Ann", "Lee", "ann@example.com"]],
    )
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == (
        "Error: required columns missing: name, customer_group; this looks like a Contact "
        "file (it has account, first_name, last_name): use --model Contact\n"
    )


def test_a_header_no_other_model_fits_keeps_the_close_match_hint(
    tmp_path: Path, db_url: str
) -> None:
    path = write_csv(tmp_path / "a.csv", ["account_number", "nme", "customer_group"], [])
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 2
    assert run.stderr == "Error: required columns missing: name (did you mean 'nme' for name?)\n"


def test_nearly_every_row_failing_as_one_model_names_the_model_the_file_fits_better(
    tmp_path: Path, db_url: str
) -> None:
    """An accounts file with a (blank) type column passes as CustomerGroup's header."""
    rows = [[f"A-{n}", f"Company {n}", "Enterprise", ""] for n in range(10)]
    header = ["account_number", "name", "customer_group", "group_type"]
    run = run_import(write_csv(tmp_path / "a.csv", header, rows), "CustomerGroup", db_url)
    assert run.rows["failed"] == 10
    assert run.report["top_errors"] == [
        {"reason": "group_type: must not be empty", "count": 10, "first_line": 2}
    ]
    assert run.report["warnings"] == [
        "10 of 10 rows failed, and the file fits Account better than CustomerGroup "
        "(it has name, customer_group): was --model Account meant?"
    ]


def test_a_model_is_not_named_when_most_rows_went_in(tmp_path: Path, db_url: str) -> None:
    rows = [[f"A-{n}", f"Company {n}", "Enterprise", "BUSINESS"] for n in range(9)]
    rows.append(["A-9", "Company 9", "Enterprise", ""])
    header = ["account_number", "name", "customer_group", "group_type"]
    run = run_import(write_csv(tmp_path / "a.csv", header, rows), "CustomerGroup", db_url)
    assert run.rows["failed"] == 1 and run.rows["created"] == 9
    assert run.report["warnings"] == []


def test_only_the_five_most_frequent_of_seven_reasons_are_shown(
    tmp_path: Path, db_url: str
) -> None:
    seed_groups(tmp_path, db_url)
    header = ["account_number", "name", "legal_name", "customer_group", "website", "industry"]
    header.append("description")
    breaks = [  # column, bad value, rows: 7 of the first, 6 of the second, ...
        (0, "X" * 65, 7),
        (1, "N" * 256, 6),
        (2, "L" * 256, 5),
        (4, "not a site", 4),
        (5, "I" * 129, 3),
        (6, "D" * 10_001, 2),
        (3, "Nope", 1),
    ]
    rows = []
    for column, value, times in breaks:
        for _ in range(times):
            row = [f"B-{len(rows)}", "Name", "", "Enterprise", "", "", ""]
            row[column] = value + str(len(rows)) if column == 0 else value
            rows.append(row)
    path = write_csv(tmp_path / "seven.csv", header, rows)
    run = run_import(path, "Account", db_url)
    assert run.rows["failed"] == 28
    assert run.report["top_errors"] == [
        {"reason": "account_number: must be at most N characters", "count": 7, "first_line": 2},
        {"reason": "name: must be at most N characters", "count": 6, "first_line": 9},
        {"reason": "legal_name: must be at most N characters", "count": 5, "first_line": 15},
        {"reason": "website: is not a valid website", "count": 4, "first_line": 20},
        {"reason": "industry: must be at most N characters", "count": 3, "first_line": 24},
    ]
    block = reasons_block(cli(path, "--model", "Account", "--db", db_url).stdout)
    assert [line.split(f" {TIMES} ")[0] for line in block] == ["7", "6", "5", "4", "3"]
    assert block[0].endswith("(first: line 2: must be at most 64 characters)")


def test_an_import_where_nothing_fails_has_no_reasons(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    path = write_csv(tmp_path / "ok.csv", HEADER, [["OK-1", "Fine", "Enterprise", ""]])
    run = run_import(path, "Account", db_url)
    assert run.exit_code == 0 and run.report["top_errors"] == []
    shown = cli(path, "--model", "Account", "--db", db_url)
    assert shown.exit_code == 0 and "Top reasons" not in shown.stdout


def test_rows_the_reader_cannot_read_are_counted_by_reason(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    path = tmp_path / "broken.csv"
    path.write_bytes(
        b"account_number,name,customer_group\n"
        b"R-1,Good,Enterprise\n"  # line 2
        b"R-2,Bad\x00Name,Enterprise\n"  # 3: a NUL
        b"R-3,Short\n"  # 4: two fields of three
        b"R-4,Too,Many,Fields\n"  # 5: four fields of three (a lone NUL only: more is binary)
        b'R-5,"never closed,Enterprise\n'  # 6: to the end of the file
    )
    run = run_import(path, "Account", db_url)
    assert run.rows["created"] == 1 and run.rows["failed"] == 4
    assert run.report["top_errors"] == [
        {"reason": "row: expected N fields, found N", "count": 2, "first_line": 4},
        {"reason": "row: value in column … contains a NUL character", "count": 1, "first_line": 3},
        {
            "reason": "row: unterminated quoted field starting at line N",
            "count": 1,
            "first_line": 6,
        },
    ]


def refuse_name(url: str, name: str) -> None:
    """Make the database itself refuse accounts of this name (validation lets them by)."""
    if url.startswith("sqlite"):
        execute(
            url,
            "CREATE TRIGGER refuse_name BEFORE INSERT ON account "
            f"WHEN NEW.name = '{name}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
    else:
        execute(url, f"ALTER TABLE account ADD CONSTRAINT refused_name CHECK (name <> '{name}')")


def test_rows_the_database_refuses_are_counted_by_reason(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    refuse_name(db_url, "Refused Ltd")
    names = ["Fine", "Refused Ltd", "Fine", "Fine", "Refused Ltd"]  # lines 3 and 6
    rows = [[f"D-{n}", name, "Enterprise", ""] for n, name in enumerate(names)]
    run = run_import(write_csv(tmp_path / "d.csv", HEADER, rows), "Account", db_url)
    assert run.rows["created"] == 3 and run.rows["failed"] == 2
    [refused] = run.report["top_errors"]
    assert refused["reason"].startswith("row: the database refused the row: ")
    assert (refused["count"], refused["first_line"]) == (2, 3)


def test_an_import_cut_short_counts_the_failures_it_had(tmp_path: Path, db_url: str) -> None:
    run = run_import(constituents(tmp_path, 10), "Account", db_url, "--max-errors", "3")
    assert run.report["completed"] is False and run.rows["failed"] == 3
    assert run.report["top_errors"] == [{"reason": UNKNOWN_GROUP, "count": 3, "first_line": 2}]
