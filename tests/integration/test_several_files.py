"""Several files in one command (SPEC §11): dependency order, guessed models, one run and
report per file with a total, the worst exit status, and nothing written when a file cannot
be imported. Results are read back with SQL."""

import shlex
from pathlib import Path

import pytest

from custimport.report.several import SeveralSinks
from custimport.schemas import ACCOUNT
from custimport.service.importing import ImportRequest
from custimport.service.several import plan, run_several
from custimport.service.several_job import GivenFile
from helpers import (
    ACCOUNTS_HEADER,
    CONTACTS_HEADER,
    GROUPS_HEADER,
    account_row,
    cli,
    execute,
    fetch,
    run_import,
    write_csv,
)


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    groups = write_csv(
        tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"], ["Enterprise", "BUSINESS"]]
    )
    accounts = write_csv(
        tmp_path / "a.csv",
        ACCOUNTS_HEADER,
        [
            account_row("A1", parent="A2"),
            account_row("A2"),
            account_row("I1", group="Retail", first="Jo", last="Do"),
        ],
    )
    contacts = write_csv(
        tmp_path / "c.csv", CONTACTS_HEADER, [["A1", "Bob", "Smith", "bob@x.com", "", "true"]]
    )
    return groups, accounts, contacts


def test_files_given_contacts_first_are_imported_groups_accounts_contacts(
    tmp_path: Path, db_url: str
) -> None:
    groups, accounts, contacts = _files(tmp_path)
    run = cli(contacts, accounts, groups, "--db", db_url, "--json", "--quiet")
    assert run.exit_code == 0, run.stderr
    report = run.report
    assert [f["model"] for f in report["files"]] == ["CustomerGroup", "Account", "Contact"]
    assert [f["file"] for f in report["files"]] == [str(groups), str(accounts), str(contacts)]
    assert [f["rows"]["created"] for f in report["files"]] == [2, 3, 1]
    assert report["total"] == {
        "read": 6,
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert report["not_imported"] == []
    runs = fetch(db_url, "SELECT id, model, status, rows_created FROM import_run ORDER BY id")
    assert [(m, s, c) for _, m, s, c in runs] == [
        ("CustomerGroup", "completed", 2),
        ("Account", "completed", 3),
        ("Contact", "completed", 1),
    ]
    assert [f["run"] for f in report["files"]] == [r[0] for r in runs]
    assert fetch(db_url, "SELECT count(*) FROM contact") == [(2,)]  # Jo Do, Bob Smith


def test_the_file_option_given_twice_and_the_import_command_take_several_files(
    tmp_path: Path, db_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    run = cli("import", "--file", accounts, "--file", groups, "--db", db_url, "--json")
    assert run.exit_code == 0, run.stderr
    assert [f["model"] for f in run.report["files"]] == ["CustomerGroup", "Account"]


def test_the_human_summary_gives_each_file_then_a_total(tmp_path: Path, sqlite_url: str) -> None:
    groups, accounts, contacts = _files(tmp_path)
    run = cli(groups, accounts, contacts, "--db", sqlite_url)
    assert run.exit_code == 0, run.stderr
    out = run.stdout
    assert (
        out.index("CustomerGroup import")
        < out.index("Account import")
        < out.index("Contact import")
    )
    assert "Total of 3 files: read 6, created 6, updated 0, unchanged 0, skipped 0, failed 0" in out


def test_a_file_whose_model_cannot_be_told_apart_is_refused_with_nothing_written(
    tmp_path: Path, db_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    assert run_import(groups, "CustomerGroup", db_url).exit_code == 0
    both = write_csv(
        tmp_path / "both.csv",
        ["name", "group_type", "customer_group"],
        [["X", "BUSINESS", "Retail"]],
    )
    more = write_csv(tmp_path / "more.csv", GROUPS_HEADER, [["Partners", "BUSINESS"]])
    run = cli(more, accounts, both, "--db", db_url, "--json")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "both.csv: cannot tell which model this file holds" in run.stderr
    assert "CustomerGroup and Account equally well" in run.stderr
    assert fetch(db_url, "SELECT count(*) FROM customer_group") == [(2,)]
    assert fetch(db_url, "SELECT count(*) FROM account") == [(0,)]
    assert fetch(db_url, "SELECT count(*) FROM import_run") == [(1,)]


def test_a_file_that_fits_no_model_is_refused_naming_it(tmp_path: Path, sqlite_url: str) -> None:
    groups, _, _ = _files(tmp_path)
    other = write_csv(tmp_path / "other.csv", ["colour", "size"], [["red", "L"]])
    run = cli(groups, other, "--db", sqlite_url)
    assert run.exit_code == 2
    assert "other.csv: cannot tell which model this file holds" in run.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # not even created


@pytest.mark.parametrize(
    ("header", "model", "tied"),
    [
        ("name,customer_group,group_type", None, ["CustomerGroup", "Account"]),
        (
            "Account Number,First Name,Last Name,Company Name,Customer Group",
            None,
            ["Account", "Contact"],
        ),
        (  # fits none: the one using most columns, whose import says what it lacks
            "Person - Name,Person - First Name,Person - Last Name,Person - Email,"
            "Organization - Name",
            "Contact",
            [],
        ),
        ("Customer No.,Account Name,customer_group", "Account", []),
    ],
)
def test_the_import_of_several_files_takes_each_model_as_inspect_shows_it(
    tmp_path: Path, sqlite_url: str, header: str, model: str | None, tied: list[str]
) -> None:
    """One rule (inspecting.guess_model) for both: a tie is one for both, whatever the
    models' order; a best fit is the model imported."""
    path = tmp_path / "x.csv"
    path.write_text(header + "\n" + ",".join("v" for _ in header.split(",")) + "\n")
    shown = cli("inspect", path, "--json").report
    assert (shown["model"], shown["models_tied"]) == (model, tied)
    groups = write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Retail", "INDIVIDUAL"]])
    run = cli(path, groups, "--db", sqlite_url, "--dry-run", "--json", "--quiet")
    if tied:
        assert run.exit_code == 2
        assert f"fits {tied[0]} and {tied[1]} equally well" in run.stderr
    elif model == "Contact":
        assert run.exit_code == 2
        assert "x.csv: its header looks most like Contact's" in run.stderr
        assert "required columns missing: account" in run.stderr
    else:
        assert [f["model"] for f in run.report["files"]] == ["CustomerGroup", model]


def test_with_model_every_file_is_that_model_and_a_later_file_without_its_columns_stops_all(
    tmp_path: Path, db_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    more = write_csv(tmp_path / "more.csv", GROUPS_HEADER, [["Partners", "BUSINESS"]])
    run = cli(groups, accounts, "--model", "CustomerGroup", "--db", db_url, "--json")
    assert run.exit_code == 2
    assert "a.csv: " in run.stderr and "group_type" in run.stderr
    run = cli(groups, more, "-m", "customergroup", "--db", db_url, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.report["total"]["created"] == 3
    assert fetch(db_url, "SELECT count(*) FROM import_run") == [(2,)]


def test_the_exit_status_is_the_worst_of_the_files(tmp_path: Path, db_url: str) -> None:
    groups, accounts, _ = _files(tmp_path)
    bad_contacts = write_csv(
        tmp_path / "bad.csv", CONTACTS_HEADER, [["NOPE", "Ann", "Lee", "", "", ""]]
    )
    run = cli(groups, bad_contacts, accounts, "--db", db_url, "--json", "--quiet")
    assert run.exit_code == 1
    files = run.report["files"]
    assert [f["model"] for f in files] == ["CustomerGroup", "Account", "Contact"]
    assert [f["rows"]["failed"] for f in files] == [0, 0, 1]
    assert run.report["total"]["failed"] == 1
    assert files[2]["error_log"] and Path(files[2]["error_log"]).exists()


def test_a_mapping_with_files_of_different_models_is_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    mapping = tmp_path / "m.json"
    mapping.write_text('{"website": "website"}')
    run = cli(groups, accounts, "--mapping", mapping, "--db", sqlite_url)
    assert run.exit_code == 2
    assert "--mapping with several files needs --model" in run.stderr
    bundle = tmp_path / "bundle"
    assert cli("export", "--all", "-o", bundle, "--db", sqlite_url).exit_code == 0
    run = cli(bundle, "--mapping", mapping, "--db", sqlite_url)
    assert run.exit_code == 2
    assert "--mapping applies to every file, and these files are of 3 models" in run.stderr


def test_a_dry_run_over_several_files_writes_nothing_and_counts_what_the_import_does(
    tmp_path: Path, db_url: str
) -> None:
    """The Account file refers to groups that only the CustomerGroup file of the same
    command creates: the dry run sees them, in its one transaction."""
    groups, accounts, contacts = _files(tmp_path)
    dry = cli(contacts, accounts, groups, "--db", db_url, "--json", "--quiet", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert [f["dry_run"] for f in dry.report["files"]] == [True] * 3
    assert [f["committed"] for f in dry.report["files"]] == [False] * 3
    assert [f["run"] for f in dry.report["files"]] == [None] * 3
    for table in ("customer_group", "account", "contact", "import_run"):
        assert fetch(db_url, f"SELECT count(*) FROM {table}") == [(0,)], table
    real = cli(contacts, accounts, groups, "--db", db_url, "--json", "--quiet", "--atomic")
    assert real.exit_code == 0, real.stderr
    assert [f["rows"] for f in real.report["files"]] == [f["rows"] for f in dry.report["files"]]
    assert [f["contacts"] for f in real.report["files"]] == [
        f["contacts"] for f in dry.report["files"]
    ]
    assert real.report["total"] == dry.report["total"]
    assert fetch(db_url, "SELECT count(*) FROM contact") == [(2,)]
    statuses = fetch(db_url, "SELECT status FROM import_run ORDER BY id")
    assert statuses == [("completed",)] * 3


def test_atomic_with_a_failed_row_in_the_last_file_takes_back_every_file(
    tmp_path: Path, db_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    bad_contacts = write_csv(
        tmp_path / "bad.csv",
        CONTACTS_HEADER,
        [["A1", "Bob", "Smith", "bob@x.com", "", ""], ["NOPE", "Ann", "Lee", "", "", ""]],
    )
    run = cli(groups, accounts, bad_contacts, "--db", db_url, "--json", "--quiet", "--atomic")
    assert run.exit_code == 1
    files = run.report["files"]
    assert [f["committed"] for f in files] == [False] * 3
    assert [f["rows"]["created"] for f in files] == [2, 3, 1]  # what would have been written
    assert files[2]["rows"]["failed"] == 1
    for table in ("customer_group", "account", "contact", "import_change"):
        assert fetch(db_url, f"SELECT count(*) FROM {table}") == [(0,)], table
    runs = fetch(db_url, "SELECT model, status FROM import_run ORDER BY id")
    assert runs == [
        ("CustomerGroup", "rolled_back"),
        ("Account", "rolled_back"),
        ("Contact", "rolled_back"),
    ]
    human = cli(groups, accounts, bad_contacts, "--db", db_url, "--atomic")
    assert human.stdout.count("Atomic import rolled back: nothing was written") == 3


INJECT = """
CREATE FUNCTION injected() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected' USING ERRCODE = '{code}';
END $$;
CREATE {kind} TRIGGER injected {when} INSERT ON contact {deferred}
    FOR EACH ROW EXECUTE FUNCTION injected();
"""


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("code", "kind", "when", "deferred", "message", "reached"),
    [
        # a deadlock when the accounts' primary contacts are written: the transaction,
        # which holds the groups too, cannot start again; the contacts are not imported
        ("40P01", "", "BEFORE", "", "broke the one transaction of these files", 2),
        # a COMMIT the database refuses (a deferred constraint), after every file
        ("23514", "CONSTRAINT", "AFTER", "DEFERRABLE INITIALLY DEFERRED", "injected", 3),
    ],
)
def test_a_database_failure_in_one_transaction_of_several_files_takes_back_them_all(
    tmp_path: Path,
    postgres_url: str,
    code: str,
    kind: str,
    when: str,
    deferred: str,
    message: str,
    reached: int,
) -> None:
    groups, accounts, contacts = _files(tmp_path)
    assert cli("db", "upgrade", "--db", postgres_url).exit_code == 0
    execute(postgres_url, INJECT.format(code=code, kind=kind, when=when, deferred=deferred))
    run = cli(groups, accounts, contacts, "--atomic", "--db", postgres_url, "--json", "--quiet")
    assert run.exit_code == 1, run.stderr
    files = run.report["files"]
    assert [f["committed"] for f in files] == [False] * reached
    assert files[-1]["aborted"] is not None and message in files[-1]["aborted"]
    assert len(run.report["not_imported"]) == 3 - reached
    for table in ("customer_group", "account", "contact", "import_change"):
        assert fetch(postgres_url, f"SELECT count(*) FROM {table}") == [(0,)], table
    runs = fetch(postgres_url, "SELECT status, message FROM import_run ORDER BY id")
    # the failed file's run is aborted; the others were rolled back with it, or never reached
    assert [status for status, _ in runs] == ["rolled_back"] * (reached - 1) + ["aborted"] + [
        "rolled_back"
    ] * (3 - reached)
    counts = fetch(postgres_url, "SELECT rows_read, rows_created, last_line FROM import_run")
    assert counts == [(0, 0, None)] * 3  # nothing committed, nothing to resume or undo
    if reached == 2:
        assert "not imported: an earlier file" in runs[2][1]


def test_a_file_refused_part_way_stops_the_later_files_which_are_listed(
    tmp_path: Path, db_url: str
) -> None:
    """A file that cannot be read once the ones before it are in (it went away after the
    headers were checked): exit 2, the first file's report, the rest not imported."""
    groups, accounts, contacts = _files(tmp_path)
    options = ImportRequest(path=groups, spec=ACCOUNT, database_url=db_url)
    requests = plan([GivenFile(contacts), GivenFile(accounts), GivenFile(groups)], options)
    accounts.unlink()
    sinks = SeveralSinks(requests, None, None, __import__("datetime").datetime.now())
    result = run_several(requests, lambda request: sinks.observer(request, False))
    assert result.exit_code == 2
    assert [o.report is not None for o in result.outcomes] == [True, False, False]
    assert result.outcomes[1].refused is not None and "a.csv" in result.outcomes[1].refused
    assert result.total["created"] == 2
    assert fetch(db_url, "SELECT count(*) FROM account") == [(0,)]
    assert fetch(db_url, "SELECT model FROM import_run") == [("CustomerGroup",)]


def test_options_that_take_one_file_are_refused_with_several(
    tmp_path: Path, sqlite_url: str
) -> None:
    groups, accounts, _ = _files(tmp_path)
    cases = [
        (["--resume"], "--resume goes on with one file: name that file alone (with --model)"),
        (["--changes", tmp_path / "changes.csv"], "--changes writes one file's changes"),
    ]
    for extra, fragment in cases:
        run = cli(groups, accounts, *extra, "--db", sqlite_url)
        assert run.exit_code == 2 and fragment in run.stderr, run.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    assert not (tmp_path / "changes.csv").exists()


def test_match_on_must_suit_every_file_and_matches_across_one_transaction(
    tmp_path: Path, db_url: str
) -> None:
    """--match-on applies to every file: a choice one file's model lacks is exit 2 naming
    that file, with nothing written; one all models have (name) matches the accounts,
    also inside the one transaction of --dry-run and --atomic."""
    groups, _, _ = _files(tmp_path)
    assert cli(groups, "--model", "CustomerGroup", "--db", db_url, "--quiet").exit_code == 0
    stored = write_csv(tmp_path / "s.csv", ACCOUNTS_HEADER, [account_row("A1", name="Acme")])
    assert run_import(stored, "Account", db_url).rows["created"] == 1
    header = ["name", "customer_group", "industry"]
    by_name = write_csv(tmp_path / "n.csv", header, [["ACME", "Enterprise", "Tools"]])
    refused = cli(groups, by_name, "--match-on", "website", "--db", db_url, "--quiet")
    assert refused.exit_code == 2
    assert "g.csv: --match-on 'website' is not a choice for CustomerGroup" in refused.stderr
    assert fetch(db_url, "SELECT count(*) FROM import_run") == [(2,)]
    for extra in ("--dry-run", "--atomic"):
        run = cli(groups, by_name, "--match-on", "name", "--db", db_url, "--json", extra)
        assert run.exit_code == 0, run.stderr
        assert run.report["files"][1]["rows"]["updated"] == 1, run.report
    assert fetch(db_url, "SELECT account_number, industry FROM account") == [("A1", "Tools")]


def test_the_resume_hint_of_one_of_several_files_is_a_command_that_runs_as_written(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file name with a space, a leading `-` and a non-ASCII letter, quoted so that the
    hint's command, pasted into a shell, resumes it. The interruption is written into the
    run record (tests/e2e/faults/test_bundle_kill.py kills an import for real)."""
    groups, accounts, _ = _files(tmp_path)
    odd = accounts.rename(tmp_path / "-acc ü.csv")
    monkeypatch.chdir(tmp_path)
    assert cli(groups.name, f"./{odd.name}", "--db", sqlite_url).exit_code == 0
    execute(
        sqlite_url,
        "UPDATE import_run SET status = 'interrupted', rows_read = 1, last_line = 2 "
        "WHERE model = 'Account'",
    )
    again = cli(groups.name, f"./{odd.name}", "--db", sqlite_url, "--dry-run")
    command = " ".join(again.stderr.split()).split("`")[1]
    assert command == "custimport './-acc ü.csv' --model Account --resume"
    resumed = cli(*shlex.split(command)[1:], "--db", sqlite_url, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.report["resumed"]["after_line"] == 2
