"""The change file tells the whole truth under any rules (SPEC §9), on both engines.

For random files, modes, field policies, empty-cell rules and defaults: starting from the
accounts as they were before the import and applying the change file's lines (a created
row's fields, an updated field's `after`) gives the accounts as they are after it, and
every updated line's `before` is the value it replaced.
"""

import csv
import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import fetch, run_import, seed_groups, write_csv

OPTIONAL = ["name", "customer_group", "website", "industry", "legal_name"]
POLICY_FIELDS = ["name", "customer_group", "website", "industry", "legal_name"]
VALUES = {
    "name": ["Acme", "Beta", ""],
    "customer_group": ["Enterprise", "partners", ""],
    "website": ["a.example", "b.example", ""],
    "industry": ["Mining", "Food", ""],
    "legal_name": ["Acme Ltd", "Beta GmbH", ""],
}
DEFAULTS = {"industry": "Defaulted", "customer_group": "Partners", "legal_name": "Default Ltd"}
_examples = itertools.count()
_seeded: set[str] = set()


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    columns = ["account_number", *draw(st.lists(st.sampled_from(OPTIONAL), unique=True))]
    stored = draw(
        st.lists(
            st.fixed_dictionaries({f: st.sampled_from(v) for f, v in VALUES.items()}),
            min_size=1,
            max_size=4,
        )
    )
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 5),  # keys 0-3 may be stored, 4-5 never are
                st.fixed_dictionaries({f: st.sampled_from(v) for f, v in VALUES.items()}),
            ),
            min_size=1,
            max_size=8,
        )
    )
    policies = draw(
        st.dictionaries(
            st.sampled_from(POLICY_FIELDS), st.sampled_from(["overwrite", "if_empty", "on_create"])
        )
    )
    defaults = draw(st.lists(st.sampled_from(sorted(DEFAULTS)), unique=True))
    return {
        "columns": columns,
        "stored": stored,
        "rows": rows,
        "policies": policies,
        "defaults": defaults,
        "empty_cells": draw(st.sampled_from(["clear", "keep"])),
        "mode": draw(st.sampled_from(["create_update", "create_only", "update_only"])),
    }


def accounts(db_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    """The accounts of one example, field by field as the change file names them."""
    found = fetch(
        db_url,
        "SELECT a.account_number, a.name, g.name, a.website, a.industry, a.legal_name, "
        "a.description, p.account_number FROM account a "
        "JOIN customer_group g ON g.id = a.customer_group_id "
        "LEFT JOIN account p ON p.id = a.parent_account_id WHERE a.account_number LIKE :p",
        p=f"{prefix}%",
    )
    names = ["name", "customer_group", "website", "industry", "legal_name", "description"]
    return {row[0]: dict(zip([*names, "parent_account"], row[1:], strict=True)) for row in found}


def replayed(state: dict[str, dict[str, Any]], change_file: Path) -> dict[str, dict[str, Any]]:
    state = {key: dict(fields) for key, fields in state.items()}
    with change_file.open(newline="", encoding="utf-8") as handle:
        for change in csv.DictReader(handle):
            assert change["model"] == "Account", change  # BUSINESS groups: no contacts
            key = change["key"]
            if change["action"] == "created":
                assert key not in state
                created = json.loads(change["after"])
                state[key] = {f: created.get(f) for f in [*VALUES, "description"]}
                state[key]["parent_account"] = created.get("parent_account")
                continue
            assert change["action"] == "updated", change
            fields = state[key]
            assert (fields[change["field"]] or "") == change["before"], change
            fields[change["field"]] = change["after"] or None
    return state


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(example=scenario())
def test_applying_the_change_file_to_the_accounts_before_gives_the_accounts_after(
    db_url: str, tmp_path: Path, example: dict[str, Any]
) -> None:
    if db_url not in _seeded:  # one database for all examples; each has its own keys
        seed_groups(tmp_path, db_url)
        _seeded.add(db_url)
    prefix = f"H{next(_examples)}-"
    stored = [
        [f"{prefix}{i}", values["name"] or "Stored", values["customer_group"] or "Enterprise"]
        + [values[f] for f in ("website", "industry", "legal_name")]
        for i, values in enumerate(example["stored"])
    ]
    header = ["account_number", "name", "customer_group", "website", "industry", "legal_name"]
    base = write_csv(tmp_path / f"{prefix}base.csv", header, stored)
    assert run_import(base, "Account", db_url).exit_code == 0
    rows = [
        [f"{prefix}{key}", *(values[c] for c in example["columns"][1:])]
        for key, values in example["rows"]
    ]
    path = write_csv(tmp_path / f"{prefix}file.csv", example["columns"], rows)
    options = ["--mode", example["mode"], "--empty-cells", example["empty_cells"]]
    for name, policy in example["policies"].items():
        options += ["--policy", f"{name}={policy}"]
    for name in example["defaults"]:
        options += ["--default", f"{name}={DEFAULTS[name]}"]
    before = accounts(db_url, prefix)
    change_file = tmp_path / f"{prefix}changes.csv"

    run = run_import(path, "Account", db_url, *options, "--changes", change_file)

    assert run.exit_code in (0, 1, 2), run.stderr
    if run.exit_code == 2:  # a required column neither in the file nor defaulted
        assert "required columns missing" in run.stderr
        assert accounts(db_url, prefix) == before
        return
    assert replayed(before, change_file) == accounts(db_url, prefix)
    counted = sum(run.report["fields_changed"].values())
    with change_file.open(newline="", encoding="utf-8") as handle:
        updated_lines = sum(1 for line in csv.DictReader(handle) if line["action"] == "updated")
    assert counted == updated_lines  # each updated field of a row, counted once
