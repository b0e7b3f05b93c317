"""The export writers: exact bytes for the text formats, and what the readers read back."""

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custimport.io.formats import open_source
from custimport.io.writers import (
    FORMATS,
    UnwritableValueError,
    format_for,
    misleading_name,
    write_rows,
)

COLUMNS = ("number", "name", "note")


def written(fmt: str, rows: list[tuple[str | None, ...]]) -> bytes:
    out = io.BytesIO()
    write_rows(fmt, out, COLUMNS, rows)
    return out.getvalue()


def read_back(fmt: str, data: bytes) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"out.{fmt}"
        path.write_bytes(data)
        with open_source(path) as source:
            assert source.info.format == fmt
            rows = list(source)
    assert all(row.error is None for row in rows), [row.error for row in rows]
    return [row.values for row in rows]


def test_csv_is_utf8_without_bom_with_newline_endings_and_empty_cells_for_null() -> None:
    data = written("csv", [("00123", 'Quote "Q", Ltd', None), ("2", "Zoë\nline two", "")])
    assert data == ('number,name,note\n00123,"Quote ""Q"", Ltd",\n2,"Zoë\nline two",\n'.encode())


def test_a_row_holding_a_carriage_return_is_quoted_whole() -> None:
    data = written("csv", [("1", "a\rb", None), ("2", "plain", None)])
    assert data == b'number,name,note\n"1","a\rb",""\n2,plain,\n'
    assert read_back("csv", data)[0] == {"number": "1", "name": "a\rb", "note": ""}


def test_tsv_quotes_values_with_tabs() -> None:
    assert written("tsv", [("1", "a\tb", None)]) == b'number\tname\tnote\n1\t"a\tb"\t\n'


def test_json_is_an_array_with_one_object_a_line_and_null_for_null() -> None:
    data = written("json", [("1", "Zoë", None), ("2", "x", "y")])
    assert data.decode() == (
        '[\n{"number": "1", "name": "Zoë", "note": null},\n'
        '{"number": "2", "name": "x", "note": "y"}\n]\n'
    )
    assert written("json", []) == b"[]\n"


def test_jsonl_is_one_object_per_line() -> None:
    data = written("jsonl", [("1", "a\nb", None)])
    assert data == b'{"number": "1", "name": "a\\nb", "note": null}\n'
    assert written("jsonl", []) == b""  # JSON formats name columns only in their records


def test_without_rows_the_tabular_formats_still_write_the_header() -> None:
    assert written("csv", []) == b"number,name,note\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "empty.xlsx"
        path.write_bytes(written("xlsx", []))
        with open_source(path) as source:
            assert source.info.header == list(COLUMNS)


def test_xlsx_keeps_every_value_as_text() -> None:
    rows = [("00123", "=SUM(A1)", "#N/A"), ("2024-03-01", "1e5", None)]
    assert read_back("xlsx", written("xlsx", rows)) == [
        {"number": "00123", "name": "=SUM(A1)", "note": "#N/A"},
        {"number": "2024-03-01", "name": "1e5", "note": ""},
    ]


def test_xlsx_refuses_a_control_character_naming_row_and_column() -> None:
    with pytest.raises(UnwritableValueError, match=r"row 3, column 'note': the value holds"):
        written("xlsx", [("1", "ok", None), ("2", "ok", "bell\x07")])


@pytest.mark.parametrize(
    ("requested", "path", "expected"),
    [
        (None, None, "csv"),
        ("auto", Path("a.XLSX"), "xlsx"),
        (None, Path("a.ndjson"), "jsonl"),
        (None, Path("a.tab"), "tsv"),
        (None, Path("a.dat"), "csv"),
        ("JSON", Path("a.csv"), "json"),
    ],
)
def test_the_format_is_the_option_else_the_extension_else_csv(
    requested: str | None, path: Path | None, expected: str
) -> None:
    assert format_for(requested, path) == expected


def test_a_name_is_misleading_only_when_import_would_read_another_format() -> None:
    assert misleading_name("json", Path("a.csv"))
    assert not misleading_name("tsv", Path("a.csv"))  # the delimiter is sniffed
    assert not misleading_name("xlsx", Path("a.csv"))  # a workbook is known by its content
    assert not misleading_name("json", Path("a.out"))


# Text as it can sit in the database: no NUL or lone surrogates (the readers refuse them), no
# other control characters (XLSX cannot hold them) and no \r (XLSX turns it into \n).
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(',;"\t\n|= #'),
    min_size=1,
    max_size=20,
)
ROWS = st.lists(st.tuples(TEXT, TEXT, st.none() | TEXT), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(rows=ROWS, fmt=st.sampled_from(FORMATS))
def test_every_format_reads_back_as_the_text_written(
    rows: list[tuple[str, str, str | None]], fmt: str
) -> None:
    expected = [dict(zip(COLUMNS, (v or "" for v in row), strict=True)) for row in rows]
    assert read_back(fmt, written(fmt, rows)) == expected
