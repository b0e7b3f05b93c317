"""CustomerGroup rows on both engines: keys, modes, unchanged detection (SPEC §4)."""

from pathlib import Path

from helpers import GROUPS_HEADER, fetch, run_import, write_csv


def test_creates_groups_with_upper_case_types(tmp_path: Path, db_url: str) -> None:
    path = write_csv(
        tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "individual"], ["Big Co", "Business"]]
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert run.exit_code == 0
    assert run.rows == {
        "read": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert fetch(db_url, "SELECT name, group_type FROM customer_group ORDER BY name") == [
        ("Big Co", "BUSINESS"),
        ("Retail", "INDIVIDUAL"),
    ]


def test_group_names_match_case_insensitively_and_unchanged_rows_are_not_written(
    tmp_path: Path, db_url: str
) -> None:
    first = write_csv(tmp_path / "a.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    run_import(first, "CustomerGroup", db_url)
    stamp = fetch(db_url, "SELECT updated_at FROM customer_group")
    again = write_csv(tmp_path / "b.csv", GROUPS_HEADER, [["Retail", "individual"]])
    run = run_import(again, "CustomerGroup", db_url)
    assert run.rows["unchanged"] == 1
    assert fetch(db_url, "SELECT updated_at FROM customer_group") == stamp
    changed = write_csv(tmp_path / "c.csv", GROUPS_HEADER, [["RETAIL", "BUSINESS"]])
    run = run_import(changed, "CustomerGroup", db_url)
    assert run.rows["updated"] == 1
    assert fetch(db_url, "SELECT name, group_type FROM customer_group") == [("RETAIL", "BUSINESS")]


def test_create_only_skips_existing_and_update_only_skips_missing(
    tmp_path: Path, db_url: str
) -> None:
    run_import(
        write_csv(tmp_path / "a.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]]),
        "CustomerGroup",
        db_url,
    )
    both = write_csv(
        tmp_path / "b.csv", GROUPS_HEADER, [["Retail", "BUSINESS"], ["New", "BUSINESS"]]
    )
    created = run_import(both, "CustomerGroup", db_url, "--mode", "create_only")
    assert created.rows == {
        "read": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
    }
    fresh = write_csv(
        tmp_path / "c.csv", GROUPS_HEADER, [["Retail", "BUSINESS"], ["Other", "BUSINESS"]]
    )
    updated = run_import(fresh, "CustomerGroup", db_url, "--mode", "update_only")
    assert updated.rows == {
        "read": 2,
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
    }
    assert fetch(db_url, "SELECT name, group_type FROM customer_group ORDER BY name") == [
        ("New", "BUSINESS"),
        ("Retail", "BUSINESS"),
    ]


def test_a_group_named_twice_in_one_file_fails_the_later_row(tmp_path: Path, db_url: str) -> None:
    path = write_csv(
        tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"], ["retail", "BUSINESS"]]
    )
    run = run_import(path, "CustomerGroup", db_url)
    assert run.exit_code == 1
    assert run.rows["created"] == 1 and run.rows["failed"] == 1
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "line 3" in log and "name: duplicate of line 2" in log


def test_update_only_needs_no_group_type_column(tmp_path: Path, db_url: str) -> None:
    run_import(
        write_csv(tmp_path / "a.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]]),
        "CustomerGroup",
        db_url,
    )
    names_only = write_csv(tmp_path / "b.csv", ["name"], [["retail"]])
    run = run_import(names_only, "CustomerGroup", db_url, "--mode", "update_only")
    assert run.exit_code == 0
    assert run.rows["updated"] == 1  # the stored spelling follows the file
    assert fetch(db_url, "SELECT name, group_type FROM customer_group") == [
        ("retail", "INDIVIDUAL")
    ]
