"""Randomly damaged files never make the import lie or change a value (SPEC §12.1-2).

Hypothesis writes a small valid file (CSV, JSON or JSON Lines; customer groups or accounts),
damages it (bytes flipped or inserted, among them 0xFF and NUL; a cut at any point; a value
nested thousands of levels deep; a key given twice) and runs the installed command on a
fresh SQLite copy. Whatever the damage:

- exit 0, 1 or 2, never a traceback; exit 2 leaves the database as it was;
- otherwise the report adds up (read = created + updated + unchanged + skipped + failed),
  its counts are the database's, and every failed row has its entry in the error log;
- every value stored is a documented transformation of some cell of the damaged file: the
  trimmed text of a cell as a CSV reader or a strict JSON parser reads it (group_type upper
  case), never text that no reader could have found there (a replacement character for an
  undecodable byte, a NUL, a flattened nested value, either value of a key given twice).

Bounded to run in seconds: 25 examples, SQLite only (the engines are compared elsewhere).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_files import text_file
from fault_support import (
    MODEL_TABLE,
    Dump,
    assert_failed_rows_logged,
    assert_no_traceback,
    assert_one_error_line,
    assert_report_matches_db,
    dump,
    import_args,
    parsed_report,
    run_command,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import GROUPS_HEADER
from hostile_support import fresh_copy, migrated_sqlite

ACCOUNT_FIELDS = ("account_number", "name", "customer_group", "website")
GROUP_FIELDS = tuple(GROUPS_HEADER)
TEXT = "abcxyzABCXYZ0123456789 äöüéßÅ-&."
GENERATED_NUMBER = re.compile(r"AUTO-[0-9A-F]{20}")
DAMAGE_BYTES = [b"\xff", b"\x00", b"\x80", b"\xc3", b'"', b",", b"\n", b"\r", b"{", b"}"]
DAMAGE_BYTES += [b"[", b"]", b":", b" ", b"\\", b"x", b"\xe9", b"\xef\xbb\xbf"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding Retail, Enterprise and Partners, copied per example."""
    return migrated_sqlite(tmp_path_factory.mktemp("damage-template"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("damage")


def cells() -> st.SearchStrategy[str]:
    return st.text(TEXT, min_size=1, max_size=16).filter(str.strip)


def group_record() -> st.SearchStrategy[dict[str, str]]:
    types = st.sampled_from(["BUSINESS", "INDIVIDUAL", "business", " Individual "])
    return st.fixed_dictionaries({"name": cells(), "group_type": types})


def account_record() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {
            "account_number": st.text("ABCZ0129-", min_size=1, max_size=10),
            "name": cells(),
            "customer_group": st.sampled_from(["Enterprise", "partners", "Retail"]),
            "website": st.sampled_from(["", "example.com", "www.example.org"]),
        }
    )


@st.composite
def valid_files(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(model, format, bytes) of a small valid file."""
    model = draw(st.sampled_from(["CustomerGroup", "Account"]))
    fmt = draw(st.sampled_from(["csv", "json", "jsonl"]))
    fields, record = (
        (GROUP_FIELDS, group_record())
        if model == "CustomerGroup"
        else (ACCOUNT_FIELDS, account_record())
    )
    records = draw(st.lists(record, min_size=1, max_size=8))
    return model, fmt, text_file(fmt, fields, records).data


Damage = tuple[Any, ...]


def damages() -> st.SearchStrategy[Damage]:
    where = st.floats(0, 1)
    return st.one_of(
        st.tuples(st.just("flip"), where, st.sampled_from(DAMAGE_BYTES)),
        st.tuples(st.just("insert"), where, st.lists(st.sampled_from(DAMAGE_BYTES), max_size=3)),
        st.tuples(st.just("truncate"), where),
        st.tuples(st.just("nest"), where, st.sampled_from([2, 40, 5_000, 200_000])),
        st.tuples(st.just("duplicate key"), where),
    )


def damaged(data: bytes, damage: Damage) -> bytes:
    """Apply one damage; `where` is a fraction of the length, so damages compose."""
    kind, where = damage[0], damage[1]
    at = int(where * len(data))
    if kind == "flip":
        return data[:at] + damage[2] + data[at + 1 :]
    if kind == "insert":
        return data[:at] + b"".join(damage[2]) + data[at:]
    if kind == "truncate":
        return data[:at]
    brace = data.find(b"{", at)
    brace = brace if brace >= 0 else data.find(b"{")
    if brace < 0:  # a CSV file: a column named twice, or a cell deeply bracketed
        if kind == "duplicate key":
            line_end = data.find(b"\n")
            return data[:line_end] + b",name" + data[line_end:] if line_end > 0 else data
        return data[:at] + b"[" * min(damage[2], 100) + data[at:]
    if kind == "duplicate key":
        return data[: brace + 1] + b'"name": "Twice", ' + data[brace + 1 :]
    depth = damage[2]
    return data[: brace + 1] + b'"name": ' + b"[" * depth + b"]" * depth + b", " + data[brace + 1 :]


# --- what a reader could find in the damaged file ---------------------------------------


def decodings(data: bytes) -> Iterator[str]:
    """The file as UTF-8 and as cp1252 (the SPEC's fallback), BOM removed."""
    for codec in ("utf-8", "cp1252"):
        yield data.removeprefix(b"\xef\xbb\xbf").decode(codec, errors="replace")


def found_cells(data: bytes, fmt: str) -> set[str]:
    """Every trimmed cell text a reader could have found; text a decoder had to replace
    (U+FFFD) is never a cell: its row must fail."""
    found: set[str] = set()
    for text in decodings(data):
        values = csv_cells(text) if fmt == "csv" else json_cells(text, fmt)
        found.update(value.strip() for value in values if "\ufffd" not in value)
    return found


def csv_cells(text: str) -> Iterator[str]:
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            yield from row
    except csv.Error:
        return


class _Refused(Exception):
    """An object with a key twice, or NaN/Infinity: the SPEC fails its row."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Refused
    return dict(pairs)


def _constant(name: str) -> float:
    raise _Refused


def json_cells(text: str, fmt: str) -> Iterator[str]:
    """Top-level string and number values of every object a strict JSON parser accepts
    without a key given twice or a NaN/Infinity (the SPEC fails those rows)."""
    for element in _json_elements(text, fmt):
        try:
            value = _CHECKING.decode(element)
        except (ValueError, RecursionError, _Refused):
            continue
        if isinstance(value, dict):
            yield from (cell for cell in map(_cell, value.values()) if cell is not None)


_CHECKING = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)
_PLAIN = json.JSONDecoder()


def _cell(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return None


def _json_elements(text: str, fmt: str) -> Iterator[str]:
    """The text of each element: each line of JSON Lines; each element of a JSON array up
    to the first that does not parse (reading stops there)."""
    if fmt == "jsonl":
        yield from text.splitlines()
        return
    position = text.find("[") + 1
    while 0 < position < len(text):
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            _, end = _PLAIN.raw_decode(text, position)
        except (ValueError, RecursionError):
            return
        yield text[position:end]
        position = end


# --- the property ----------------------------------------------------------------------------


def stored_texts(before: Dump, after: Dump, table: str) -> Iterator[tuple[str, Any]]:
    """(column, value) of every text the import wrote: new rows, and changed values."""
    columns = {
        "customer_group": ("name", "group_type"),
        "account": ("account_number", "name", "legal_name", None, None, "website"),
    }[table]
    for key, row in after[table].items():
        old = before[table].get(key)
        for index, column in enumerate(columns):
            if column is None or row[index] is None:
                continue
            if old is None or old[index] != row[index]:
                yield column, row[index]


def assert_only_documented_transformations(
    before: Dump, after: Dump, table: str, cells: set[str]
) -> None:
    for column, value in stored_texts(before, after, table):
        assert "\x00" not in value and "\ufffd" not in value, (column, value)
        if column == "group_type":
            assert value in {cell.upper() for cell in cells}, (column, value)
        elif column == "account_number" and GENERATED_NUMBER.fullmatch(value):
            continue
        else:
            assert value in cells, f"{column} {value!r} is no trimmed cell of the file"


# No shrinking: each example is a run of the real command, and shrinking one failure took
# five minutes. The examples are small (at most 8 records), so they read well unshrunk.
@settings(
    max_examples=15,  # each a run of the real command: the suite stays under 10 minutes
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(valid=valid_files(), harm=st.lists(damages(), min_size=1, max_size=3))
def test_a_randomly_damaged_file_never_makes_the_import_lie_or_change_a_value(
    template: Path, workspace: Path, valid: tuple[str, str, bytes], harm: list[Damage]
) -> None:
    check_damaged_file(template, workspace, valid, harm)


def check_damaged_file(
    template: Path, workspace: Path, valid: tuple[str, str, bytes], harm: list[Damage]
) -> None:
    """§12.1-2 for one damaged file, imported into a fresh copy of `template`."""
    model, fmt, data = valid
    for damage in harm:
        data = damaged(data, damage)
    folder = Path(tempfile.mkdtemp(dir=workspace))
    path = folder / f"input.{fmt}"
    path.write_bytes(data)
    db_url = fresh_copy(template, folder / "db.sqlite")
    before = dump(db_url)
    run = run_command(*import_args(path, model, db_url, "--error-log", folder))
    assert_no_traceback(run)
    assert run.exit_code in (0, 1, 2), (run.exit_code, run.stderr[-2000:])
    after = dump(db_url)
    if run.exit_code == 2:
        assert_one_error_line(run)
        assert after == before, "exit 2, yet the database changed"
        return
    report = parsed_report(run)
    assert_report_matches_db(report, before, after)
    assert report is not None
    assert_failed_rows_logged(report)
    if run.exit_code == 0:
        assert report["rows"]["failed"] == 0 and report["completed"], report
    table = MODEL_TABLE[model]
    assert_only_documented_transformations(before, after, table, found_cells(data, fmt))
