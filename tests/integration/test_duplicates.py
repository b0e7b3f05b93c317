"""`custimport duplicates` (SPEC §10): likely duplicates as scored pairs, on both engines;
it never changes data."""

import csv
import json
from pathlib import Path

import pytest

from custimport.rows import duplicate_pairs
from custimport.rows.duplicate_pairs import Records, find_pairs
from helpers import cli, run_import, seed_groups, write_csv
from hostile_support import full_dump

HEADER = ["account_number", "name", "customer_group", "website"]


def accounts(tmp_path: Path, db_url: str) -> None:
    seed_groups(tmp_path, db_url)
    rows = [
        ["A-1", "Acme Corp", "Enterprise", "https://www.acme.example/about"],
        ["A-2", "ACME Corporation", "Enterprise", "acme.example"],
        ["A-3", "Acme Corp.", "Partners", ""],
        ["B-1", "Globex Industries", "Enterprise", ""],
        ["B-2", "Globex Industrie", "Enterprise", ""],  # a typo: similar, not equal
        ["C-1", "Initech", "Enterprise", "initech.example"],
        ["D-1", "Umbrella", "Enterprise", "http://INITECH.example:8080/"],  # same host
        ["E-1", "Hooli", "Enterprise", ""],
    ]
    assert run_import(write_csv(tmp_path / "a.csv", HEADER, rows), "Account", db_url).exit_code == 0


def pairs_of(run_stdout: str) -> dict[tuple[str, str], tuple[float, str]]:
    return {tuple(p["keys"]): (p["score"], p["reason"]) for p in json.loads(run_stdout)}


def test_accounts_paired_by_name_and_website_host(db_url: str, tmp_path: Path) -> None:
    accounts(tmp_path, db_url)
    before = full_dump(db_url)

    run = cli("duplicates", "--model", "Account", "--db", db_url, "--json")

    assert run.exit_code == 0, run.stderr
    pairs = pairs_of(run.stdout)
    assert pairs[("A-1", "A-2")] == (1.0, "same name; same website host")  # legal forms aside
    assert pairs[("A-1", "A-3")] == (1.0, "same name")
    assert pairs[("C-1", "D-1")] == (0.95, "same website host")
    score, reason = pairs[("B-1", "B-2")]
    assert 0.9 <= score < 1 and reason == f"similar names ({score:.3f})"
    assert not any("E-1" in keys for keys in pairs)
    assert list(pairs.values()) == sorted(pairs.values(), key=lambda p: -p[0])  # best first
    assert full_dump(db_url) == before  # it never changes data

    strict = pairs_of(cli("duplicates", "--model", "Account", "--db", db_url, "--json",
                          "--threshold", "0.99").stdout)  # fmt: skip
    assert ("B-1", "B-2") not in strict and ("A-1", "A-3") in strict


def test_contacts_by_email_and_phone_anywhere_and_by_name_within_their_account(
    db_url: str, tmp_path: Path
) -> None:
    accounts(tmp_path, db_url)
    header = ["account", "first_name", "last_name", "email", "phone"]
    rows = [
        ["A-1", "Ann", "Lee", "ann@x.example", "+44 20 7946 0018"],
        ["B-1", "Annie", "Lee", "ANN@x.example", ""],  # the same email, another account
        ["C-1", "Bo", "Ng", "bo@x.example", "020-7946-0018 "],  # digits of A-1's phone?
        ["E-1", "Jon", "Smith", "", ""],
        ["E-1", "John", "Smith", "j@x.example", ""],  # alike, same account
        ["C-1", "John", "Smith", "", ""],  # same name, another account: not paired
    ]
    assert run_import(write_csv(tmp_path / "c.csv", header, rows), "Contact", db_url).exit_code == 0

    pairs = pairs_of(cli("duplicates", "--model", "Contact", "--db", db_url, "--json").stdout)

    assert pairs[("A-1/ann@x.example", "B-1/ann@x.example")][1] == "same email"
    assert pairs[("E-1/Jon Smith", "E-1/j@x.example")][1].startswith("similar names")
    assert not any("C-1/John Smith" in keys for keys in pairs)
    assert ("A-1/ann@x.example", "C-1/bo@x.example") not in pairs  # 44… and 020… differ


def test_pairs_to_a_csv_file_and_on_screen(sqlite_url: str, tmp_path: Path) -> None:
    accounts(tmp_path, sqlite_url)
    out = tmp_path / "pairs.csv"
    run = cli("duplicates", "--model", "Account", "--db", sqlite_url, "-o", out)
    assert run.exit_code == 0, run.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["key_a", "key_b", "score", "reason"]
    assert ["A-1", "A-2", "1.000", "same name; same website host"] in lines
    assert "5 likely duplicate pairs among 8 accounts" in run.stdout
    again = cli("duplicates", "--model", "Account", "--db", sqlite_url, "-o", out)
    assert again.exit_code == 2 and "use --force to replace it" in again.stderr

    screen = cli("duplicates", "--model", "Account", "--db", sqlite_url)
    assert "A-1" in screen.stdout and "same website host" in screen.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "CustomerGroup"], "duplicates are found among Account or Contact records"),
        (["--model", "Account", "--threshold", "0"], "--threshold 0.0 must be above 0"),
        (["--model", "Account", "--threshold", "1.5"], "must be above 0 and at most 1"),
        (["--model", "Nope"], "unknown model 'Nope'; use Account or Contact"),
        (["--model", "Account", "--json", "-o", "x.csv"], "give -o FILE or --json, not both"),
    ],
)
def test_usage_errors(sqlite_url: str, args: list[str], message: str) -> None:
    run = cli("duplicates", *args, "--db", sqlite_url)
    assert run.exit_code == 2 and message in run.stderr


def test_a_value_shared_by_many_records_is_a_star_not_every_pair() -> None:
    """Blocking keeps a large run (a franchise's one website) to one pair per record."""
    size = duplicate_pairs.GROUP_LIMIT + 5
    keys = [f"K{n:03d}" for n in range(size)]
    records = Records(keys, [""] * size, [""] * size, {"website": ["chain.example"] * size})
    found = find_pairs(records, 0.9)
    pairs = list(found.pairs)
    assert found.count == len(pairs) == size - 1
    assert all(p.keys[0] == "K000" for p in pairs)
    assert pairs[0].reason == f"same website host (shared by {size} records)"


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    run = cli("duplicates", "--model", "Account", "--db", f"sqlite:///{typo}")
    assert run.exit_code == 2 and "no database at" in run.stderr
    assert not typo.exists()


def test_numbered_branches_are_not_alike_and_near_names_score_below_one() -> None:
    names = ["store 12", "store 13", "acme " + "x" * 2000, "acme " + "x" * 1999 + "y"]
    keys = ["S-12", "S-13", "L-1", "L-2"]
    found = find_pairs(Records(keys, names, names, {}), 0.9)
    pairs = {p.keys: p for p in found.pairs}
    assert ("S-12", "S-13") not in pairs  # names that differ in their numbers
    assert pairs[("L-1", "L-2")].score == 0.999  # alike, not the same name
    assert pairs[("L-1", "L-2")].reason == "similar names (0.999)"
