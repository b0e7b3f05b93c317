"""Account rows on both engines (SPEC §4): keys, modes, groups, parents, individual contacts."""

from pathlib import Path

import pytest

from helpers import ACCOUNTS_HEADER, account_row, execute, fetch, run_import, seed_groups, write_csv


@pytest.fixture
def groups(tmp_path: Path, db_url: str) -> str:
    seed_groups(tmp_path, db_url)
    return db_url


def accounts(tmp_path: Path, rows: list[list[str]], name: str = "accounts.csv") -> Path:
    return write_csv(tmp_path / name, ACCOUNTS_HEADER, rows)


def test_creates_business_and_individual_accounts(tmp_path: Path, groups: str) -> None:
    path = accounts(
        tmp_path,
        [
            account_row("B-1", "Acme", website="acme.example.com"),
            account_row(
                "I-1", "Jane Doe", "retail", first="Jane", last="Doe", email="JANE@EXAMPLE.COM"
            ),
        ],
    )
    run = run_import(path, "Account", groups)
    assert run.exit_code == 0
    assert run.rows["created"] == 2
    assert run.report["contacts"] == {"created": 1, "updated": 0}
    assert fetch(
        groups, "SELECT account_number, name, website FROM account ORDER BY account_number"
    ) == [
        ("B-1", "Acme", "acme.example.com"),
        ("I-1", "Jane Doe", None),
    ]
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name, c.last_name, c.email, c.is_primary "
        "FROM contact c JOIN account a ON a.id = c.account_id",
    ) == [("I-1", "Jane", "Doe", "jane@example.com", True)]


def test_reimporting_the_same_file_is_unchanged_and_keeps_updated_at(
    tmp_path: Path, groups: str
) -> None:
    path = accounts(
        tmp_path,
        [
            account_row("B-1", parent="B-2"),
            account_row("B-2"),
            account_row("I-1", group="Retail", first="J", last="D"),
        ],
    )
    assert run_import(path, "Account", groups).rows["created"] == 3
    before = fetch(
        groups, "SELECT id, updated_at FROM account UNION ALL SELECT id, updated_at FROM contact"
    )
    run = run_import(path, "Account", groups)
    assert run.rows == {
        "read": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "skipped": 0,
        "failed": 0,
    }
    assert run.report["contacts"] == {"created": 0, "updated": 0}
    assert (
        fetch(
            groups,
            "SELECT id, updated_at FROM account UNION ALL SELECT id, updated_at FROM contact",
        )
        == before
    )


def test_reimport_updates_the_individual_contact_in_place(tmp_path: Path, groups: str) -> None:
    run_import(
        accounts(tmp_path, [account_row("I-1", group="Retail", first="Jane", last="Doe")]),
        "Account",
        groups,
    )
    contact_id = fetch(groups, "SELECT id FROM contact")
    changed = accounts(
        tmp_path,
        [account_row("I-1", group="Retail", first="Jane", last="Roe", phone="+1 555")],
        "b.csv",
    )
    run = run_import(changed, "Account", groups)
    assert run.rows["updated"] == 1
    assert run.report["contacts"] == {"created": 0, "updated": 1}
    assert fetch(groups, "SELECT id, last_name, phone, is_primary FROM contact") == [
        (contact_id[0][0], "Roe", "+1 555", True)
    ]


def test_individual_account_needs_contact_names_and_fails_whole(
    tmp_path: Path, groups: str
) -> None:
    path = accounts(
        tmp_path, [account_row("I-1", group="Retail", first="Jane"), account_row("B-1")]
    )
    run = run_import(path, "Account", groups)
    assert run.exit_code == 1
    assert run.rows["failed"] == 1 and run.rows["created"] == 1
    assert fetch(groups, "SELECT account_number FROM account") == [("B-1",)]
    assert fetch(groups, "SELECT count(*) FROM contact") == [(0,)]
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "primary_contact_last_name: is required for an account in an INDIVIDUAL group" in log


def test_business_accounts_ignore_primary_contact_columns_and_say_so(
    tmp_path: Path, groups: str
) -> None:
    path = accounts(tmp_path, [account_row("B-1", first="Not", last="Used")])
    run = run_import(path, "Account", groups)
    assert run.exit_code == 0
    assert fetch(groups, "SELECT count(*) FROM contact") == [(0,)]
    assert run.report["warnings"] == [
        "primary_contact_* values were ignored on 1 rows whose group is not INDIVIDUAL"
    ]


def test_unknown_group_fails_the_row_with_a_did_you_mean_hint(tmp_path: Path, groups: str) -> None:
    run = run_import(
        accounts(tmp_path, [account_row("B-1", group="Enterprize")]), "Account", groups
    )
    assert run.rows["failed"] == 1
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "customer_group: unknown customer group 'Enterprize' (did you mean 'Enterprise'?)" in log


def test_parents_resolve_from_the_database_and_forward_in_the_file(
    tmp_path: Path, groups: str
) -> None:
    run_import(accounts(tmp_path, [account_row("ROOT")], "a.csv"), "Account", groups)
    path = accounts(
        tmp_path,
        [
            account_row("C-1", parent="ROOT"),
            account_row("C-2", parent="C-3"),
            account_row("C-3", parent="C-1"),
        ],
    )
    run = run_import(path, "Account", groups, "--batch-size", "1")
    assert run.exit_code == 0, run.stderr
    assert run.rows["created"] == 3
    assert fetch(
        groups,
        "SELECT a.account_number, p.account_number FROM account a LEFT JOIN account p "
        "ON p.id = a.parent_account_id ORDER BY a.account_number",
    ) == [("C-1", "ROOT"), ("C-2", "C-3"), ("C-3", "C-1"), ("ROOT", None)]


@pytest.mark.parametrize("batch_size", ["1", "1000"])
def test_parent_cycles_fail_every_row_involved(
    tmp_path: Path, groups: str, batch_size: str
) -> None:
    path = accounts(
        tmp_path,
        [
            account_row("A", parent="B"),
            account_row("B", parent="A"),
            account_row("OK", parent=""),
            account_row("CHILD", parent="A"),
        ],
    )
    run = run_import(path, "Account", groups, "--batch-size", batch_size)
    assert run.exit_code == 1
    assert run.rows == {
        "read": 4,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 3,
    }
    assert fetch(groups, "SELECT account_number FROM account") == [("OK",)]
    log = Path(run.report["error_log"]).read_text(encoding="utf-8")
    assert "would make a cycle of parent accounts" in log
    assert "parent account 'A' was not imported" in log


def test_an_update_that_would_close_a_cycle_through_the_database_fails(
    tmp_path: Path, groups: str
) -> None:
    run_import(
        accounts(tmp_path, [account_row("TOP"), account_row("MID", parent="TOP")], "a.csv"),
        "Account",
        groups,
    )
    run = run_import(
        accounts(tmp_path, [account_row("TOP", parent="MID")], "b.csv"), "Account", groups
    )
    assert run.rows["failed"] == 1
    assert fetch(groups, "SELECT parent_account_id FROM account WHERE account_number = 'TOP'") == [
        (None,)
    ]


def test_self_reference_fails(tmp_path: Path, groups: str) -> None:
    run = run_import(accounts(tmp_path, [account_row("A", parent="A")]), "Account", groups)
    assert run.rows["failed"] == 1
    assert "an account cannot be its own parent" in Path(run.report["error_log"]).read_text(
        encoding="utf-8"
    )


def test_unknown_parent_fails_after_the_whole_file_was_read(tmp_path: Path, groups: str) -> None:
    run = run_import(
        accounts(tmp_path, [account_row("A", parent="NOPE"), account_row("B")]), "Account", groups
    )
    assert run.rows["failed"] == 1 and run.rows["created"] == 1
    assert "parent account 'NOPE' not found" in Path(run.report["error_log"]).read_text(
        encoding="utf-8"
    )


def test_missing_account_number_gets_a_generated_one_with_a_warning(
    tmp_path: Path, groups: str
) -> None:
    path = accounts(tmp_path, [account_row(""), account_row("")])
    run = run_import(path, "Account", groups)
    assert run.rows["created"] == 2
    numbers = [n for (n,) in fetch(groups, "SELECT account_number FROM account")]
    assert len(set(numbers)) == 2 and all(n.startswith("AUTO-") for n in numbers)
    assert "importing this file again will create them again" in run.report["warnings"][0]


def test_update_only_without_account_number_fails_and_unknown_is_skipped(
    tmp_path: Path, groups: str
) -> None:
    path = accounts(tmp_path, [account_row(""), account_row("NEW")])
    run = run_import(path, "Account", groups, "--mode", "update_only")
    assert run.rows == {
        "read": 2,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "failed": 1,
    }


def test_create_only_skips_existing_even_when_different(tmp_path: Path, groups: str) -> None:
    run_import(accounts(tmp_path, [account_row("A", "Old")], "a.csv"), "Account", groups)
    run = run_import(
        accounts(tmp_path, [account_row("A", "New")], "b.csv"),
        "Account",
        groups,
        "--mode",
        "create_only",
    )
    assert run.rows["skipped"] == 1
    assert fetch(groups, "SELECT name FROM account") == [("Old",)]


def test_invalid_row_fails_even_when_create_only_would_skip_it(tmp_path: Path, groups: str) -> None:
    run_import(accounts(tmp_path, [account_row("A")], "a.csv"), "Account", groups)
    bad = accounts(tmp_path, [account_row("A", website="not a site")], "b.csv")
    run = run_import(bad, "Account", groups, "--mode", "create_only")
    assert run.rows["failed"] == 1 and run.rows["skipped"] == 0


def test_updates_write_only_the_columns_present_in_the_file(tmp_path: Path, groups: str) -> None:
    run_import(
        accounts(tmp_path, [account_row("A", "Acme", website="acme.com", parent="")], "a.csv"),
        "Account",
        groups,
    )
    partial = write_csv(tmp_path / "b.csv", ["account_number", "website"], [["A", ""]])
    run = run_import(partial, "Account", groups, "--mode", "update_only")
    assert run.rows["updated"] == 1
    assert fetch(groups, "SELECT name, website FROM account") == [("Acme", None)]


def test_present_empty_required_cell_fails_on_update(tmp_path: Path, groups: str) -> None:
    run_import(accounts(tmp_path, [account_row("A", "Acme")], "a.csv"), "Account", groups)
    partial = write_csv(tmp_path / "b.csv", ["account_number", "name"], [["A", "  "]])
    run = run_import(partial, "Account", groups, "--mode", "update_only")
    assert run.rows["failed"] == 1
    assert fetch(groups, "SELECT name FROM account") == [("Acme",)]


def test_duplicate_account_number_in_one_file_fails_the_later_row(
    tmp_path: Path, groups: str
) -> None:
    run = run_import(
        accounts(tmp_path, [account_row("A", "First"), account_row("A", "Second")]),
        "Account",
        groups,
    )
    assert run.rows["created"] == 1 and run.rows["failed"] == 1
    assert fetch(groups, "SELECT name FROM account") == [("First",)]
    assert "account_number: duplicate of line 2" in Path(run.report["error_log"]).read_text(
        encoding="utf-8"
    )


def test_moving_a_business_account_into_an_individual_group_needs_a_contact(
    tmp_path: Path, groups: str
) -> None:
    run_import(accounts(tmp_path, [account_row("A")], "a.csv"), "Account", groups)
    moved = accounts(tmp_path, [account_row("A", group="Retail")], "b.csv")
    assert run_import(moved, "Account", groups).rows["failed"] == 1
    with_contact = accounts(
        tmp_path, [account_row("A", group="Retail", first="A", last="B")], "c.csv"
    )
    run = run_import(with_contact, "Account", groups)
    assert run.rows["updated"] == 1
    assert run.report["contacts"]["created"] == 1
    assert fetch(groups, "SELECT count(*) FROM contact WHERE is_primary") == [(1,)]


def test_an_account_whose_group_became_individual_updates_without_contact_columns(
    tmp_path: Path, groups: str
) -> None:
    run_import(
        accounts(tmp_path, [account_row("S-1", "Corner Shop", group="Partners")], "a.csv"),
        "Account",
        groups,
    )
    execute(groups, "UPDATE customer_group SET group_type = 'INDIVIDUAL' WHERE name = 'Partners'")
    renamed = write_csv(
        tmp_path / "b.csv", ["account_number", "name"], [["S-1", "Corner Shop Renamed"]]
    )
    run = run_import(renamed, "Account", groups, "--mode", "update_only")
    assert run.rows["updated"] == 1, Path(run.report["error_log"] or "/dev/null").read_text()
    assert fetch(groups, "SELECT name FROM account") == [("Corner Shop Renamed",)]
    assert fetch(groups, "SELECT count(*) FROM contact") == [(0,)]


def test_new_accounts_own_their_contacts_and_leave_the_id_sequence_ahead(
    tmp_path: Path, groups: str
) -> None:
    """Accounts and their primary contacts go in by different statements (on PostgreSQL
    two COPYs, the contacts' account ids found in between): each contact must sit on its
    own account, and a row inserted later with a default id must not collide."""
    rows = [account_row(f"I-{i}", group="Retail", first=f"F{i}", last=f"L{i}") for i in range(4)]
    rows.append(account_row("B-1"))
    assert run_import(accounts(tmp_path, rows), "Account", groups).rows["created"] == 5
    assert fetch(
        groups,
        "SELECT a.account_number, c.first_name FROM contact c "
        "JOIN account a ON a.id = c.account_id ORDER BY 1",
    ) == [(f"I-{i}", f"F{i}") for i in range(4)]
    execute(
        groups,
        "INSERT INTO account (account_number, name, customer_group_id, created_at, updated_at) "
        "SELECT 'LATER', 'Later', customer_group_id, created_at, updated_at FROM account "
        "WHERE account_number = 'B-1'",
    )
    later, highest = fetch(
        groups,
        "SELECT (SELECT id FROM account WHERE account_number = 'LATER'), "
        "(SELECT max(id) FROM account WHERE account_number <> 'LATER')",
    )[0]
    assert later > highest
